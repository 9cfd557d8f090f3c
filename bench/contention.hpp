// The random-actions workload from several workers at once on one peer: threads of this
// process, or processes forked after the peer was built (a shared heap for the region peers; a
// private copy each for the process-local mallocs). Every worker replays its own sequence and
// times each operation; throughput counts every worker's successful operations over the time
// from the common start to the last worker's end.
#pragma once

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "latency.hpp"
#include "peer.hpp"
#include "random_actions.hpp"
#include "workloads.hpp"

namespace talc_bench {

struct Contention {
  std::size_t ops = 0;
  double seconds = 0;
  Histogram ticks;  // per operation, overhead subtracted
  bool ok = true;   // every worker ran to its end
};

namespace detail {

// Lives in anonymous shared memory when the workers are processes, so it holds no pointers.
struct alignas(64) Slot {
  Histogram hist;
  std::uint64_t ops = 0;
  double end = 0;
  std::uint32_t done = 0;
};
struct alignas(64) Board {
  std::atomic<std::uint32_t> ready{0};
  std::atomic<std::uint32_t> go{0};
};

template <Peer P>
void worker(P& p, const std::vector<Action>& actions, std::uint64_t overhead, Board& board,
            Slot& slot) {
  std::vector<Live> live;
  live.reserve(1024);
  // An untimed pass first: the heap's pages are touched and its free lists shaped, so the
  // timed pass measures the allocator rather than the kernel's first-touch page faults.
  replay_on(p, actions, live);
  board.ready.fetch_add(1);
  while (board.go.load(std::memory_order_acquire) == 0) sched_yield();
  Histogram& h = slot.hist;
  auto timed = [&](auto&& op) {
    const std::uint64_t t = ticks();
    auto r = op();
    const std::uint64_t dt = ticks() - t;
    h.add(dt > overhead ? dt - overhead : 0);
    return r;
  };
  slot.ops = replay(
      actions,
      [&](std::size_t s, std::size_t a) { return timed([&] { return p.allocate(s, a); }); },
      [&](void* q, std::size_t s, std::size_t a) {
        timed([&] {
          p.deallocate(q, s, a);
          return 0;
        });
      },
      [&](void* q, std::size_t o, std::size_t s, std::size_t a) {
        return timed([&] { return p.reallocate(q, o, s, a); });
      },
      live);
  slot.end = now_seconds();
  slot.done = 1;
}

template <class F>
Contention gather(Board& board, Slot* slots, std::size_t n, F&& start_and_wait) {
  while (board.ready.load() < n) sched_yield();
  const double t0 = now_seconds();
  board.go.store(1, std::memory_order_release);
  start_and_wait();
  Contention c;
  double end = t0;
  for (std::size_t i = 0; i < n; ++i) {
    c.ok = c.ok && slots[i].done == 1;
    c.ops += slots[i].ops;
    c.ticks.merge(slots[i].hist);
    end = std::max(end, slots[i].end);
  }
  c.seconds = end - t0;
  return c;
}

}  // namespace detail

template <Peer P>
Contention run_threads(P& p, const std::vector<std::vector<Action>>& seqs, std::uint64_t overhead) {
  detail::Board board;
  std::vector<detail::Slot> slots(seqs.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seqs.size(); ++i)
    threads.emplace_back([&, i] { detail::worker(p, seqs[i], overhead, board, slots[i]); });
  return detail::gather(board, slots.data(), seqs.size(), [&] {
    for (auto& t : threads) t.join();
  });
}

template <Peer P>
Contention run_processes(P& p, const std::vector<std::vector<Action>>& seqs,
                         std::uint64_t overhead) {
  const std::size_t n = seqs.size();
  const std::size_t bytes = sizeof(detail::Board) + n * sizeof(detail::Slot);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  auto* board = ::new (mem) detail::Board;
  auto* slots = ::new (static_cast<std::byte*>(mem) + sizeof(detail::Board)) detail::Slot[n];
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      detail::worker(p, seqs[i], overhead, *board, slots[i]);
      ::_exit(0);  // no destructors: the peer's heap belongs to the parent
    }
    if (pid < 0) {
      board->ready.fetch_add(1);  // a worker that will never come
      continue;
    }
    pids.push_back(pid);
  }
  Contention c = detail::gather(*board, slots, n, [&] {
    for (const pid_t pid : pids) ::waitpid(pid, nullptr, 0);
  });
  ::munmap(mem, bytes);
  return c;
}

}  // namespace talc_bench
