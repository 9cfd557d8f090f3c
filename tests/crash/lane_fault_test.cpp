// Death at every write of every lane operation: for each operation and each write point k in
// it (the lane's own stores, and the core's journalled ones under the lock), a forked child runs
// the operation on a heap in shared memory and dies right after the k-th write. The parent then
// checks the heap as `talc check` would, without reclaiming the dead child's lane; then does what
// any process would: trim() reclaims that lane (and rolls back the heap when the child died
// holding the lock), and the verdict is that check() passes and every block
// is accounted for: the ones the parent knows, and at most the one block the operation was
// moving, which is either back in the heap (before) or live in the dead child's hands (after).
// Every point, not a sample. Built with TALC_FAULT_INJECTION, which puts the hook in the writes.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/stack_heap.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

// What the child tells the parent, in memory they share.
struct Shared {
  std::uint64_t points = 0;                           // write points passed so far
  std::uint64_t block = talc::Rel<std::byte>::kNull;  // the block the operation moves, if known
  std::uint64_t known[64] = {};                       // blocks the child left live on purpose
  std::uint64_t known_count = 0;
};

struct LaneCase {
  const char* name;
  // Runs in the child: prepares (unhooked), then `arm()`, then the operation.
  std::function<void(MapTalc<>&, Shared&, const std::function<void()>& arm)> run;
};

std::vector<LaneCase> LaneCases() {
  return {
      {"pop a cached block",
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         const talc::Meta m = h.allocate(64);  // a refill: the class holds blocks now
         h.deallocate(m);
         s.block = m.offset;  // the head of its stack: what the next allocation takes
         arm();
         (void)h.allocate(64);
       }},
      {"pop an aligned block from under the head",
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         std::vector<talc::Meta> v;
         for (int i = 0; i < 8; ++i) v.push_back(h.allocate(64));
         for (const talc::Meta& m : v) h.deallocate(m);
         // Chunks of 80 bytes: of two neighbours, one is 32-aligned. A 32-aligned head is
         // taken first, so that the pop below unlinks a block under it.
         const talc::LaneOwner& o = *h.heap().held_lane();
         const std::uint64_t cls = talc::LaneConfig::class_of(80);
         const auto aligned = [&](std::uint64_t u) {  // u: a user offset from the core's base
           return reinterpret_cast<std::uintptr_t>(o.core + u) % 32 == 0;
         };
         if (aligned(talc::lane_load(o.lane->head[cls])))
           s.known[s.known_count++] = h.allocate(64).offset;
         const std::uint64_t under = talc::load_word(o.core, talc::lane_load(o.lane->head[cls]));
         if (!aligned(under)) ::_exit(4);
         s.block = h.offset_of(o.core + under);
         arm();
         (void)h.allocate(64, 32);
       }},
      {"push a freed block",
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         const talc::Meta m = h.allocate(64);
         s.block = m.offset;
         arm();
         h.deallocate(m);
       }},
      {"refill an empty class under the lock",
       [](MapTalc<>& h, Shared&, const std::function<void()>& arm) {
         h.deallocate(h.allocate(500));  // the lane is claimed; the 64-byte class is empty
         arm();
         (void)h.allocate(64);
       }},
      {"drain a full class under the lock",
       [](MapTalc<>& h, Shared& s, const std::function<void()>& arm) {
         std::vector<talc::Meta> v;
         for (std::uint32_t i = 0; i < 2 * talc::LaneConfig::kClassCap; ++i)
           v.push_back(h.allocate(64));
         const std::uint32_t& cached =
             h.heap().held_lane()->lane->count[talc::LaneConfig::class_of(80)];
         std::size_t i = 0;
         while (talc::lane_load(cached) < talc::LaneConfig::kClassCap) h.deallocate(v[i++]);
         for (std::size_t j = i + 1; j < v.size(); ++j) s.known[s.known_count++] = v[j].offset;
         s.block = v[i].offset;
         arm();
         h.deallocate(v[i]);  // the class is full: half of it goes back first
       }},
      {"give a lane back when its thread ends",
       [](MapTalc<>& h, Shared&, const std::function<void()>& arm) {
         std::thread t([&] {
           std::vector<talc::Meta> v;
           for (int i = 0; i < 6; ++i) v.push_back(h.allocate(32 + 64 * i));
           for (const talc::Meta& m : v) h.deallocate(m);
           arm();
         });
         t.join();
       }},
      {"reclaim a dead process's lane",
       [](MapTalc<>& h, Shared&, const std::function<void()>& arm) {
         const pid_t owner = ::fork();
         if (owner == 0) {
           std::vector<talc::Meta> v;
           for (int i = 0; i < 6; ++i) v.push_back(h.allocate(32 + 64 * i));
           for (const talc::Meta& m : v) h.deallocate(m);
           ::_exit(0);
         }
         ::waitpid(owner, nullptr, 0);
         arm();
         (void)h.trim();
       }},
  };
}

class LaneFault : public ::testing::TestWithParam<std::size_t> {
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
  int RunChild(MapTalc<>& heap, const LaneCase& c, std::uint64_t k) {
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
      ::_exit(3);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
  }

