// Boost.Interprocess's two memory algorithms, instantiated for the benchmark driver (a file of
// their own: Boost's headers are the slowest part of the build).
#include "bench.hpp"
#include "peer_boost.hpp"

namespace talc_bench {

void add_boost_peers(std::vector<std::unique_ptr<Bench>>& list, std::size_t arena) {
  list.push_back(std::make_unique<BenchOf<BoostRbtreePeer>>(arena));
  list.push_back(std::make_unique<BenchOf<BoostSeqFitPeer>>(arena));
}

}  // namespace talc_bench
