// A worker process for the fork+exec tests: opens a shared heap by name and runs the exchange
// workload on it, as a program of its own would.
//
//   talc_test_worker SHM_NAME ID N OPS SEED
//   talc_test_worker wait-lock SHM_NAME FAULT WAIT_MS
//   talc_test_worker lanes-owned SHM_NAME
//
// wait-lock: a fresh process, every read of /proc whose path holds FAULT failing from its start
// (nothing it reads is inherited from a parent), asks for the heap's lock with that bound and
// writes its pattern (support/hold_log.hpp); the exit status is the Errc it got.
//
// lanes-owned: opens the heap and exits with the number of its lanes that have an owner (at
// most 100): what a program finds that another program of the same process (before an exec)
// left.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>

#include "support/exchange.hpp"
#include "support/hold_log.hpp"

namespace {

const char* g_fault = "";
bool FailMatching(const char* path) {
  return std::strstr(path, g_fault) != nullptr;
}

int WaitLock(const char* shm, const char* fault, long wait_ms) {
  g_fault = fault;
  talc::process_testing::fail_read = FailMatching;
  auto heap = talc::MapTalc<>::open_shm(shm, {.lock_wait = std::chrono::milliseconds(wait_ms)});
  auto* log = static_cast<talc_test::HoldLog*>(heap.address_of(heap.root()));
  return static_cast<int>(talc_test::EnterAndWrite(heap, *log));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 5 && std::string_view(argv[1]) == "wait-lock")
      return WaitLock(argv[2], argv[3], std::strtol(argv[4], nullptr, 10));
    if (argc == 3 && std::string_view(argv[1]) == "lanes-owned") {
      auto heap = talc::MapTalc<>::open_shm(argv[2]);
      return static_cast<int>(std::min<std::uint64_t>(heap.stats().lanes_owned, 100));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: %s\n", e.what());
    return 100;
  }
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
