// A thread whose last free comes from a pthread key destructor, as runtimes free their per-thread
// state: 100 such threads, then a fresh thread's 64-byte pairs, then the heap is closed. Prints
// the lanes owned after the threads (0 of them: every ended thread gave its lane back), the
// pair's time before and after, and "closed" when closing went well; exits 1 otherwise.
#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "talc/talc.hpp"

namespace {

std::optional<talc::MapTalc<>> heap;
pthread_key_t key;

double pair_ns() {
  double ns = 0;
  std::thread([&] {
    constexpr int kPairs = 1'000'000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kPairs; ++i) heap->deallocate(heap->allocate(64));
    ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
         kPairs;
  }).join();
  return ns;
}

std::uint64_t owned() {
  return heap->stats().lanes_owned;
}

}  // namespace

int main() {
  heap.emplace(talc::MapTalc<>::anonymous(64 << 20));
  ::pthread_key_create(&key, [](void* p) { (void)heap->deallocate(p); });
  const std::uint64_t lanes = heap->stats().lanes;
  const double before = pair_ns();
  std::printf("before: lanes owned %llu/%llu, pair %.1f ns\n",
              static_cast<unsigned long long>(owned()), static_cast<unsigned long long>(lanes),
              before);
  std::vector<std::thread> ts;
  for (int i = 0; i < 100; ++i)
    ts.emplace_back([] { ::pthread_setspecific(key, heap->allocate(64).ptr()); });
  for (std::thread& t : ts) t.join();
  const std::uint64_t after_threads = owned();
  const double after = pair_ns();
  std::printf(
      "after 100 threads freed from a key destructor: lanes owned %llu/%llu, pair %.1f ns\n",
      static_cast<unsigned long long>(after_threads), static_cast<unsigned long long>(lanes),
      after);
  const bool consistent = heap->check().ok();
  heap.reset();
  std::printf("closed\n");
  return after_threads == 0 && consistent ? 0 : 1;
}
