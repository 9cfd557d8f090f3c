// Regions that grow: a heap created with a maximum size takes more of its source when a
// request does not fit, in place, and every process that mapped it earlier uses the new bytes
// with nothing to do. At the maximum, requests fail cleanly.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

constexpr std::size_t kInitial = 1 << 20;
constexpr std::size_t kMax = 16 << 20;

class Growth : public ::testing::Test {
 protected:
  void TearDown() override {
    MapTalc<>::remove_shm(name_);
    std::remove(path_.c_str());
  }
  static talc::OpenOptions Max(std::size_t max) {
    talc::OpenOptions o;
    o.max_size = max;
    return o;
  }
  std::string name_ = talc_test::UniqueShmName("growth");
  std::string path_ = "/tmp/talc-growth-test-" + std::to_string(::getpid()) + ".heap";
};

TEST_F(Growth, ARequestThatDoesNotFitGrowsTheRegionInPlace) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Max(kMax));
  EXPECT_EQ(heap.max_size(), kMax);
  EXPECT_EQ(heap.current_size(), kInitial);
  std::byte* const base = heap.base();
  const talc::Meta small = heap.allocate(1000);
  std::memset(small.ptr(), 0x5A, 1000);

  const talc::Meta big = heap.allocate(3 << 20);  // three times the first size
  EXPECT_GT(heap.current_size(), kInitial);
  EXPECT_LE(heap.current_size(), kMax);
  EXPECT_EQ(heap.base(), base) << "growth moved the base";
  EXPECT_EQ(heap.region().source_size(), heap.current_size());
  std::memset(big.ptr(), 0x33, big.size);
  for (std::size_t i = 0; i < 1000; ++i)
    ASSERT_EQ(static_cast<unsigned char*>(small.ptr())[i], 0x5A) << "byte " << i;
  EXPECT_EQ(heap.stats().growths, 1u);
  EXPECT_EQ(heap.stats().failures, 0u) << "a request the growth served is no refusal";
  EXPECT_TRUE(heap.check().ok());
}

// One process grows the heap; another, which mapped it before, allocates in the new space and
// reads what the first wrote there, without remapping anything by hand.
TEST_F(Growth, AProcessThatMappedEarlierUsesTheNewSpace) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Max(kMax));
  talc_test::Signal opened, grown, done;
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);  // before the growth
    opened.Notify();
    if (!grown.Await()) return 2;
    // The block the parent put in the new space, read at this process's address.
    const std::uint64_t off = mine.root();
    const auto* p = static_cast<const unsigned char*>(mine.address_of(off));
    for (std::size_t i = 0; i < (2u << 20); i += 4096)
      if (p[i] != 0xC3) return 3;
    // Allocating here: the child's own requests land past the first size too.
    std::vector<talc::Meta> got;
    for (int i = 0; i < 8; ++i) got.push_back(mine.allocate(256 << 10));
    bool past_first = false;
    for (const talc::Meta& m : got) {
      if (m.offset + m.size > kInitial) past_first = true;
      std::memset(m.ptr(), 0x11, m.size);
    }
    for (const talc::Meta& m : got)
      if (mine.deallocate(m) != Errc::ok) return 4;
    done.Notify();
    return past_first && mine.check().ok() ? 0 : 5;
  });
  ASSERT_TRUE(opened.Await());
  const talc::Meta big = heap.allocate(2 << 20);  // grows the region
  ASSERT_GT(big.offset + big.size, kInitial);
  std::memset(big.ptr(), 0xC3, big.size);
  heap.set_root(big.offset);
  grown.Notify();
  EXPECT_TRUE(done.Await());
  EXPECT_EQ(talc_test::Wait(child), 0);
  EXPECT_TRUE(heap.check().ok());
}

TEST_F(Growth, AtTheMaximumRequestsFailCleanly) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Max(4 << 20));
  EXPECT_EQ(heap.try_allocate(8 << 20).error(), Errc::out_of_memory);
  EXPECT_THROW(heap.allocate(8 << 20), std::bad_alloc);
  EXPECT_LE(heap.current_size(), 4u << 20);
  // Fill it up to the maximum in steps; the last ones fail without harm.
  std::vector<talc::Meta> blocks;
  for (;;) {
    const auto r = heap.try_allocate(256 << 10);
    if (!r) {
      EXPECT_EQ(r.error(), Errc::out_of_memory);
      break;
    }
    blocks.push_back(*r);
  }
  EXPECT_EQ(heap.current_size(), 4u << 20);
  EXPECT_GE(blocks.size(), 12u);
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.failures, 3u);  // the two 8 MiB requests and the last one; none a growth served
  EXPECT_GE(s.growths, 1u);
  EXPECT_TRUE(heap.check().ok());
}

