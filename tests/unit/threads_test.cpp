// Threads of one process on one shared heap: the exchange workload with a thread per worker.
// The tsan preset runs this under ThreadSanitizer.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "support/exchange.hpp"
#include "talc/talc.hpp"

namespace {

TEST(Threads, WorkersOnOneHeapExchangeAndFreeEachOthersBlocks) {
  constexpr unsigned kWorkers = 4;
  auto heap = talc::MapTalc<>::anonymous(16 << 20);
  auto* ex = heap.construct<talc_test::Exchange>();
  std::vector<std::thread> threads;
  for (unsigned id = 0; id < kWorkers; ++id)
    threads.emplace_back([&, id] { talc_test::RunWorker(heap, *ex, id, kWorkers, 20000, 3); });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ex->damaged.load(), 0u);
  EXPECT_EQ(ex->refused.load(), 0u);
  EXPECT_EQ(ex->allocated.load(), ex->freed.load());
  EXPECT_GT(ex->freed_foreign.load(), 0u);
  EXPECT_EQ(heap.destroy(ex), talc::Errc::ok);
  EXPECT_TRUE(heap.check().ok());
  // A page that the last frees emptied after its thread ended stays with the lane until memory
  // runs short or trim() gives it back.
  EXPECT_EQ(heap.trim(), talc::Errc::ok);
  EXPECT_EQ(heap.census().free_chunks, 1u);
}

}  // namespace
