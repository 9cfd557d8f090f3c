// The single-threaded workloads, written once for any Peer: random actions (operations per
// second), heap efficiency (share of the arena in live use at the first failure), and the
// allocate/free pair microbenchmark (mean cost and latency distribution, on a fresh heap or on
// one riddled with free chunks).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "latency.hpp"
#include "peer.hpp"
#include "random_actions.hpp"

namespace talc_bench {

struct Timed {
  std::size_t ops = 0;
  double seconds = 0;
};

// What the latency figures need to turn ticks into nanoseconds.
struct Clock {
  double ns_per_tick = 1;
  std::uint64_t overhead = 0;  // ticks a timed empty interval takes
  double ns(std::uint64_t t) const noexcept {
    return static_cast<double>(t > overhead ? t - overhead : 0) * ns_per_tick;
  }
};

// Nanoseconds.
struct PairStats {
  double mean = 0;  // per pair, one batch timed in thread CPU time (no per-pair clock reads)
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

// Keeps the compiler from proving a block unused and dropping an allocate/free pair.
inline void escape(void* p) noexcept {
  asm volatile("" : : "r"(p) : "memory");
}

template <Peer P>
std::size_t replay_on(P& p, const std::vector<Action>& actions, std::vector<Live>& live,
                      bool stop_on_failure = false) {
  return replay(
      actions, [&](std::size_t s, std::size_t a) noexcept { return p.allocate(s, a); },
      [&](void* q, std::size_t s, std::size_t a) noexcept { p.deallocate(q, s, a); },
      [&](void* q, std::size_t o, std::size_t s, std::size_t a) noexcept {
        return p.reallocate(q, o, s, a);
      },
      live, stop_on_failure);
}

template <Peer P>
Timed run_random(P& p, const std::vector<Action>& actions, std::vector<Live>& live) {
  const double t0 = thread_cpu_seconds();
  const std::size_t ops = replay_on(p, actions, live);
  return {ops, thread_cpu_seconds() - t0};
}

// Requested bytes of the live blocks over the arena, at the round's first failure.
template <Peer P>
double run_efficiency(P& p, const std::vector<Action>& round, std::size_t arena,
                      std::vector<Live>& live) {
  replay_on(p, round, live, true);
  std::uint64_t requested = 0;
  for (const Live& b : live) requested += b.size;
  for (const Live& b : live) p.deallocate(b.p, b.size, b.align);
  live.clear();
  return static_cast<double>(requested) / static_cast<double>(arena);
}

struct PairPlan {
  std::size_t batch;  // pairs timed together for the mean
  std::size_t timed;  // pairs timed one by one for the distribution
};

template <Peer P>
PairStats run_pairs(P& p, std::size_t size, const PairPlan& plan, const Clock& clk,
                    std::vector<std::uint64_t>& samples) {
  PairStats s;
  const std::size_t align = 8;
  for (std::size_t i = 0; i < 1000; ++i) {  // warm the path and the allocator's caches
    void* q = p.allocate(size, align);
    escape(q);
    if (q != nullptr) p.deallocate(q, size, align);
  }
  const double t0 = thread_cpu_seconds();
  for (std::size_t i = 0; i < plan.batch; ++i) {
    void* q = p.allocate(size, align);
    escape(q);
    if (q != nullptr) p.deallocate(q, size, align);
  }
  s.mean = (thread_cpu_seconds() - t0) * 1e9 / static_cast<double>(plan.batch);
  samples.clear();
  for (std::size_t i = 0; i < plan.timed; ++i) {
    const std::uint64_t a = ticks();
    void* q = p.allocate(size, align);
    escape(q);
    if (q != nullptr) p.deallocate(q, size, align);
    samples.push_back(ticks() - a);
  }
  s.p50 = clk.ns(exact_quantile(samples, 0.5));
  s.p99 = clk.ns(exact_quantile(samples, 0.99));
  s.p999 = clk.ns(exact_quantile(samples, 0.999));
  s.max = clk.ns(exact_quantile(samples, 1.0));
  return s;
}

// 64-byte pairs on a heap holding `holes` free chunks between live blocks: 2 * holes blocks of
// 16 to 512 bytes are allocated and every other one freed, so that no two holes can merge.
template <Peer P>
PairStats run_fragmented(P& p, std::size_t holes, const PairPlan& plan, const Clock& clk,
                         std::vector<std::uint64_t>& samples) {
  Draw d(holes + 1);
  std::vector<Live> blocks;
  blocks.reserve(2 * holes);
  for (std::size_t i = 0; i < 2 * holes; ++i) {
    const auto size = static_cast<std::uint32_t>(d.uniform(16, 512));
    void* q = p.allocate(size, 8);
    if (q == nullptr) break;
    blocks.push_back({q, size, 8});
  }
  // Every other block in address order is freed, from the highest address down, and at the end
  // the others from the lowest up: an allocator that keeps its free list in address order and
  // walks it from the lowest address on every free (simple_seq_fit) then finds each place at
  // once, instead of turning the setting up of 100 000 holes into minutes. The measured pairs
  // are the same either way.
  std::sort(blocks.begin(), blocks.end(), [](const Live& a, const Live& b) {
    return reinterpret_cast<std::uintptr_t>(a.p) > reinterpret_cast<std::uintptr_t>(b.p);
  });
  for (std::size_t i = 0; i < blocks.size(); i += 2) p.deallocate(blocks[i].p, blocks[i].size, 8);
  const PairStats s = run_pairs(p, 64, plan, clk, samples);
  for (std::size_t i = blocks.size(); i-- > 0;)
    if (i % 2 == 1) p.deallocate(blocks[i].p, blocks[i].size, 8);
  return s;
}

}  // namespace talc_bench
