// Timing single operations: the time-stamp counter, its rate in nanoseconds, and a histogram of
// latencies that workers (threads or forked processes) fill without allocating and that merges.
//
// steady_clock costs tens of nanoseconds per read, as much as the operations measured; the TSC
// costs a few, runs at a constant rate on every core of the machines this targets
// (constant_tsc, nonstop_tsc) and is shared across processes, so one calibration serves all.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace talc_bench {

// A counter read ordered after the operations before it, so it does not run ahead of them.
inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

inline double now_seconds() noexcept {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds of CPU this thread has used (user and kernel, page faults included). The single-thread
// workloads are timed with it: on a machine shared with other work, the time this thread spent
// waiting for a CPU is not the allocator's.
inline double thread_cpu_seconds() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Nanoseconds per tick, measured against steady_clock over `ms` milliseconds.
inline double calibrate_ns_per_tick(int ms = 50) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t k0 = ticks();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(ms)) {
  }
  const std::uint64_t k1 = ticks();
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  return ns / static_cast<double>(k1 - k0);
}

// The smallest interval two back-to-back reads give: the cost of the measurement itself, which
// the latency figures subtract.
inline std::uint64_t tick_overhead() {
  std::uint64_t best = ~std::uint64_t{0};
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t a = ticks();
    const std::uint64_t b = ticks();
    best = std::min(best, b - a);
  }
  return best;
}

// Log-linear buckets: 16 per power of two, so every quantile is within about 6% of the truth.
// Fixed size and trivially copyable, so a forked worker can write one into shared memory.
class Histogram {
 public:
  static constexpr int kSub = 16;
  static constexpr int kBuckets = 64 * kSub;

  void add(std::uint64_t v) noexcept {
    ++counts_[bucket(v)];
    ++n_;
    max_ = std::max(max_, v);
  }
  void merge(const Histogram& o) noexcept {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    n_ += o.n_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const noexcept { return n_; }
  std::uint64_t max() const noexcept { return max_; }
  // The value at quantile q in [0, 1]: the middle of the bucket the q-th sample falls in.
  std::uint64_t quantile(double q) const noexcept {
    if (n_ == 0) return 0;
    const auto want = static_cast<std::uint64_t>(q * static_cast<double>(n_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= want) return std::min(middle(i), max_);
    }
    return max_;
  }

 private:
  static int bucket(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<int>(v);
    const int hi = std::bit_width(v) - 1;  // >= 4
    const int sub = static_cast<int>((v >> (hi - 4)) & (kSub - 1));
    return std::min((hi - 3) * kSub + sub, kBuckets - 1);
  }
  static std::uint64_t middle(int b) noexcept {
    if (b < kSub) return static_cast<std::uint64_t>(b);
    const int hi = b / kSub + 3;
    const std::uint64_t lo = (std::uint64_t{1} << hi) | (std::uint64_t(b % kSub) << (hi - 4));
    return lo + (std::uint64_t{1} << (hi - 4)) / 2;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t n_ = 0;
  std::uint64_t max_ = 0;
};

// Exact quantiles of a sample (sorts it).
inline std::uint64_t exact_quantile(std::vector<std::uint64_t>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace talc_bench
