// Death at every write of a slot call on a page's block (PageTable::replace): deallocate_from of
// a slot that names a page's block, and reallocate_from that moves one. A forked child makes the
// call and dies right after its k-th write, holding the heap's lock; the parent's next call takes
// the lock from the dead holder, which rolls the core's part back and finishes or undoes the
// page's part (PageTable::finish). The verdict: check() passes, the slot names exactly one live
// block (the old one, untouched, or the new one, with the bytes) and no other block is live.
// Every point, not a sample. Built with TALC_FAULT_INJECTION, which puts the hook in the writes.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>

#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

constexpr std::uint64_t kNull = talc::Rel<std::byte>::kNull;

struct SlotCase {
  const char* name;
  bool move;  // reallocate_from to a size no page class holds; else deallocate_from
};
constexpr SlotCase kCases[] = {{"deallocate_from", false}, {"reallocate_from", true}};

class PageSlotFault : public ::testing::TestWithParam<std::size_t> {};

TEST_P(PageSlotFault, DeathAtEveryWritePointLeavesTheSlotAndItsBlockBeforeOrAfter) {
  const SlotCase c = kCases[GetParam()];
  std::uint64_t k = 1;
  for (;; ++k) {
    auto heap = MapTalc<>::anonymous(4 << 20);
    const talc::Meta owner = heap.allocate(4000);  // a core block: its word 0 is the slot
    auto* slot = static_cast<std::uint64_t*>(owner.ptr());
    *slot = kNull;
    const talc::Meta x = heap.allocate(100);  // a page's block
    std::memcpy(x.ptr(), "the payload", 12);
    *slot = x.offset;
    const pid_t pid = ::fork();
    if (pid == 0) {
      static std::uint64_t die_at, points;
      die_at = k;
      talc::fault::hook = [] {
        if (++points == die_at) ::_exit(0);
      };
      if (c.move)
        (void)heap.try_reallocate_from(owner, 0, 5000);
      else
        (void)heap.deallocate_from(owner, 0);
      talc::fault::hook = nullptr;
      ::_exit(3);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "point " << k;
    const int rc = WEXITSTATUS(status);
    ASSERT_TRUE(rc == 0 || rc == 3) << "point " << k << ": child status " << rc;

    const talc::CheckReport rep = heap.check();  // takes the lock from the dead child
    ASSERT_TRUE(rep.ok()) << "point " << k << ": " << rep.what << " at " << rep.offset;
    const bool before = *slot == x.offset;
    if (before) {
      EXPECT_EQ(heap.usable_size(x.ptr()).value(), 104u) << "point " << k << ": undone";
      EXPECT_STREQ(static_cast<const char*>(x.ptr()), "the payload");
    } else {
      EXPECT_EQ(heap.usable_size(x.ptr()).error(), Errc::not_allocated)
          << "point " << k << ": finished, the old block back in its page";
      if (c.move) {
        ASSERT_NE(*slot, kNull) << "point " << k;
        void* n = heap.address_of(*slot);
        EXPECT_GE(heap.usable_size(n).value(), 5000u) << "point " << k;
        EXPECT_STREQ(static_cast<const char*>(n), "the payload") << "point " << k;
      } else {
        EXPECT_EQ(*slot, kNull) << "point " << k;
      }
    }
    // Exactly the owner and the block the slot names are live: nothing leaked, nothing twice.
    const std::uint64_t named = *slot == kNull ? 0 : 1;
    EXPECT_EQ(heap.stats().live_allocations, 1 + named) << "point " << k;
    if (named != 0) {
      EXPECT_EQ(heap.deallocate_from(owner, 0), Errc::ok) << "point " << k;
    }
    EXPECT_EQ(heap.deallocate(owner), Errc::ok);
    EXPECT_EQ(heap.stats().live_allocations, 0u) << "point " << k;
    if (rc == 3 || HasFailure()) break;
  }
  EXPECT_GT(k, 3u) << "the call wrote nothing";
  std::printf("%s of a page's block: a death after each of %llu writes\n", c.name,
              static_cast<unsigned long long>(k - 1));
}

INSTANTIATE_TEST_SUITE_P(EverySlotCall, PageSlotFault,
                         ::testing::Range<std::size_t>(0, std::size(kCases)),
                         [](const ::testing::TestParamInfo<std::size_t>& param) {
                           return std::string(kCases[param.param].name);
                         });

}  // namespace
