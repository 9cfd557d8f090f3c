// This project's heap, face and core, instantiated for the benchmark driver.
#include "bench.hpp"
#include "peer_talc.hpp"

namespace talc_bench {

void add_talc_peers(std::vector<std::unique_ptr<Bench>>& list, std::size_t arena) {
  list.push_back(std::make_unique<BenchOf<TalcFacePeer>>(arena));
  list.push_back(std::make_unique<BenchOf<BasicTalcFacePeer<SmallBlocks::none>>>(arena));
  list.push_back(std::make_unique<BenchOf<TalcCorePeer>>(arena));
}

}  // namespace talc_bench
