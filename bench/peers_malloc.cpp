// glibc malloc, mimalloc and jemalloc, instantiated for the benchmark driver.
#include "bench.hpp"
#include "peer_malloc.hpp"

namespace talc_bench {

void add_malloc_peers(std::vector<std::unique_ptr<Bench>>& list, std::size_t arena) {
  list.push_back(std::make_unique<BenchOf<GlibcPeer>>(arena));
  list.push_back(std::make_unique<BenchOf<MimallocPeer>>(arena));
  list.push_back(std::make_unique<BenchOf<JemallocPeer>>(arena));
}

}  // namespace talc_bench
