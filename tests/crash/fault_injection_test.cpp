// Death at every metadata write: for each kind of operation and each write point k inside it,
// a forked child runs the operation and dies (_exit) right after the k-th write, or right
// after the commit; the parent, which shares the heap's memory, rolls back as the next lock
// holder would and verifies: check() passes, and the heap is exactly as before the operation
// (every byte outside the journal and the unused insides of free chunks, the census too), or,
// after the commit, exactly as after it. The counters then equal a count of the chunks, and
// recover_after_death, run on the same dying state, gives the same bytes and its local check
// passes. Every point, not a sample. Built with TALC_FAULT_INJECTION, which puts the hook in put().
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "support/meta_bytes.hpp"
#include "talc/core/talc_meta.hpp"
#include "talc/region/mapping.hpp"

namespace {

using talc::Errc;
using Heap = talc::TalcMeta<>;

constexpr std::size_t kArena = 256 << 10;

// Builds a heap state in the arena and returns the operation to interrupt.
using Scenario = std::function<std::function<void(Heap&)>(Heap&)>;

struct Case {
  const char* name;
  Scenario build;
};

void* Alloc(Heap& h, std::size_t n, std::size_t align = 16) {
  const auto r = h.allocate(n, align);
  if (!r) ADD_FAILURE() << "setup allocation failed: " << talc::describe(r.error());
  return *r;
}

// A block whose words are all null slots, ready for allocate_into.
void* Owner(Heap& h) {
  void* owner = Alloc(h, 64);
  for (std::uint64_t off = 0; off < 64; off += talc::kWord)
    talc::store_word(static_cast<std::byte*>(owner), off, talc::Rel<std::byte>::kNull);
  return owner;
}

void Free(Heap& h, void* p) {
  EXPECT_EQ(h.deallocate(p), Errc::ok);
}

// Frees a 100-byte block that lies between a block of `below` bytes and one of 100 bytes,
// after freeing either neighbour as asked (the one above is followed by an allocated guard).
Scenario FreeBetween(std::size_t below, bool free_below, bool free_above) {
  return [=](Heap& h) -> std::function<void(Heap&)> {
    void* a = Alloc(h, below);
    void* b = Alloc(h, 100);
    void* c = Alloc(h, 100);
    Alloc(h, 100);
    if (free_below) Free(h, a);
    if (free_above) Free(h, c);
    return [b](Heap& x) { Free(x, b); };
  };
}

std::vector<Case> Cases() {
  return {
      {"allocate splitting the top chunk",
       [](Heap& h) {
         Alloc(h, 64);
         return [](Heap& x) { Alloc(x, 100); };
       }},
      {"allocate an exact fit",
       [](Heap& h) {
         Alloc(h, 200);
         void* b = Alloc(h, 100);
         Alloc(h, 200);
         Free(h, b);
         return [](Heap& x) { Alloc(x, 100); };
       }},
      {"allocate splitting a chunk whose remainder changes bin",
       [](Heap& h) {
         Alloc(h, 200);
         void* b = Alloc(h, 400);
         Alloc(h, 200);
         Free(h, b);
         return [](Heap& x) { Alloc(x, 100); };
       }},
      {"allocate whose remainder joins a non-empty bin",
       [](Heap& h) {
         void* z = Alloc(h, 72);  // an 80-byte chunk: the remainder's bin holds it
         Alloc(h, 100);
         void* y = Alloc(h, 184);  // a 192-byte chunk: the first that fits 100 bytes
         Alloc(h, 100);
         Free(h, z);
         Free(h, y);
         return [](Heap& x) { Alloc(x, 100); };
       }},
      {"allocate absorbing a small remainder",
       [](Heap& h) {
         Alloc(h, 200);
         void* b = Alloc(h, 120);
         Alloc(h, 200);
         Free(h, b);
         return [](Heap& x) { Alloc(x, 100); };
       }},
      {"allocate aligned, with a leading gap and a remainder",
       [](Heap& h) {
         Alloc(h, 64);
         return [](Heap& x) { Alloc(x, 64, 4096); };
       }},
      {"allocate_into a slot",
       [](Heap& h) {
         void* owner = Owner(h);
         return [owner](Heap& x) { EXPECT_TRUE(x.allocate_into(owner, 3, 500).ok()); };
       }},
      {"allocate_marked with its mark",
       [](Heap& h) {
         Alloc(h, 64);
         return [](Heap& x) {
           const auto r = x.allocate_marked(2000, 64, 0x8000123400005678ULL);
           ASSERT_TRUE(r.ok());
           std::uint64_t first;
           std::memcpy(&first, *r, sizeof first);
           EXPECT_EQ(first, 0x8000123400005678ULL);
         };
       }},
      {"deallocate between allocated neighbours", FreeBetween(100, false, false)},
      {"deallocate merging below", FreeBetween(100, true, false)},
      {"deallocate merging above", FreeBetween(100, false, true)},
      {"deallocate merging on both sides", FreeBetween(100, true, true)},
      // A merge that leaves the chunk below in its bin writes no list word at all; one on both
      // sides also unlinks the chunk above.
      {"deallocate merging below, staying in its bin", FreeBetween(4200, true, false)},
      {"deallocate merging on both sides, below staying in its bin", FreeBetween(4200, true, true)},
      {"deallocate into a non-empty bin",
       [](Heap& h) {
         void* a = Alloc(h, 100);
         Alloc(h, 100);
         void* b = Alloc(h, 100);
         Alloc(h, 100);
         Free(h, a);
         return [b](Heap& x) { Free(x, b); };
       }},
      {"deallocate into the top chunk",
       [](Heap& h) {
         Alloc(h, 100);
         void* b = Alloc(h, 300);
         return [b](Heap& x) { Free(x, b); };
       }},
      {"reallocate shrinking in place below an allocated chunk",
       [](Heap& h) {
         void* b = Alloc(h, 400);
         Alloc(h, 100);
         return [b](Heap& x) { EXPECT_EQ(*x.reallocate(b, 100), b); };
       }},
      {"reallocate shrinking in place, merging the tail above",
       [](Heap& h) {
         void* b = Alloc(h, 400);
         void* c = Alloc(h, 100);
         Alloc(h, 100);
         Free(h, c);
         return [b](Heap& x) { EXPECT_EQ(*x.reallocate(b, 100), b); };
       }},
      {"reallocate growing in place, splitting the chunk above",
       [](Heap& h) {
         void* b = Alloc(h, 100);
         return [b](Heap& x) { EXPECT_EQ(*x.reallocate(b, 1000), b); };
       }},
      {"reallocate growing in place, the remainder changing bin",
       [](Heap& h) {
         void* b = Alloc(h, 100);
         void* c = Alloc(h, 400);
         Alloc(h, 100);
         Free(h, c);
         return [b](Heap& x) { EXPECT_EQ(*x.reallocate(b, 300), b); };
       }},
      {"reallocate shrinking in place, the tail merging above and staying in its bin",
       [](Heap& h) {
         void* b = Alloc(h, 400);
         void* c = Alloc(h, 4500);
         Alloc(h, 100);
         Free(h, c);
         return [b](Heap& x) { EXPECT_EQ(*x.reallocate(b, 100), b); };
       }},
      {"try_grow moving the node of the chunk above",
       [](Heap& h) {
         void* b = Alloc(h, 100);
         void* c = Alloc(h, 4500);
         Alloc(h, 100);
         Free(h, c);
         return [b](Heap& x) { EXPECT_EQ(x.try_grow(b, 300), Errc::ok); };
       }},
      {"reallocate moving, the old block merging above and staying in its bin",
       [](Heap& h) {
         void* b = Alloc(h, 100);
         void* c = Alloc(h, 4500);
         Alloc(h, 100);
         Free(h, c);
         return [b](Heap& x) { EXPECT_NE(*x.reallocate(b, 6000), b); };
       }},
      {"reallocate moving, the old block merging below and staying in its bin",
       [](Heap& h) {
         void* a = Alloc(h, 4500);
         void* b = Alloc(h, 100);
         Alloc(h, 100);
         Free(h, a);
         return [b](Heap& x) { EXPECT_NE(*x.reallocate(b, 6000), b); };
       }},
      {"reallocate growing in place, swallowing the chunk above",
       [](Heap& h) {
         void* b = Alloc(h, 100);
         void* c = Alloc(h, 100);
         Alloc(h, 100);
         Free(h, c);
         return [b](Heap& x) { EXPECT_EQ(*x.reallocate(b, 200), b); };
       }},
      {"reallocate moving, aligned, freeing with merges on both sides",
       [](Heap& h) {
         void* a = Alloc(h, 100);
         void* b = Alloc(h, 100);
         void* c = Alloc(h, 100);
         Alloc(h, 100);
         Free(h, a);
         Free(h, c);
         return [b](Heap& x) { EXPECT_NE(*x.reallocate(b, 2000, 4096), b); };
       }},
      {"reallocate moving into the chunk just below",
       [](Heap& h) {
         void* a = Alloc(h, 1000);
         void* b = Alloc(h, 100);
         Alloc(h, 100);
         Free(h, a);
         return [b](Heap& x) { EXPECT_NE(*x.reallocate(b, 300), b); };
       }},
      {"reallocate_from a slot, moving the block and rewriting the slot",
       [](Heap& h) {
         void* owner = Owner(h);
         EXPECT_TRUE(h.allocate_into(owner, 1, 300).ok());
         Alloc(h, 100);
         return [owner](Heap& x) { EXPECT_TRUE(x.reallocate_from(owner, 1, 3000).ok()); };
       }},
      {"grow the heap into its free top chunk",
       [](Heap& h) {
         Alloc(h, 100);
         return [](Heap& x) { EXPECT_EQ(x.grow(x.span() + 8192), Errc::ok); };
       }},
      {"grow the heap above an allocated top chunk",
       [](Heap& h) {
         void* a = Alloc(h, 100);
         EXPECT_EQ(h.allocate(h.census().largest_free - talc::kTagSize).error(), Errc::ok);
         EXPECT_EQ(h.census().free_chunks, 0u);
         Free(h, a);
         return [](Heap& x) { EXPECT_EQ(x.grow(x.span() + 8192), Errc::ok); };
       }},
      {"deallocate_from a slot",
       [](Heap& h) {
         void* owner = Owner(h);
         EXPECT_TRUE(h.allocate_into(owner, 2, 300).ok());
         return [owner](Heap& x) { EXPECT_EQ(x.deallocate_from(owner, 2), Errc::ok); };
       }},
  };
}

// The arena lives in shared memory so the parent sees what a dying child wrote.
class FaultInjectionBase : public ::testing::Test {
 protected:
  FaultInjectionBase() : arena_(talc::Mapping::anonymous_shared(kArena, 4096)) {}

