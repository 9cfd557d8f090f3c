// Death at every write of every page operation (pages/page.hpp, pages/page_table.hpp): for each
// operation and each write point k in it (the page's own stores and read-modify-writes, and the
// core's journalled ones under the lock), a forked child runs the operation on a heap with pages
// in shared memory and dies right after the k-th write. The parent then checks the heap as
// `talc check` would, without reclaiming the dead child's lane (the lock's recovery gives back a
// page the death orphaned); then does what any process would: trim() gives back the empty pages
// of lanes nobody owns, and the verdict is that check() passes and every block is accounted for:
// the ones the parent knows, and at most the one block the operation was moving, which is either
// free (before) or handed out in the dead child's hands (after). Every point, not a sample.
// Built with TALC_FAULT_INJECTION, which puts the hook in the writes.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/page_walk.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

constexpr std::uint64_t kNull = talc::Rel<std::byte>::kNull;
constexpr std::size_t kSize = 64;  // a request of the 80-byte class
constexpr std::uint64_t kClass = talc::PageConfig::class_of(80);

// What the child tells the parent, in memory they share.
struct Shared {
  std::uint64_t points = 0;     // write points passed so far
  std::uint64_t block = kNull;  // the block the operation moves, if known
  std::uint64_t known_count = 0;
  std::uint64_t known[4096] = {};  // blocks the child left handed out on purpose
  void keep(std::uint64_t offset) { known[known_count++] = offset; }
};

MapTalc<> Paged() {
  return MapTalc<>::anonymous(4 << 20);
}

std::byte* CoreOf(MapTalc<>& h) {
  return reinterpret_cast<std::byte*>(&h.heap().meta());
}
talc::PageLayout LayoutOf(MapTalc<>& h) {
  return h.heap().pages().geometry().layout(kClass);
}
// Blocks of the test's class in a page of this heap.
std::uint64_t PerPage(MapTalc<>& h) {
  return LayoutOf(h).blocks();
}
// The pages the table names, read without the lock.
std::uint64_t Pages(MapTalc<>& h) {
  return h.heap().pages().counts(CoreOf(h), h.heap().meta().heap_end_unlocked()).pages;
}
// The first page of lane `l`'s list for the test's class (index + 1, or 0).
std::uint64_t FirstPage(MapTalc<>& h, std::uint64_t l) {
  return talc::lane_load(h.heap().lane(l).first[kClass]);
}

// Forks a process that runs `run` and exits; waits for it.
void InAnotherProcess(const std::function<void()>& run) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    run();
    ::_exit(0);
  }
  ::waitpid(pid, nullptr, 0);
}

// A process that dies, holding the heap's lock, at the first write point of an operation where
// `at` is true: the hook's test, set from the process's own statics.
bool (*g_die_when)() = nullptr;
void DieWhen(bool (*at)()) {
  g_die_when = at;
  talc::fault::hook = [] {
    if (g_die_when()) ::_exit(0);
  };
}

struct PageCase {
  const char* name;
  std::uint64_t min_points;  // the writes the operation makes at least
  // Runs in the child: prepares (unhooked), then `arm()`, then the operation.
  std::function<void(MapTalc<>&, Shared&, const std::function<void()>& arm)> run;
};

// The statics a grandchild's hook reads.
MapTalc<>* g_heap = nullptr;
std::uint64_t g_lane = 0, g_pages = 0, g_first = 0;

