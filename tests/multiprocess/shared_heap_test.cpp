// The shared heap with real processes: fork and fork+exec workers on one heap, two mappings in
// one process, and a process killed while it holds the lock.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/exchange.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;
using talc_test::Exchange;

// A request too large for a lane: it takes the heap's lock, and meets what a dead holder left.
constexpr std::size_t kLocked = talc::PageConfig::kMaxRequest + 1;

class SharedHeap : public ::testing::Test {
 protected:
  void TearDown() override { MapTalc<>::remove_shm(name_); }

  MapTalc<> Create(std::size_t size = 32 << 20) { return MapTalc<>::create_shm(name_, size); }

  // After the workers: only the exchange itself is live; then nothing is.
  static void ExpectFullyAccounted(MapTalc<>& heap, Exchange* ex) {
    EXPECT_EQ(ex->damaged.load(), 0u);
    EXPECT_EQ(ex->refused.load(), 0u);
    EXPECT_EQ(ex->allocated.load(), ex->freed.load());
    EXPECT_GT(ex->freed_foreign.load(), 0u) << "no block was freed by another process";
    const talc::CheckReport rep = heap.check();
    EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
    EXPECT_EQ(heap.census().live_chunks, 1u);
    EXPECT_EQ(heap.destroy(ex), Errc::ok);
    // The lanes of the workers (dead by now) and this thread's cache their last frees.
    EXPECT_EQ(heap.trim(), Errc::ok);
    const talc::Census c = heap.census();
    EXPECT_EQ(c.live_chunks, 0u);
    EXPECT_EQ(c.free_chunks, 1u);
    EXPECT_EQ(c.free_bytes, heap.heap().meta().capacity() - heap.heap().table_chunk() -
                                heap.heap().page_table_chunk())
        << "everything but the lane and page tables is free";
  }

  std::string name_ = talc_test::UniqueShmName("shared");
};

TEST_F(SharedHeap, ForkedWorkersAllocateExchangeAndFreeEachOthersBlocks) {
  constexpr unsigned kWorkers = 6;
  auto heap = Create();
  auto* ex = heap.construct<Exchange>();
  heap.set_root(heap.offset_of(ex));
  std::vector<pid_t> pids;
  for (unsigned id = 0; id < kWorkers; ++id)
    pids.push_back(talc_test::Spawn([&, id] {
      // A mapping of its own, at another address than the parent's.
      auto mine = MapTalc<>::open_shm(name_);
      auto* e = static_cast<Exchange*>(mine.address_of(mine.root()));
      talc_test::RunWorker(mine, *e, id, kWorkers, 20000, 1);
      return 0;
    }));
  for (pid_t pid : pids) EXPECT_EQ(talc_test::Wait(pid), 0);
  ExpectFullyAccounted(heap, ex);
}

TEST_F(SharedHeap, ExecedWorkersShareTheHeapByName) {
  constexpr unsigned kWorkers = 4;
  auto heap = Create();
  auto* ex = heap.construct<Exchange>();
  heap.set_root(heap.offset_of(ex));
  std::vector<pid_t> pids;
  for (unsigned id = 0; id < kWorkers; ++id) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string ids = std::to_string(id), n = std::to_string(kWorkers);
      ::execl(TALC_TEST_WORKER, TALC_TEST_WORKER, name_.c_str(), ids.c_str(), n.c_str(), "20000",
              "2", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) EXPECT_EQ(talc_test::Wait(pid), 0);
  ExpectFullyAccounted(heap, ex);
}

TEST_F(SharedHeap, TwoMappingsInOneProcessSeeOneHeap) {
  auto a = Create(1 << 20);
  talc::Mapping second = a.region().map_again();
  ASSERT_NE(second.base(), a.base());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(second.base()) % talc::kRegionAlign, 0u);
  auto b = talc::Talc<>::open(second.base(), second.size(), talc::OpenRole::attach);

  const talc::Meta m = a.allocate(1000, 4096);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.ptr()) % 4096, 0u);
  std::memset(m.ptr(), 0x3c, 1000);
  const talc::Result<talc::Meta> seen = b.adopt(m.rel());
  ASSERT_TRUE(seen.ok()) << talc::describe(seen.error());
  EXPECT_NE(seen->ptr(), m.ptr());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(seen->ptr()) % 4096, 0u);  // alignment holds too
  EXPECT_EQ(std::memcmp(seen->ptr(), m.ptr(), 1000), 0);
  EXPECT_EQ(a.deallocate(*seen), Errc::foreign_pointer);  // b's handle, not a's
  EXPECT_EQ(b.deallocate(*seen), Errc::ok);
  EXPECT_EQ(b.adopt(m.rel()).error(), Errc::not_allocated);  // freed through b, seen by a
  EXPECT_TRUE(a.check().ok());
  EXPECT_EQ(b.trim(), Errc::ok);  // the block went to this thread's lane in b's mapping
  EXPECT_EQ(a.census().free_chunks, 1u);
}