TEST_F(Growth, TheOutOfMemoryHandlerMayFreeAndRetry) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Max(2 << 20));
  talc::Meta cache = heap.allocate(1 << 20);  // something the handler can let go of
  int calls = 0;
  heap.on_out_of_memory([&](std::size_t size) {
    ++calls;
    EXPECT_EQ(size, std::size_t{1} << 20);
    if (cache.is_null()) return false;
    EXPECT_EQ(heap.deallocate(cache), Errc::ok);
    cache = talc::Meta{};
    return true;
  });
  const auto second = heap.try_allocate(1 << 20);
  EXPECT_TRUE(second.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(heap.try_allocate(1 << 20).error(), Errc::out_of_memory);  // nothing left to free
  EXPECT_EQ(calls, 2);
}

TEST_F(Growth, AGrownFileReopensAtAnotherAddressAndATruncatedOneIsRefused) {
  std::uint64_t off = 0;
  {
    auto heap = MapTalc<>::create_file(path_, kInitial, Max(kMax));
    const talc::Meta m = heap.allocate(3 << 20);
    std::memset(m.ptr(), 0x77, m.size);
    heap.set_root(m.offset);
    off = m.offset;
  }
  {
    auto again = MapTalc<>::open_file(path_);
    EXPECT_EQ(again.max_size(), kMax);
    EXPECT_GT(again.current_size(), kInitial);
    const auto got = again.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(off), 3 << 20));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->as<unsigned char>()[(3 << 20) - 1], 0x77);
    // It goes on growing from where it was.
    EXPECT_TRUE(again.try_allocate(6 << 20).ok());
    EXPECT_TRUE(again.check().ok());
  }
  ASSERT_EQ(::truncate(path_.c_str(), 2 << 20), 0);
  try {
    MapTalc<>::open_file(path_);
    ADD_FAILURE() << "a heap cut short of what it spans was opened";
  } catch (const talc::OpenError& e) {
    EXPECT_EQ(e.code(), talc::make_error_code(Errc::region_truncated)) << e.what();
  }
}

TEST_F(Growth, AMaximumBeyondWhatOffsetsDescribeIsRefused) {
  try {
    MapTalc<>::create_shm(name_, kInitial, Max(std::size_t{1} << 50));
    ADD_FAILURE() << "created";
  } catch (const talc::OpenError& e) {
    EXPECT_EQ(e.code(), talc::make_error_code(Errc::region_too_large)) << e.what();
  } catch (const talc::MapError&) {
    // Mapping so much address space may itself be refused first: also a clean refusal.
  }
}

TEST_F(Growth, ReallocationGrowsTheRegionToo) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Max(kMax));
  talc::Meta m = heap.allocate(100 << 10);
  std::memset(m.ptr(), 0x42, m.size);
  const auto r = heap.try_reallocate(m, 4 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as<unsigned char>()[(100 << 10) - 1], 0x42);
  EXPECT_GT(heap.current_size(), kInitial);
  // In-place calls on the face update the handle.
  talc::Meta n = *r;
  EXPECT_EQ(heap.try_shrink(n, 1000), Errc::ok);
  EXPECT_EQ(n.size, 1000u);
  EXPECT_EQ(heap.try_grow(n, 2000), Errc::ok);
  EXPECT_EQ(n.size, 2000u);
  EXPECT_EQ(n.offset, r->offset);
  EXPECT_EQ(heap.deallocate(n), Errc::ok);
  EXPECT_TRUE(heap.check().ok());
}

}  // namespace

namespace {

// A process must map all a heap may grow to: a shorter mapping is refused when it opens, since
// it could not follow the heap there; one that maps the maximum follows it.
TEST_F(Growth, AMappingShorterThanTheMaximumIsRefusedAtOpen) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Max(kMax));
  const talc::Mapping other = heap.region().map_again();  // kMax bytes of address space
  try {
    talc::Talc<>::open(other.base(), kInitial, talc::OpenRole::attach);
    ADD_FAILURE() << "opened through a mapping of the first size only";
  } catch (const talc::OpenError& e) {
    EXPECT_EQ(e.code(), talc::make_error_code(Errc::region_truncated)) << e.what();
  }
  auto mine = talc::Talc<>::open(other.base(), kInitial, talc::OpenRole::attach, {}, other.size());
  EXPECT_EQ(heap.deallocate(heap.allocate(4 << 20)), Errc::ok);  // grows past kInitial
  const auto m = mine.try_allocate(2 << 20);  // a plain Talc does not grow, but uses the growth
  ASSERT_TRUE(m.ok()) << talc::describe(m.error());
  EXPECT_GT(m->offset + m->size, kInitial);
  EXPECT_TRUE(heap.check().ok());
}