std::vector<PageCase> PageCases() {
  return {
      {"take a block the page never handed out", 1,
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         const talc::Meta m = h.allocate(kSize);  // a page made, block 0 taken: block 1 is next
         s.keep(m.offset);
         s.block = m.offset + talc::PageConfig::chunk_of(kClass);
         arm();
         (void)h.allocate(kSize);
       }},
      {"take a block after collecting the given back ones", 3,
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         // The first map word's blocks all handed out, so that the thread's cache of that word
         // (PageFront) is dry and the next hand-out reads the maps again.
         std::vector<talc::Meta> v;
         for (std::uint64_t i = 0; i < std::min<std::uint64_t>(64, PerPage(h)); ++i)
           v.push_back(h.allocate(kSize));
         for (std::size_t i = 1; i < v.size(); ++i) s.keep(v[i].offset);
         // Block 0 given back: the next take collects it (live cleared, then freed) and hands
         // it out again, the lowest free block of the word.
         ASSERT_EQ(h.deallocate(v[0]), Errc::ok);
         s.block = v[0].offset;
         arm();
         const talc::Meta again = h.allocate(kSize);
         if (again.offset != s.block) ::_exit(4);
       }},
      {"give back a block another process took", 1,
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         InAnotherProcess([&] {
           for (int i = 0; i < 3; ++i) s.keep(h.allocate(kSize).offset);
         });
         s.block = s.known[--s.known_count];
         arm();
         if (h.deallocate(h.address_of(s.block)) != Errc::ok) ::_exit(4);
       }},
      {"make a page when the lane's pages are full", 5,
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         for (std::uint64_t i = 0; i < PerPage(h); ++i) s.keep(h.allocate(kSize).offset);
         const std::uint64_t pages = Pages(h);
         arm();
         const talc::Meta m = h.allocate(kSize);  // under the lock: a page made, a block taken
         if (Pages(h) != pages + 1) ::_exit(4);
         (void)m;
       }},
      {"give back an empty page below a held one on trim", 3,
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         // Two pages: the first full, the second (first on the list) with one block. The first
         // emptied: trim unlinks it from under the second, which stays.
         std::vector<talc::Meta> v;
         for (std::uint64_t i = 0; i < PerPage(h); ++i) v.push_back(h.allocate(kSize));
         s.keep(h.allocate(kSize).offset);
         for (const talc::Meta& m : v) ASSERT_EQ(h.deallocate(m), Errc::ok);
         const std::uint64_t pages = Pages(h);
         arm();
         ASSERT_EQ(h.trim(), Errc::ok);
         if (Pages(h) != pages - 1) ::_exit(4);
       }},
      {"give back a thread's pages when it ends", 3,
       [](MapTalc<>& h, Shared&, const std::function<void()>& arm) {
         std::thread t([&] {
           std::vector<talc::Meta> v;
           for (int i = 0; i < 6; ++i) v.push_back(h.allocate(32 + 160 * i));
           for (const talc::Meta& m : v) (void)h.deallocate(m);
           arm();
         });
         t.join();
         if (Pages(h) != 0) ::_exit(4);
       }},
      {"give back a dead process's pages on trim", 3,
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         InAnotherProcess([&] {
           s.keep(h.allocate(kSize).offset);  // a page that stays
           std::vector<talc::Meta> v;
           for (int i = 0; i < 4; ++i) v.push_back(h.allocate(200 + 160 * i));
           for (const talc::Meta& m : v) (void)h.deallocate(m);
         });
         arm();
         ASSERT_EQ(h.trim(), Errc::ok);
         if (Pages(h) != 1) ::_exit(4);
       }},
      {"sweep a page made and not listed by a dead holder", 2,
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         // Another process fills a page and dies making the next one, between naming the page
         // in its header and putting it on its list: an orphan, the lock held.
         InAnotherProcess([&] {
           for (std::uint64_t i = 0; i < PerPage(h); ++i) s.keep(h.allocate(kSize).offset);
           g_heap = &h;
           g_lane = h.heap().held_lane()->index;
           g_pages = Pages(h);
           g_first = FirstPage(h, g_lane);
           DieWhen([] {
             return Pages(*g_heap) == g_pages + 1 && FirstPage(*g_heap, g_lane) == g_first;
           });
           (void)h.allocate(kSize);
           ::_exit(5);
         });
         if (Pages(h) != 2) ::_exit(4);
         arm();
         (void)h.check();  // the lock's recovery: the orphan given back
         if (Pages(h) != 1) ::_exit(4);
       }},
      {"sweep a page unlinked and not given back by a dead holder", 2,
       [](MapTalc<>& h, Shared&, const std::function<void()>& arm) {
         InAnotherProcess([&] {
           (void)h.deallocate(h.allocate(kSize));
           g_heap = &h;
           g_lane = h.heap().held_lane()->index;
           DieWhen([] { return FirstPage(*g_heap, g_lane) == 0; });
           (void)h.trim();
           ::_exit(5);
         });
         if (Pages(h) != 1) ::_exit(4);
         arm();
         (void)h.check();
         if (Pages(h) != 0) ::_exit(4);
       }},
  };
}

// A block a user holds: a core chunk in no lane, or a page's handed-out block (its page's user
// offset and index, to give it back by: a block whose live bit a dead owner set may not have its
// word yet).
struct Held {
  std::uint64_t offset;
  std::uint64_t page = kNull, b = 0, cls = 0;  // a page block: its page, index and class
};

