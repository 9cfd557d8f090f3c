// Several workers on one peer at once: threads of this process, or processes forked after the
// peer was built. The region peers then serve every process from one heap, mapped at the same
// address in each, so a block allocated by one worker can be freed by another; the
// process-local mallocs give each process a private copy of their heap. Every worker prepares
// untimed, all start together, and a run's figures count from that common start to the last
// worker's end. The random-actions contention (contention.hpp) and the multi-worker patterns
// (patterns.hpp) run on it.
#pragma once

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <thread>
#include <type_traits>
#include <vector>

#include "latency.hpp"
#include "talc/sync/region_lock.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace talc_bench {

struct Contention {
  std::size_t ops = 0;
  double seconds = 0;
  Histogram ticks;  // per operation, overhead subtracted; empty where nothing is timed alone
  bool ok = true;   // every worker ran to its end and found what it expected
  // The workers' time holding a region lock over their time, all workers together: measured
  // where talc::RegionLock::kTimesHolds (the lockshare preset), 0 otherwise.
  double lock_share = 0;
};

// `n` objects in anonymous shared memory, made before the workers start: a forked worker
// inherits them at the same address, so they are one set for every worker, threads or
// processes. What they hold must therefore be valid in every worker: no pointer to memory of one
// process, only to the shared heap (at the same address everywhere) or to more of this memory.
template <class T>
class SharedArray {
  static_assert(std::is_trivially_destructible_v<T>, "unmapped without destructors");

 public:
  explicit SharedArray(std::size_t n) : bytes_(std::max<std::size_t>(1, n) * sizeof(T)) {
    void* m = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(m);
    for (std::size_t i = 0; i < n; ++i) ::new (data_ + i) T;
  }
  ~SharedArray() { ::munmap(data_, bytes_); }
  SharedArray(const SharedArray&) = delete;
  SharedArray& operator=(const SharedArray&) = delete;

  T& operator[](std::size_t i) noexcept { return data_[i]; }
  T* data() noexcept { return data_; }

 private:
  std::size_t bytes_;
  T* data_;
};

// Waits for `done()`: a short spin, then yielding the CPU, as more workers than cores may run.
template <class Done>
void wait_until(Done&& done) noexcept {
  for (int spins = 0; !done(); ++spins) {
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
    } else {
      sched_yield();
    }
  }
}

namespace detail {

struct alignas(64) Slot {
  Histogram hist;
  std::uint64_t ops = 0;
  double end = 0;
  std::uint32_t done = 0;
  std::uint64_t own_ticks = 0, held_ticks = 0;  // the worker's timed part, and its lock holds
};
struct alignas(64) Board {
  std::atomic<std::uint32_t> ready{0};
  std::atomic<std::uint32_t> go{0};
};

template <class F>
Contention gather(Board& board, Slot* slots, std::size_t n, F&& wait_for_all) {
  wait_until([&] { return board.ready.load() >= n; });
  const double t0 = now_seconds();
  board.go.store(1, std::memory_order_release);
  wait_for_all();
  Contention c;
  double end = t0;
  std::uint64_t own = 0, held = 0;
  for (std::size_t i = 0; i < n; ++i) {
    c.ok = c.ok && slots[i].done == 1;
    c.ops += slots[i].ops;
    c.ticks.merge(slots[i].hist);
    end = std::max(end, slots[i].end);
    own += slots[i].own_ticks;
    held += slots[i].held_ticks;
  }
  c.seconds = end - t0;
  if (own != 0) c.lock_share = static_cast<double>(held) / static_cast<double>(own);
  return c;
}

}  // namespace detail

// One worker's part in a run: its index (0 to n - 1), start() once its untimed preparation is
// done (it returns at the common start), its timed work, then finish() with the successful
// operations it counted and whether it found what it expected.
struct Worker {
  std::size_t index;
  detail::Board& board;
  detail::Slot& slot;

  void start() noexcept {
    board.ready.fetch_add(1);
    wait_until([&] { return board.go.load(std::memory_order_acquire) != 0; });
    slot.held_ticks = talc::RegionLock::held_ticks_by_this_thread();
    slot.own_ticks = talc::RegionLock::ticks();
  }
  Histogram& hist() noexcept { return slot.hist; }
  void finish(std::uint64_t ops, bool as_expected = true) noexcept {
    slot.own_ticks = talc::RegionLock::ticks() - slot.own_ticks;
    slot.held_ticks = talc::RegionLock::held_ticks_by_this_thread() - slot.held_ticks;
    slot.ops = ops;
    slot.end = now_seconds();
    slot.done = as_expected ? 1 : 2;
  }
};

// Runs work(Worker&) on `n` workers at once: threads, or processes forked now (each ends with
// _exit, no destructors: the peer's heap belongs to the parent). Whatever the workers share
// beyond the peer must be made before, in a SharedArray.
template <class Work>
Contention run_workers(bool processes, std::size_t n, Work&& work) {
  SharedArray<detail::Board> board(1);
  SharedArray<detail::Slot> slots(n);
  auto one = [&](std::size_t i) {
    Worker w{i, board[0], slots[i]};
    work(w);
  };
  std::vector<std::thread> threads;
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < n; ++i) {
    if (!processes) {
      threads.emplace_back(one, i);
      continue;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      one(i);
      ::_exit(0);
    }
    if (pid < 0) {
      board[0].ready.fetch_add(1);  // a worker that will never come
      continue;
    }
    pids.push_back(pid);
  }
  return detail::gather(board[0], slots.data(), n, [&] {
    for (auto& t : threads) t.join();
    for (const pid_t pid : pids) ::waitpid(pid, nullptr, 0);
  });
}

}  // namespace talc_bench
