// A worker process for the fork+exec tests: opens a shared heap by name and runs the exchange
// workload on it, as a program of its own would.
//
//   talc_test_worker SHM_NAME ID N OPS SEED
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "support/exchange.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s SHM_NAME ID N OPS SEED\n", argv[0]);
    return 2;
  }
  try {
    auto heap = talc::MapTalc<>::open_shm(argv[1]);
    auto* ex = static_cast<talc_test::Exchange*>(heap.address_of(heap.root()));
    const auto id = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
    const auto n = static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10));
    talc_test::RunWorker(heap, *ex, id, n, std::strtoull(argv[4], nullptr, 10),
                         std::strtoull(argv[5], nullptr, 10));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: %s\n", e.what());
    return 1;
  }
  return 0;
}