  // What any process finds after the death: the lanes reclaimed, the heap consistent, and no
  // block but the one the operation moved left live (freed here, so the next round starts
  // from an empty heap).
  void ExpectAccounted(MapTalc<>& heap, std::uint64_t k) {
    // First what `talc check` sees: the heap rolled back, the dead owner's lane not reclaimed.
    talc::CheckReport seen;
    heap.with_lock([&](auto& m) {
      seen = m.check();
      if (seen.ok()) seen = heap.heap().check_lanes(m, false);
    });
    ASSERT_TRUE(seen.ok()) << "point " << k << ", as the tool checks: " << seen.what;
    ASSERT_EQ(heap.trim(), Errc::ok) << "point " << k;
    const talc::CheckReport rep = heap.check();
    ASSERT_TRUE(rep.ok()) << "point " << k << ": " << rep.what << " at " << rep.offset;
    std::vector<std::uint64_t> live;
    heap.with_lock([&](auto& m) {
      m.for_each_chunk([&](talc::Chunk c, bool allocated) {
        const void* user = m.address_of(c.user());
        if (allocated && !heap.heap().in_lanes(m, user)) live.push_back(heap.offset_of(user));
      });
    });
    for (std::uint64_t i = 0; i < shared_->known_count; ++i) {
      const auto it = std::find(live.begin(), live.end(), shared_->known[i]);
      ASSERT_NE(it, live.end()) << "point " << k << ": a block the child kept is gone";
      EXPECT_EQ(heap.deallocate(heap.address_of(*it)), Errc::ok);
      live.erase(it);
    }
    ASSERT_LE(live.size(), 1u) << "point " << k << ": blocks nobody can name";
    if (!live.empty() && shared_->block != talc::Rel<std::byte>::kNull) {
      EXPECT_EQ(live[0], shared_->block) << "point " << k;
    }
    for (std::uint64_t off : live) EXPECT_EQ(heap.deallocate(heap.address_of(off)), Errc::ok);
    ASSERT_EQ(heap.trim(), Errc::ok);
    const talc::Census census = heap.census();
    EXPECT_EQ(census.live_chunks, 0u) << "point " << k;
    EXPECT_EQ(census.free_chunks, 1u) << "point " << k;
  }

  Shared* shared_ = nullptr;
};