TEST_F(SharedHeap, HandlesThatNameNoLiveBlockAreRefused) {
  auto heap = Create(1 << 20);
  const talc::Meta m = heap.allocate(100);
  std::memset(m.ptr(), 0, 100);  // so that an interior word reads as a freed tag, not by chance
  using talc::RelMeta;
  auto rel = [](std::uint64_t off, std::uint64_t size) {
    return RelMeta(talc::Rel<std::byte>::from_offset(off), size);
  };
  EXPECT_EQ(heap.adopt(RelMeta()).error(), Errc::null_pointer);
  EXPECT_EQ(heap.adopt(rel(m.offset, 1000)).error(), Errc::foreign_pointer);   // too long
  EXPECT_EQ(heap.adopt(rel(m.offset + 16, 10)).error(), Errc::not_allocated);  // interior (zeroed)
  EXPECT_EQ(heap.adopt(rel(heap.size() + 64, 10)).error(), Errc::foreign_pointer);
  EXPECT_EQ(heap.adopt(rel(8, 10)).error(), Errc::foreign_pointer);  // the header
  EXPECT_TRUE(heap.adopt(m.rel()).ok());
}

TEST_F(SharedHeap, AKilledLockHolderDoesNotStopTheOthers) {
  auto heap = Create(1 << 20);
  const talc::Meta before = heap.allocate(64);
  talc_test::Signal holding;
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);
    if (mine.heap().lock().lock() != talc::LockOutcome::acquired) return 1;
    holding.Notify();
    ::pause();  // holds the lock until killed
    return 0;
  });
  ASSERT_TRUE(holding.Await());
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(child, SIGKILL);
  EXPECT_EQ(talc_test::Wait(child), -SIGKILL);
  const talc::Result<talc::Meta> after = heap.try_allocate(kLocked);
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(after.ok()) << talc::describe(after.error());
  EXPECT_LT(waited, std::chrono::seconds(1));
  EXPECT_EQ(heap.recoveries(), 1u);  // it learnt that the holder died, and the heap was sound
  EXPECT_FALSE(heap.corrupted());
  EXPECT_EQ(heap.deallocate(before), Errc::ok);
  EXPECT_EQ(heap.deallocate(*after), Errc::ok);
  EXPECT_TRUE(heap.check().ok());
}

TEST_F(SharedHeap, AHolderThatDiesLeavingATornHeapGetsItMarkedCorruptedEverywhere) {
  auto heap = Create(1 << 20);
  auto other = MapTalc<>::open_shm(name_);          // a second opener, already attached
  const talc::Meta block = heap.allocate(kLocked);  // a core chunk: its tag is torn below
  talc_test::Signal holding;
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);
    if (mine.heap().lock().lock() != talc::LockOutcome::acquired) return 1;
    // Dies inside an operation on the block (its journal names the block, as the operation's
    // first write would) that tore the chunk above, which no roll-back can explain. Recovery
    // looks at what the journal names and their neighbours; a tear elsewhere, or with an empty
    // journal, is left to check().
    auto& meta = mine.heap().meta();
    auto* base = static_cast<std::byte*>(meta.address_of(0));
    const std::uint64_t tag = meta.offset_of(mine.address_of(block.offset)) - talc::kTagSize;
    const std::uint64_t journal = meta.journal_offset();
    talc::store_word(base, journal + 8, tag | talc::Journal::kChunkTag);
    talc::store_word(base, journal + 16, talc::load_word(base, tag));
    talc::store_word(base, journal, 1);
    talc::store_word(base, tag + talc::Tag{talc::load_word(base, tag)}.size(), 16);
    holding.Notify();
    ::pause();
    return 0;
  });
  ASSERT_TRUE(holding.Await());
  ::kill(child, SIGKILL);
  EXPECT_EQ(talc_test::Wait(child), -SIGKILL);

  EXPECT_EQ(heap.try_allocate(kLocked).error(), Errc::corrupted);
  EXPECT_TRUE(heap.corrupted());
  EXPECT_EQ(heap.header().state(), talc::InitState::corrupted);
  EXPECT_EQ(other.adopt(block.rel()).error(), Errc::corrupted);
  EXPECT_EQ(other.try_allocate(8).error(), Errc::corrupted);
  EXPECT_EQ(other.deallocate(block.ptr()), Errc::corrupted);  // refused before any check
  EXPECT_EQ(heap.deallocate(block), Errc::corrupted);
  try {
    MapTalc<>::open_shm(name_);
    ADD_FAILURE() << "a corrupted heap was opened";
  } catch (const talc::OpenError& e) {
    EXPECT_EQ(e.code(), make_error_code(Errc::corrupted));
  }
}

}  // namespace