// The span and heap end are read from the region before every operation: a span past this
// process's mapping, or a heap end past the span, is refused without a byte being touched.
TEST_F(Growth, ASpanOrHeapEndBeyondTheMappingIsRefused) {
  auto heap = MapTalc<>::create_shm(name_, kInitial);
  std::byte* meta =
      heap.base() + talc::Talc<>::HeaderType::kBodyOffset + talc::Talc<>::Heap::kMetaOffset;
  // Requests too large for a lane: each takes the lock, where the span and end are read.
  constexpr std::size_t kLocked = talc::PageConfig::kMaxRequest + 1;
  const std::uint64_t span = talc::load_word(meta, 0);  // TalcMeta: span, heap start, end
  const std::uint64_t end = talc::load_word(meta, 16);
  talc::store_word(meta, 0, std::uint64_t{1} << 40);
  EXPECT_EQ(heap.try_allocate(kLocked).error(), Errc::region_truncated);
  talc::store_word(meta, 0, span);
  EXPECT_TRUE(heap.try_allocate(kLocked).ok());
  talc::store_word(meta, 16, span + 4096);
  EXPECT_EQ(heap.try_allocate(kLocked).error(), Errc::corrupted);
  talc::store_word(meta, 16, end);
  EXPECT_TRUE(heap.corrupted()) << "a torn heap end is damage every process must see";
}

}  // namespace

namespace {

// A growth on a full file system is a clean out_of_memory, not a SIGBUS when the new bytes are
// first touched: the source's new bytes get storage before the heap takes them. Needs a small
// file system of its own (a 1 MiB tmpfs), so it runs where this process may mount one.
TEST(GrowthOnAFullFileSystem, IsRefusedCleanly) {
  const std::string dir = "/tmp/talc-full-fs-" + std::to_string(::getpid());
  std::filesystem::create_directory(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    std::filesystem::remove(dir);
    GTEST_SKIP() << "cannot mount a small tmpfs here";
  }
  {
    talc::OpenOptions o;
    o.max_size = 16 << 20;
    auto heap = MapTalc<>::create_file(dir + "/heap", 256 << 10, o);
    std::ofstream(dir + "/filler") << std::string(700 << 10, 'x');  // most of what is left
    const auto r = heap.try_allocate(1 << 20);
    EXPECT_EQ(r.error(), Errc::out_of_memory);
    // What fits in the space that is there is still handed out, and usable.
    const auto small = heap.try_allocate(64 << 10);
    ASSERT_TRUE(small.ok());
    std::memset(small->ptr(), 0x5A, small->size);
    EXPECT_TRUE(heap.check().ok());
  }
  ::umount(dir.c_str());
  std::filesystem::remove(dir);
}

}  // namespace

namespace {

// The child's exit status, or -1000 when it has not ended within `limit`, then killed: a child
// stuck for good on a lock it inherited must fail the test, not hang it.
int WaitAtMost(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      talc_test::Wait(pid);
      return -1000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Another thread of the parent is inside Growers (a slow extend of another region) at the
// instant of the fork: the child still grows its heap.
TEST_F(Growth, AChildForkedWhileAnotherThreadGrowsCanGrow) {
  auto heap = MapTalc<>::create_shm(name_, kInitial, Max(kMax));
  const int other_region = 0;  // only its address matters: the key of a record of its own
  std::atomic<bool> inside{false};
  talc::Growers::add(&other_region, kMax, [&](std::size_t, std::size_t) {
    inside.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 0;
  });
  std::thread grower([&] { EXPECT_EQ(talc::Growers::extend(&other_region, 0, 1), 0); });
  while (!inside.load()) std::this_thread::yield();
  const pid_t child = talc_test::Spawn([&] {
    const auto m = heap.try_allocate(3 << 20);
    return m.ok() && heap.current_size() > kInitial && heap.check().ok() ? 0 : 1;
  });
  grower.join();
  talc::Growers::remove(&other_region);
  EXPECT_EQ(WaitAtMost(child, std::chrono::seconds(10)), 0)
      << "the child could not grow (-1000: it hung on the lock it inherited)";
}

}  // namespace
