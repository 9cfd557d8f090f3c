// The random-actions workload from several workers at once on one peer (workers.hpp: threads,
// or processes forked after the peer was built). Every worker replays its own sequence and
// times each operation; throughput counts every worker's successful operations over the time
// from the common start to the last worker's end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "latency.hpp"
#include "peer.hpp"
#include "random_actions.hpp"
#include "workers.hpp"
#include "workloads.hpp"

namespace talc_bench {

namespace detail {

template <Peer P>
void worker(P& p, const std::vector<Action>& actions, std::uint64_t overhead, Worker& w) {
  std::vector<Live> live;
  live.reserve(1024);
  // An untimed pass first: the heap's pages are touched and its free lists shaped, so the
  // timed pass measures the allocator rather than the kernel's first-touch page faults.
  replay_on(p, actions, live);
  w.start();
  Histogram& h = w.hist();
  auto timed = [&](auto&& op) {
    const std::uint64_t t = ticks();
    auto r = op();
    const std::uint64_t dt = ticks() - t;
    h.add(dt > overhead ? dt - overhead : 0);
    return r;
  };
  w.finish(replay(
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
      live));
}

}  // namespace detail

// One worker per sequence, threads or processes.
template <Peer P>
Contention run_contention(P& p, bool processes, const std::vector<std::vector<Action>>& seqs,
                          std::uint64_t overhead) {
  return run_workers(processes, seqs.size(),
                     [&](Worker& w) { detail::worker(p, seqs[w.index], overhead, w); });
}

}  // namespace talc_bench
