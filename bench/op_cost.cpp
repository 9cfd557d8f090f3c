// talc_op_cost: one peer, one workload, in a function of its own, so that an instruction
// counter can be pointed at exactly that work and divided by the operations it ran:
//
//   valgrind --tool=callgrind --toggle-collect='*measured*' talc_op_cost talc pair64 100000
//
// Workloads: pair64 (allocate and free 64 bytes, one pair per operation), random (the
// random-actions sequence, max size 1000), random:MAX (another max size) and realloc:MAX (the
// sequence with reallocation); `lock` measures the face's heap lock alone (an uncontended lock
// and unlock, `--toggle-collect='*measured_lock*'`). Prints the
// operations it ran; the counts come from the tool. This is how BENCHMARKS.md explains a gap
// instead of guessing at it.
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "peer_boost.hpp"
#include "peer_malloc.hpp"
#include "peer_talc.hpp"
#include "random_actions.hpp"
#include "workloads.hpp"

namespace {

using namespace talc_bench;

template <Peer P>
[[gnu::noinline]] std::size_t measured(P& p, std::string_view work, std::size_t n,
                                       const std::vector<Action>& actions,
                                       std::vector<Live>& live) {
  if (work == "pair64") {
    for (std::size_t i = 0; i < n; ++i) {
      void* q = p.allocate(64, 8);
      escape(q);
      p.deallocate(q, 64, 8);
    }
    return n;
  }
  return replay_on(p, actions, live);
}

// An uncontended lock and unlock of the heap's lock, as every call of the face takes it.
[[gnu::noinline]] std::size_t measured_lock(TalcFacePeer& p, std::size_t n) {
  auto& h = p.heap().heap();
  for (std::size_t i = 0; i < n; ++i) {
    if (h.lock().lock() != talc::LockOutcome::acquired) return i;
    h.lock().unlock();
  }
  return n;
}

int run_lock(std::size_t n) {
  TalcFacePeer p(std::size_t{1} << 20);
  measured_lock(p, n);
  std::printf("talc lock: %zu lock and unlock pairs measured (the second of two passes)\n",
              measured_lock(p, n));
  return 0;
}

template <Peer P>
int run(std::string_view work, std::size_t n) {
  P p(std::size_t{128} << 20);
  std::uint32_t max = 1000;
  if (const auto colon = work.find(':'); colon != std::string_view::npos)
    max = static_cast<std::uint32_t>(std::atoi(work.data() + colon + 1));
  const auto actions = random_actions(n, max, max, work.starts_with("realloc"));
  std::vector<Live> live;
  live.reserve(4096);
  measured(p, work, n, actions, live);  // warm: pages touched, caches and lists shaped
  const std::size_t ops = measured(p, work, n, actions, live);
  std::printf("%s %.*s: %zu operations measured (the second of two identical passes)\n",
              P::kInfo.name, static_cast<int>(work.size()), work.data(), ops);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view work = argc == 4 ? argv[2] : "";
  if (argc != 4 || (work != "pair64" && work != "lock" && !work.starts_with("random") &&
                    !work.starts_with("realloc:"))) {
    std::fprintf(stderr,
                 "usage: talc_op_cost PEER pair64|random|random:MAX|realloc:MAX N\n"
                 "       talc_op_cost talc lock N   (the heap's lock alone)\n"
                 "  PEER: talc talc_core boost_rbtree boost_seqfit glibc mimalloc jemalloc\n"
                 "        talc_nolanes (the face with lanes off: every call takes the lock)\n"
                 "        talc_core_unjournaled (the core without its journal: what it costs)\n");
    return 2;
  }
  const std::string_view peer = argv[1];
  const std::size_t n = std::strtoull(argv[3], nullptr, 10);
  if (work == "lock") {
    if (peer != "talc") return std::fprintf(stderr, "talc_op_cost: lock is talc's alone\n"), 2;
    return run_lock(n);
  }
  if (peer == "talc") return run<TalcFacePeer>(work, n);
  if (peer == "talc_nolanes") return run<BasicTalcFacePeer<SmallBlocks::none>>(work, n);
  if (peer == "talc_core") return run<TalcCorePeer>(work, n);
  if (peer == "talc_core_unjournaled") return run<BasicTalcCorePeer<false>>(work, n);
  if (peer == "boost_rbtree") return run<BoostRbtreePeer>(work, n);
  if (peer == "boost_seqfit") return run<BoostSeqFitPeer>(work, n);
  if (peer == "glibc") return run<GlibcPeer>(work, n);
  if (peer == "mimalloc") return run<MimallocPeer>(work, n);
  if (peer == "jemalloc") return run<JemallocPeer>(work, n);
  std::fprintf(stderr, "talc_op_cost: unknown peer %s\n", argv[1]);
  return 2;
}