std::vector<Held> HeldBlocks(MapTalc<>& heap) {
  std::vector<Held> held;
  heap.with_lock([&](auto& m) {
    std::vector<void*> chunks;
    m.for_each_chunk([&](talc::Chunk c, bool allocated) {
      if (allocated) chunks.push_back(m.address_of(c.user()));
    });
    for (void* p : chunks)
      if (!heap.heap().in_lanes(m, p)) held.push_back({heap.offset_of(p)});
    auto* core = reinterpret_cast<std::byte*>(&m);
    talc_test::ForEachHeldBlock(
        core, heap.heap().pages(), m.heap_end(),
        [&](std::uint64_t page, std::uint64_t b, std::uint64_t cls, std::uint64_t user) {
          held.push_back({heap.offset_of(core + user), page, b, cls});
        });
  });
  return held;
}

Errc Free(MapTalc<>& heap, const Held& x) {
  if (x.page == kNull) return heap.deallocate(heap.address_of(x.offset));
  return talc::Page{CoreOf(heap), x.page, heap.heap().pages().geometry().layout(x.cls)}.give_back(
      x.b);
}

class PageFault : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override {
    void* p =
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    shared_ = static_cast<Shared*>(p);
  }
  void TearDown() override { ::munmap(shared_, sizeof(Shared)); }

  // Runs the case in a child that dies right after write point k (1-based). Its exit status:
  // 0 when it died there, 3 when the operation ended before reaching it.
  int RunChild(MapTalc<>& heap, const PageCase& c, std::uint64_t k) {
    *shared_ = Shared{};
    const pid_t pid = ::fork();
    if (pid == 0) {
      static std::uint64_t die_at;
      static Shared* shared;
      die_at = k;
      shared = shared_;
      c.run(heap, *shared_, [] {
        talc::fault::hook = [] {
          if (++shared->points == die_at) ::_exit(0);
        };
      });
      talc::fault::hook = nullptr;
      ::_exit(::testing::Test::HasFailure() ? 6 : 3);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
  }

  // What any process finds after the death: the heap consistent, the pages of lanes nobody owns
  // given back when empty, and no block but the one the operation moved left handed out
  // (given back here, so that the next round starts from an empty heap).
  void ExpectAccounted(MapTalc<>& heap, std::uint64_t k) {
    // First what `talc check` sees: the heap rolled back and its orphans given back, the dead
    // owner's lane not reclaimed.
    talc::CheckReport seen;
    heap.with_lock([&](auto& m) {
      seen = m.check();
      if (seen.ok()) seen = heap.heap().check_lanes(m, false);
    });
    ASSERT_TRUE(seen.ok()) << "point " << k << ", as the tool checks: " << seen.what << " at "
                           << seen.offset;
    ASSERT_EQ(heap.trim(), Errc::ok) << "point " << k;
    const talc::CheckReport rep = heap.check();
    ASSERT_TRUE(rep.ok()) << "point " << k << ": " << rep.what << " at " << rep.offset;
    std::vector<Held> held = HeldBlocks(heap);
    for (std::uint64_t i = 0; i < shared_->known_count; ++i) {
      const auto it = std::find_if(held.begin(), held.end(),
                                   [&](const Held& x) { return x.offset == shared_->known[i]; });
      ASSERT_NE(it, held.end()) << "point " << k << ": a block the child kept is gone";
      // By address, as its user would: its word was written when it was handed out.
      EXPECT_EQ(heap.deallocate(heap.address_of(it->offset)), Errc::ok) << "point " << k;
      held.erase(it);
    }
    ASSERT_LE(held.size(), 1u) << "point " << k << ": blocks nobody can name";
    if (!held.empty() && shared_->block != kNull) {
      EXPECT_EQ(held[0].offset, shared_->block) << "point " << k;
    }
    for (const Held& x : held) EXPECT_EQ(Free(heap, x), Errc::ok) << "point " << k;
    ASSERT_EQ(heap.trim(), Errc::ok);
    const talc::CheckReport after = heap.check();
    ASSERT_TRUE(after.ok()) << "point " << k << ": " << after.what << " at " << after.offset;
    const talc::Census census = heap.census();
    EXPECT_EQ(census.live_chunks, 0u) << "point " << k;
    EXPECT_EQ(census.free_chunks, 1u) << "point " << k;
    EXPECT_EQ(Pages(heap), 0u) << "point " << k;
  }

  Shared* shared_ = nullptr;
};