  Heap& Fresh(const Case& c, std::function<void(Heap&)>& op) {
    std::memset(arena_.base(), 0, kArena - 64);
    Heap* h = *Heap::claim(arena_.base(), kArena / 2);  // the rest is room to grow into
    op = c.build(*h);
    return *h;
  }

  // Every byte of the heap that means something: all but the journal's entries, the unused
  // interiors of free chunks (which the allocator writes without journalling, since a roll-back
  // makes them unused again), and the three words a free writes into the block it frees.
  static std::vector<std::byte> Image(const Heap& h) {
    std::vector<std::byte> v = talc_test::HeapBytes(h, h.span());
    const auto* base = static_cast<const std::byte*>(h.address_of(0));
    for (std::uint64_t off = h.heap_start(); off < h.heap_end();) {
      const talc::Tag tag{talc::load_word(base, off)};
      if (tag.size() < talc::kMinChunk) break;  // check() reports this; the image need not
      if (!tag.allocated()) {
        const std::uint64_t from = off + sizeof(talc::FreeHead);
        const std::uint64_t to = off + tag.size() - sizeof(talc::FreeTail);
        std::memset(v.data() + from, 0, to - from);
      } else {
        // A free that its owner's death interrupted may leave the block's first two words and
        // its last word holding free-list values: they are the owner's bytes, being given up.
        std::memset(v.data() + off + talc::kTagSize, 0, 2 * talc::kWord);
        std::memset(v.data() + off + tag.size() - talc::kWord, 0, talc::kWord);
      }
      off += tag.size();
    }
    return v;
  }