TEST_P(LaneFault, DeathAtEveryWritePointLeavesTheHeapBeforeOrAfterIt) {
  const LaneCase c = LaneCases()[GetParam()];
  auto heap = talc_test::StackHeap(4 << 20);
  std::uint64_t k = 1;
  for (;; ++k) {
    const int rc = RunChild(heap, c, k);
    ASSERT_TRUE(rc == 0 || rc == 3) << "point " << k << ": child status " << rc;
    ExpectAccounted(heap, k);
    if (rc == 3) break;
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(k, 2u) << "the operation wrote nothing";
  std::printf("%s: a death after each of %llu writes\n", c.name,
              static_cast<unsigned long long>(k - 1));
}

INSTANTIATE_TEST_SUITE_P(EveryLaneOperation, LaneFault,
                         ::testing::Range<std::size_t>(0, LaneCases().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& param) {
                           std::string n = LaneCases()[param.param].name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace

// ---- Deaths that leave a state a later free could misread ------------------------------------

namespace {

// Forks a child that runs `run` on the heap (it must _exit(0) at the death it wants) and returns
// its exit status.
int Child(const std::function<void()>& run) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    run();
    ::_exit(3);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

struct Out {
  std::uint64_t block = talc::Rel<std::byte>::kNull;
};

// A child killed after each write of a pop (of the head, or with `aligned` of a block under it)
// leaves the block either still on its dead lane's stack or taken. A free of the block by
// another process must tell the two apart: refused while it is cached, accepted once when the
// dead child had it; never cached a second time. A second free is then refused.
void FreeAfterADeathInsideAPop(bool aligned) {
  auto* out = static_cast<Out*>(
      ::mmap(nullptr, sizeof(Out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(out, MAP_FAILED);
  for (int point = 1; point <= 5; ++point) {
    auto heap = talc_test::StackHeap(4 << 20);
    const int rc = Child([&] {
      std::vector<talc::Meta> v;
      for (int i = 0; i < 8; ++i) v.push_back(heap.allocate(64));
      for (const talc::Meta& m : v) heap.deallocate(m);
      const talc::LaneOwner& o = *heap.heap().held_lane();
      const std::uint64_t cls = talc::LaneConfig::class_of(80);
      const auto is_aligned = [&](std::uint64_t u) {
        return reinterpret_cast<std::uintptr_t>(o.core + u) % 32 == 0;
      };
      if (aligned && is_aligned(talc::lane_load(o.lane->head[cls]))) (void)heap.allocate(64);
      std::uint64_t u = talc::lane_load(o.lane->head[cls]);
      if (aligned) u = talc::load_word(o.core, u);
      if (aligned && !is_aligned(u)) ::_exit(4);
      out->block = heap.offset_of(o.core + u);
      static int points = 0, die_at = 0;
      die_at = point;
      talc::fault::hook = [] {
        if (++points == die_at) ::_exit(0);
      };
      if (aligned)
        (void)heap.allocate(64, 32);
      else
        (void)heap.allocate(64);
    });
    ASSERT_EQ(rc, 0) << "point " << point << ": the child did not die inside the pop";
    void* p = heap.address_of(out->block);
    const Errc first = heap.deallocate(p);
    EXPECT_TRUE(first == Errc::ok || first == Errc::not_allocated)
        << "point " << point << ": " << talc::describe(first);
    EXPECT_NE(heap.deallocate(p), Errc::ok) << "point " << point << ": freed twice";
    const talc::CheckReport rep = heap.check();
    EXPECT_TRUE(rep.ok()) << "point " << point << ": " << rep.what << " at " << rep.offset;
  }
  ::munmap(out, sizeof(Out));
}

}  // namespace

TEST(LaneDeaths, AFreeOfTheHeadADeadPopWasTakingIsRefusedOrTakenOnce) {
  FreeAfterADeathInsideAPop(false);
}

TEST(LaneDeaths, AFreeOfTheBlockADeadAlignedPopWasTakingIsRefusedOrTakenOnce) {
  FreeAfterADeathInsideAPop(true);
}

// A child that carves an aligned block (a gap freed below it) where one lay that it freed
// before, and dies right after writing the block's tag, the lock held: the block's user offset
// in `out`. Its exit status: 0 when it died there.
int DieInsideAnAlignedCarve(MapTalc<>& heap, Out* out) {
  return Child([&] {
    talc::Meta m = heap.allocate(64, 256);
    const std::uint64_t u = m.offset;
    const std::uint64_t tag = talc::load_word(static_cast<std::byte*>(m.ptr()) - talc::kTagSize, 0);
    if ((tag & talc::Tag::kBelowFree) == 0) ::_exit(4);  // no gap: nothing to show
    m.size = std::size_t{1} << 20;  // past the lanes: straight back to the heap
    if (heap.deallocate(m) != Errc::ok) ::_exit(5);
    out->block = u;
    static std::uint64_t* word = nullptr;
    static std::uint64_t want = 0;
    word = reinterpret_cast<std::uint64_t*>(static_cast<std::byte*>(heap.address_of(u)) -
                                            talc::kTagSize);
    want = tag;
    talc::fault::hook = [] {
      if (talc::load_word(reinterpret_cast<std::byte*>(word), 0) == want) ::_exit(0);
    };
    (void)heap.allocate(64, 256);
  });
}

// An aligned carve writes its block's tag last, in what a roll-back makes the interior of a free
// chunk again: the tag (allocated, a free chunk below, a well-formed free remainder tag above)
// would pass every look a free without the lock makes. It is journalled, so none outlives the
// recovery, and a later free of a stale pointer there (a double free of the block that lay
// there before) is refused instead of cached, its bytes free to the heap.
TEST(LaneDeaths, AStalePointerIntoARolledBackAlignedCarveIsNotCachedAfterTheRecovery) {
  auto heap = talc_test::StackHeap(4 << 20);
  auto* out = static_cast<Out*>(
      ::mmap(nullptr, sizeof(Out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(out, MAP_FAILED);
  ASSERT_EQ(DieInsideAnAlignedCarve(heap, out), 0) << "the child did not die inside the carve";
  // The next lock holder recovers (check takes the lock): the carve is rolled back.
  const talc::CheckReport first = heap.check();
  ASSERT_TRUE(first.ok()) << first.what << " at " << first.offset;
  ASSERT_GE(heap.recoveries(), 1u);
  void* p = heap.address_of(out->block);
  EXPECT_NE(heap.deallocate(p), Errc::ok) << "a stale pointer into a free chunk was accepted";
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
  ::munmap(out, sizeof(Out));
}

// The limit docs/guarantees.md states: before the roll-back, while the dead holder keeps the lock,
// the carve's tag is a live block to a free without the lock, which no free can tell from one a
// user holds. A double free of the block that lay there is then cached; the roll-back gives
// the bytes back to the heap, and check() reports the lane's block as damage.
TEST(LaneDeaths, ADoubleFreeRacingACarveWhoseHolderDiedIsFoundByCheck) {
  auto heap = talc_test::StackHeap(4 << 20);
  auto* out = static_cast<Out*>(
      ::mmap(nullptr, sizeof(Out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(out, MAP_FAILED);
  // This thread holds a lane before the child dies: its free goes there, without the lock (a
  // free never claims one, and the lock's path would roll the carve back first).
  heap.deallocate(heap.allocate(64));
  ASSERT_EQ(DieInsideAnAlignedCarve(heap, out), 0) << "the child did not die inside the carve";
  EXPECT_EQ(heap.deallocate(heap.address_of(out->block)), Errc::ok) << "taken for a live block";
  const talc::CheckReport rep = heap.check();
  EXPECT_EQ(rep.code, Errc::corrupted);
  EXPECT_STREQ(rep.what, "a cached block is no allocated chunk of its class");
  ::munmap(out, sizeof(Out));
}