TEST_P(PageFault, DeathAtEveryWritePointLeavesEveryBlockAccounted) {
  const PageCase c = PageCases()[GetParam()];
  auto heap = Paged();
  ASSERT_TRUE(heap.heap().has_lanes());
  std::uint64_t k = 1;
  for (;; ++k) {
    const int rc = RunChild(heap, c, k);
    ASSERT_TRUE(rc == 0 || rc == 3) << "point " << k << ": child status " << rc;
    ExpectAccounted(heap, k);
    if (rc == 3) break;
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(k - 1, c.min_points) << "the operation wrote less than it must";
  std::printf("%s: a death after each of %llu writes\n", c.name,
              static_cast<unsigned long long>(k - 1));
}

INSTANTIATE_TEST_SUITE_P(EveryPageOperation, PageFault,
                         ::testing::Range<std::size_t>(0, PageCases().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& param) {
                           std::string n = PageCases()[param.param].name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace

// ---- A free that stops after its fetch_or ------------------------------------------------------

namespace {

struct Race {
  std::atomic<int> paused{0}, go{0};
};

// Another process gives back the last block of a page and stops right after its fetch_or; the
// owner then gives the page back (its blocks are all given back) and a user gets its bytes. When
// the free goes on it must touch nothing of the page: the bytes are that user's now.
TEST(PageFaultRace, AFreeWritesNothingInItsPageAfterItsFetchOr) {
  auto heap = Paged();
  auto* race = static_cast<Race*>(
      ::mmap(nullptr, sizeof(Race), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(race, MAP_FAILED);
  ::new (race) Race{};
  const talc::Meta x = heap.allocate(kSize);  // block 0 of a new page, the page's only block
  const std::uint64_t page =
      static_cast<std::uint64_t>(static_cast<std::byte*>(x.ptr()) - CoreOf(heap)) -
      LayoutOf(heap).first_user();
  ASSERT_EQ(Pages(heap), 1u);
  const pid_t freer = ::fork();
  if (freer == 0) {
    // Stops at the first write point after which the block's freed bit is set.
    static Race* r;
    static talc::Page p;
    r = race;
    p = talc::Page{CoreOf(heap), page, LayoutOf(heap)};
    talc::fault::hook = [] {
      if ((p.freed(0).load() & 1) == 0) return;
      talc::fault::hook = nullptr;
      r->paused.store(1);
      while (r->go.load() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    };
    ::_exit(heap.deallocate(x.ptr()) == Errc::ok ? 0 : 1);
  }
  // The freer goes on, and is waited for, on every way out.
  struct Go {
    Race* race;
    pid_t pid;
    int status = -1;
    int wait() {
      if (status == -1) {
        race->go.store(1);
        ::waitpid(pid, &status, 0);
      }
      return status;
    }
    ~Go() { wait(); }
  } go{race, freer};
  for (int i = 0; i < 20000 && race->paused.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  ASSERT_EQ(race->paused.load(), 1) << "the free did not stop after its fetch_or";
  ASSERT_EQ(heap.trim(), Errc::ok);
  ASSERT_EQ(Pages(heap), 0u) << "a page whose blocks are all given back goes back on trim";
  // A user's block over the page's bytes, zeroed.
  const std::size_t bytes = heap.heap().pages().geometry().bytes_of(kClass) - talc::kTagSize;
  const talc::Meta y = heap.allocate(bytes);
  auto* lo = static_cast<std::byte*>(y.ptr());
  std::byte* header = CoreOf(heap) + page;
  ASSERT_TRUE(header >= lo && header + talc::PageConfig::kHeader <= lo + bytes)
      << "the user's block does not cover the page's header";
  std::memset(y.ptr(), 0, bytes);
  const int status = go.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const auto* words = reinterpret_cast<const std::uint64_t*>(header);
  for (std::size_t w = 0; w < talc::PageConfig::kHeader / 8; ++w)
    EXPECT_EQ(words[w], 0u) << "word " << w << " of the page's header, now a user's bytes";
  EXPECT_EQ(heap.deallocate(y), Errc::ok);
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
  ::munmap(race, sizeof(Race));
}

}  // namespace