  std::vector<std::byte> Arena() const {
    const auto* a = static_cast<const std::byte*>(arena_.base());
    return std::vector<std::byte>(a, a + kArena);
  }
  void SetArena(const std::vector<std::byte>& bytes) {
    std::memcpy(arena_.base(), bytes.data(), bytes.size());
  }

  std::uint64_t& Counter() const {
    return *reinterpret_cast<std::uint64_t*>(static_cast<std::byte*>(arena_.base()) + kArena - 64);
  }

  // Runs `op` in a child that dies at fault point `k` (1-based), or counts the points when k is
  // 0. Returns the child's exit status.
  int RunChild(Heap& h, const std::function<void(Heap&)>& op, std::uint64_t k) {
    Counter() = 0;
    const pid_t pid = ::fork();
    if (pid == 0) {
      static std::uint64_t die_at;
      static std::uint64_t* counter;
      die_at = k;
      counter = &Counter();
      talc::fault::hook = [] {
        if (++*counter == die_at) ::_exit(0);
      };
      op(h);
      ::_exit(k == 0 ? 0 : 3);  // 3: the operation finished before its k-th point
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
  }

  talc::Mapping arena_;
};

class FaultInjection : public FaultInjectionBase,
                       public ::testing::WithParamInterface<std::size_t> {};

TEST_P(FaultInjection, DeathAtEveryWritePointRollsBackToBeforeOrLeavesTheCompletedOperation) {
  const Case c = Cases()[GetParam()];
  std::function<void(Heap&)> op;

  // The points of this operation: N metadata writes (most of them journalled), then the commit.
  Heap& probe = Fresh(c, op);
  ASSERT_EQ(RunChild(probe, op, 0), 0) << c.name;
  const std::uint64_t points = Counter();
  ASSERT_GE(points, 3u) << c.name;
  ASSERT_LE(points - 1, talc::Journal::kCapacity) << c.name;
  std::printf("%s: %llu metadata writes, then the commit\n", c.name,
              static_cast<unsigned long long>(points - 1));

  // What the operation leaves when it completes.
  Heap& done = Fresh(c, op);
  op(done);
  const std::vector<std::byte> after = Image(done);
  const talc::Census after_census = done.census();

  for (std::uint64_t k = 1; k <= points; ++k) {
    SCOPED_TRACE(std::string(c.name) + ", death at point " + std::to_string(k) + " of " +
                 std::to_string(points));
    Heap& h = Fresh(c, op);
    const std::vector<std::byte> before = Image(h);
    const talc::Census before_census = h.census();
    ASSERT_EQ(RunChild(h, op, k), 0);

    const bool committed = k == points;
    const std::vector<std::byte> dying = Arena();
    const std::uint64_t recorded = h.journal_size();
    // Some writes need no entry (roll_back derives them), so a death can leave fewer than k.
    EXPECT_LE(recorded, committed ? 0 : k);
    const talc::Result<std::uint64_t> undone = h.roll_back();  // what the next holder does
    ASSERT_TRUE(undone.ok());
    EXPECT_EQ(*undone, recorded);
    const talc::CheckReport rep = h.check();
    ASSERT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
    const talc::Census census = h.census();
    const talc::Census& want = committed ? after_census : before_census;
    EXPECT_EQ(census.live_chunks, want.live_chunks);
    EXPECT_EQ(census.live_bytes, want.live_bytes);
    EXPECT_EQ(census.free_chunks, want.free_chunks);
    EXPECT_EQ(census.free_bytes, want.free_bytes);
    EXPECT_TRUE(Image(h) == (committed ? after : before)) << "the heap's bytes differ";
    EXPECT_EQ(h.counters().live_chunks, census.live_chunks);
    EXPECT_EQ(h.counters().live_bytes, census.live_bytes);
    EXPECT_EQ(h.counters().free_chunks, census.free_chunks);
    // Rolling back again changes nothing: a recoverer that dies may be followed by another.
    EXPECT_EQ(*h.roll_back(), 0u);
    const std::vector<std::byte> rolled = Arena();

    // What the next lock holder runs, on the same dying state: the same roll-back, checked by
    // local_check.
    SetArena(dying);
    const talc::Result<std::uint64_t> recovered = h.recover_after_death();
    ASSERT_TRUE(recovered.ok()) << "the local check refused a legitimate roll-back";
    EXPECT_EQ(*recovered, recorded);
    EXPECT_TRUE(Arena() == rolled) << "recover_after_death and roll_back leave different bytes";
  }
}

// The positions inside free chunks where a lock-free free (live_chunk<false>, which a lane
// asks without the lock) would find a live chunk: a tag a dead operation left there, that the
// roll-back did not take back. A later free of a stale pointer there (a double free of an older
// block at that place) would then be cached by a lane, and the bytes, free to the heap, handed
// out twice. A heap that no death touched has none (a free poisons the tags it swallows).
std::vector<std::uint64_t> LiveLookingInsideFree(const Heap& h) {
  std::vector<std::uint64_t> found;
  const auto* base = static_cast<const std::byte*>(h.address_of(0));
  for (std::uint64_t off = h.heap_start(); off < h.heap_end();) {
    const talc::Tag tag{talc::load_word(base, off)};
    if (tag.size() < talc::kMinChunk) break;
    if (!tag.allocated())
      for (std::uint64_t q = off + talc::kGranule; q + talc::kMinChunk <= off + tag.size();
           q += talc::kGranule)
        if (h.live_chunk<false>(h.address_of(q + talc::kTagSize)).ok()) found.push_back(q);
    off += tag.size();
  }
  return found;
}

TEST_P(FaultInjection, ARollBackLeavesNoTagALockFreeFreeTakesForALiveChunk) {
  const Case c = Cases()[GetParam()];
  std::function<void(Heap&)> op;
  Heap& probe = Fresh(c, op);
  ASSERT_EQ(RunChild(probe, op, 0), 0) << c.name;
  const std::uint64_t points = Counter();
  for (std::uint64_t k = 1; k < points; ++k) {
    SCOPED_TRACE(std::string(c.name) + ", death at point " + std::to_string(k) + " of " +
                 std::to_string(points));
    Heap& h = Fresh(c, op);
    ASSERT_TRUE(LiveLookingInsideFree(h).empty()) << "before the operation";
    ASSERT_EQ(RunChild(h, op, k), 0);
    ASSERT_TRUE(h.recover_after_death().ok());
    const std::vector<std::uint64_t> stray = LiveLookingInsideFree(h);
    EXPECT_TRUE(stray.empty()) << "a live-looking tag inside a free chunk at offset "
                               << (stray.empty() ? 0 : stray.front());
  }
}

INSTANTIATE_TEST_SUITE_P(EveryOperationKind, FaultInjection,
                         ::testing::Range<std::size_t>(0, Cases().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& param) {
                           std::string n = Cases()[param.param].name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// A journal whose entries point outside the heap is not believed, and nothing is written.
TEST(Journal, AnUnbelievableJournalIsRefusedWithoutWriting) {
  std::vector<std::byte> buf(64 << 10);
  Heap* h = *Heap::claim(buf.data(), buf.size());
  auto* base = static_cast<std::byte*>(h->address_of(0));
  const std::uint64_t j = Heap::journal_offset();
  talc::store_word(base, j, 1);                   // one entry...
  talc::store_word(base, j + 8, h->span() + 64);  // ...for a word past the end
  const std::vector<std::byte> before = buf;
  EXPECT_EQ(h->roll_back().error(), Errc::corrupted);
  EXPECT_EQ(buf, before);
  talc::store_word(base, j + 8, j);  // ...for the journal itself
  EXPECT_EQ(h->roll_back().error(), Errc::corrupted);
  talc::store_word(base, j + 8, 0);  // ...for the heap's own span field
  EXPECT_EQ(h->roll_back().error(), Errc::corrupted);
  talc::store_word(base, j + 8, h->heap_end());  // ...for the sentinel, which is never journalled
  EXPECT_EQ(h->roll_back().error(), Errc::corrupted);
  talc::store_word(base, j, 1000);  // more entries than it can hold
  EXPECT_EQ(h->roll_back().error(), Errc::corrupted);
  EXPECT_FALSE(h->check().ok());
}

// The local check reads what the roll-back neither restores nor repairs around the chunks the
// journal names: here the size in the tag of the chunk above the block being freed, which the
// roll-back leaves alone but for its BELOW_FREE flag. Torn at a death after the journal names
// the block, recovery refuses; before, the tear is no neighbour of anything named and is left to
// check(), like any tear with an empty journal. roll_back alone never looks.
TEST_F(FaultInjectionBase, TheLocalCheckRefusesATornNeighbourOfANamedChunk) {
  std::uint64_t points = 0, refused = 0;
  for (std::uint64_t k = 0; k == 0 || k < points; ++k) {
    SCOPED_TRACE("death at point " + std::to_string(k));
    std::memset(arena_.base(), 0, kArena - 64);
    Heap& h = **Heap::claim(arena_.base(), kArena / 2);
    void* a = Alloc(h, 100);
    void* b = Alloc(h, 100);
    Alloc(h, 100);
    Free(h, a);
    auto* base = static_cast<std::byte*>(h.address_of(0));
    const std::uint64_t block = h.offset_of(b) - talc::kTagSize;
    const std::uint64_t above = block + talc::Tag{talc::load_word(base, block)}.size();
    const std::function<void(Heap&)> free_b = [b](Heap& x) { Free(x, b); };
    ASSERT_EQ(RunChild(h, free_b, k), 0);
    if (k == 0) {
      points = Counter();
      continue;
    }
    bool named = false;
    for (std::uint64_t i = 0; i < h.journal_size(); ++i)
      named |= talc::load_word(base, Heap::journal_offset() + 8 + 16 * i) ==
               (block | talc::Journal::kChunkTag);
    talc::store_word(base, above, (talc::load_word(base, above) & 15) | 16);
    const std::vector<std::byte> dying = Arena();
    EXPECT_EQ(h.recover_after_death().ok(), !named);
    refused += named;
    SetArena(dying);
    EXPECT_TRUE(h.roll_back().ok());
    EXPECT_FALSE(h.check().ok());
  }
  EXPECT_GE(refused, 3u);
}

// A holder that died after its commit, before the counters were kept, leaves an empty journal
// and counters that are right: recovery keeps them, in constant time, and the next roll-back
// gives back exact counters.
TEST_F(FaultInjectionBase, ADeathBetweenOperationsKeepsTheCountersForTheNextRollBack) {
  std::memset(arena_.base(), 0, kArena - 64);
  Heap& h = **Heap::claim(arena_.base(), kArena / 2);
  void* a = Alloc(h, 100);
  Alloc(h, 100);
  // Where commit() keeps them: right after the journal. A dying holder left them half-written.
  auto* base = static_cast<std::byte*>(h.address_of(0));
  const std::uint64_t kept = Heap::journal_offset() + sizeof(talc::Journal);
  talc::store_word(base, kept, 12345);
  const talc::HeapCounters before = h.counters();
  EXPECT_EQ(*h.recover_after_death(), 0u);
  EXPECT_EQ(h.counters().live_chunks, before.live_chunks);
  EXPECT_EQ(h.counters().free_chunks, before.free_chunks);
  const std::function<void(Heap&)> free_a = [a](Heap& x) { Free(x, a); };
  ASSERT_EQ(RunChild(h, free_a, 2), 0);
  ASSERT_NE(h.journal_size(), 0u);
  EXPECT_TRUE(h.recover_after_death().ok());
  const talc::CheckReport rep = h.check();
  EXPECT_TRUE(rep.ok()) << rep.what;
  EXPECT_EQ(h.counters().live_chunks, before.live_chunks);
}

}  // namespace

namespace {

// A scribbled journal that would give back a growth's span but not its heap end (the heap
// would end past its span) is refused before anything is written.
TEST(Journal, AGrowthUndoneByHalvesIsRefusedWithoutWriting) {
  std::vector<std::byte> buf(256 << 10);
  Heap* h = *Heap::claim(buf.data(), 64 << 10);
  const std::uint64_t old_span = h->span();
  ASSERT_EQ(h->grow(128 << 10), Errc::ok);
  auto* base = static_cast<std::byte*>(h->address_of(0));
  const std::uint64_t j = Heap::journal_offset();
  talc::store_word(base, j + 8, 0);          // the span field (first in TalcMeta)...
  talc::store_word(base, j + 16, old_span);  // ...given back its size before the growth
  talc::store_word(base, j, 1);
  const std::vector<std::byte> before = buf;
  EXPECT_EQ(h->roll_back().error(), Errc::corrupted);
  EXPECT_EQ(buf, before);
  EXPECT_EQ(h->span(), 128u << 10);
}

}  // namespace
