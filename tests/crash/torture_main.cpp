// The kill torture: workers doing random operations on one shared heap, a supervisor sending
// SIGKILL at random instants and starting replacements. After every kill the supervisor waits
// for every worker to make progress, then takes the lock, runs check(), verifies every sealed
// block's pattern, and accounts for every live byte: the control block, the slot tables, and
// exactly the blocks the tables name. Nothing may leak, nothing may dangle, no byte may change,
// and no process may be left waiting.
//
// Two kinds of blocks, so that the lanes are under the kills as much as the lock:
// - Slots. Workers allocate with allocate_into, resize with reallocate_from and free with
//   deallocate_from, so a block and the slot naming it change together, atomically, whatever
//   instant the kill lands on. These calls take the lock.
// - Loose blocks, of mostly small sizes, allocated and freed with the plain calls, which a
//   thread's lane serves without the lock. Between allocate's return and the store that names
//   the block, and between the store that forgets it and free's return, the block is in the
//   worker's hands only: a malloc's user that dies there loses it, whatever the allocator. The
//   worker writes what it holds there in its table first (its "hand": the size it asks for, or
//   the block it gives back). The supervisor reads a victim's hand after the kill, and the audit
//   demands that every live block no table names be what a distinct dead hand held (it then
//   frees it). Anything else, a block lost inside the heap or a lane, fails the run.
//   A loose block is also freed, now and then, by another worker than the one that allocated
// it: that worker takes it out of the other's table with one compare-and-swap of the table's
// word (the owner takes its own out with one exchange), so exactly one of them frees it; its
// hand names the block and the word it took it from before, so a kill anywhere is accounted.
// A block is "sealed" once its owner has written all of it; an unsealed block of a dead worker
// is one it was still filling, and only its existence is checked. The seal lives in the table,
// not in the block: a block's own bytes are stale from earlier blocks until its owner writes
// them. A loose block's seal is the low bit of its table word, so that a worker takes over only
// a sealed block (one its owner no longer writes), in the same compare-and-swap.
//
// The heap is built with lanes and pages (the default): most loose blocks are then page blocks,
// which the audit reads from the page table: every block a page holds must be named by a table
// or by a distinct dead hand, like every live chunk of the core.
//
// Progress. Every other worker (the odd ones) pauses now and then between calls, for up to
// 2 ms, so that there are moments when processes sleep on the lock and nobody else contends
// for it: a wake-up lost with a killed waiter is then repaired by nobody but the lock's own
// slices, not by the next unlock. Each worker counts its finished calls in the control block
// (a slot's count carries on across its replacements). After a kill, its victim's reaping and
// the replacement's start, the supervisor waits, at most kProgressBound, until every worker's
// count, the replacement's included, has moved past its value at the kill; only then does it
// audit, because the audit's own lock and unlock would wake a sleeper that nobody else would.
// The audit then asks every worker to rest between two calls and waits until all do (lanes
// change without the lock, so only workers at rest leave the heap still for it to count).
// A worker that has not moved by the bound is stalled: it is reported, killed and replaced, and
// the run fails. One kill in eight also kills the replacement a moment after its start, so that
// kills land in opening the heap too; the wait and the audit then follow the second kill.
//
//   talc_torture [--kills N] [--workers W] [--seed S]
//   (exit 0: every check passed, no stall)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "support/page_walk.hpp"
#include "support/pattern.hpp"
#include "talc/talc.hpp"

namespace {

constexpr unsigned kMaxWorkers = 8;
constexpr std::size_t kSlots = 64;
constexpr std::size_t kLoose = 32;

// How long a pausing worker may sleep between two calls.
constexpr std::chrono::microseconds kMaxPause{2000};
// How long the supervisor waits for every worker to progress after a kill. What a healthy
// worker needs: a waiter sleeps at most one slice of the lock (5 ms) before it looks again,
// so a wake-up lost with a killed waiter costs one slice; a dead holder is found after one
// slice and its lock taken over with a repair of one operation; a pause lasts at most 2 ms; a
// replacement's start is a fork and an open. That is milliseconds; the bound is hundreds of
// times more, for a loaded machine's scheduling, and well below the lock's own bound
// (talc::kDefaultLockWait), so that a waiter that never wakes shows here as a stall rather
// than as a time-out after the fact.
constexpr std::chrono::milliseconds kProgressBound{2000};

struct Control {
  std::uint64_t tables[kMaxWorkers];  // offsets of each worker's slot table
  std::uint64_t workers = 0;
  std::atomic<std::uint64_t> ops{0};
  std::atomic<std::uint64_t> taken_over{0};  // loose blocks freed by another worker
  std::atomic<std::uint64_t> damaged{0};
  std::atomic<std::uint32_t> failure{0};  // the first Errc a call should not have returned
  // Calls each worker slot has finished, whatever their outcome; a replacement carries on
  // from its victim's count.
  std::atomic<std::uint64_t> progress[kMaxWorkers]{};
  // Nonzero: the supervisor asks every worker to rest between two calls; each says it does by
  // storing the value it saw in `resting`, and carries on once `rest` changes.
  std::atomic<std::uint64_t> rest{0};
  std::atomic<std::uint64_t> resting[kMaxWorkers]{};
};

// A call returned what it should not have: counted as damage, and the first such Errc kept.
void Failed(Control* control, talc::Errc e) {
  std::uint32_t none = 0;
  control->failure.compare_exchange_strong(none, static_cast<std::uint32_t>(e));
  control->damaged.fetch_add(1);
}

// What a worker holds outside its table, written before it calls allocate or free.
enum class Hand : std::uint64_t { empty, allocating, freeing };
struct Held {
  Hand what;
  std::uint64_t value;  // allocating: the size asked for; freeing: the block's offset
  std::uint64_t align;  // allocating: the alignment asked for
};

constexpr std::uint64_t kNull = talc::Rel<std::byte>::kNull;
// A loose word: the block's offset, its low bit set once the block is sealed (offsets are
// 16-aligned, and kNull is never a sealed word's value).
constexpr std::uint64_t kSeal = 1;
constexpr std::uint64_t BlockOf(std::uint64_t word) {
  return word == kNull ? kNull : word & ~kSeal;
}
constexpr bool SealedWord(std::uint64_t word) {
  return word != kNull && (word & kSeal) != 0;
}

// A worker's table: the slots allocate_into and deallocate_from work on, the loose blocks, the
// seals (set once a block is written, cleared before it is freed) and the hand.
struct Table {
  std::uint64_t slots[kSlots];
  std::atomic<std::uint64_t> sealed[kSlots];
  std::atomic<std::uint64_t> loose[kLoose];  // written by the owner; nulled by whoever frees
  std::atomic<Hand> hand;
  std::uint64_t hand_value, hand_align;
  // allocating: the loose slot the block goes to; freeing: the worker whose table named the block
  // and the slot it was taken from.
  std::uint64_t hand_worker, hand_slot;
};

struct BlockHead {
  std::uint64_t id;
  std::uint64_t size;
};

bool Intact(bool sealed, const std::byte* block) {
  if (!sealed) return true;
  const auto* h = reinterpret_cast<const BlockHead*>(block);
  return talc_test::FirstMismatch(block + sizeof(BlockHead), h->size - sizeof(BlockHead), h->id) ==
         h->size - sizeof(BlockHead);
}

[[noreturn]] void Work(const std::string& name, unsigned w, std::uint64_t seed) {
  auto heap = talc::MapTalc<>::open_shm(name);
  auto* control = static_cast<Control*>(heap.address_of(heap.root()));
  const talc::Meta table = *heap.adopt(
      talc::RelMeta(talc::Rel<std::byte>::from_offset(control->tables[w]), sizeof(Table)));
  auto* t = table.as<Table>();
  // The lock once before the slots are read: the predecessor killed inside a slot call has its
  // operation rolled back or finished first. (The table is a page's block, which adopt proves
  // without the lock; a slot read earlier could name a block the roll-back takes back.)
  if (const talc::Errc e = heap.with_lock([](auto&) {}); e != talc::Errc::ok) Failed(control, e);
  std::mt19937_64 rng(seed);
  const bool pauses = w % 2 == 1;
  auto fill = [&](talc::Meta m, std::size_t size, std::uint64_t n) {
    auto* h = m.as<BlockHead>();
    h->id = (std::uint64_t{w} << 48) ^ (seed << 20) ^ n;
    h->size = size;
    talc_test::FillPattern(h + 1, size - sizeof(BlockHead), h->id);
  };
  auto check = [&](bool sealed, std::uint64_t block) {
    if (!Intact(sealed, static_cast<std::byte*>(heap.address_of(block))))
      control->damaged.fetch_add(1);
  };
  // One call on a slot; whether it counts as an operation (a refusal does not).
  auto slot_step = [&](std::uint64_t n) -> bool {
    const std::size_t i = rng() % kSlots;
    const std::uint64_t held = __atomic_load_n(&t->slots[i], __ATOMIC_ACQUIRE);
    if (held == talc::Rel<std::byte>::kNull) {
      const std::size_t size = sizeof(BlockHead) + rng() % 3000;
      const talc::Result<talc::Meta> m = heap.try_allocate_into(table, i, size, 16u << (rng() % 4));
      if (!m) {
        if (m.error() != talc::Errc::out_of_memory) Failed(control, m.error());
        return false;
      }
      fill(*m, size, n);
      t->sealed[i].store(1, std::memory_order_release);
    } else if (rng() % 3 == 0) {
      // Resized, in place or moved: a sealed block's bytes must come along (one a dead worker
      // was still filling has none worth keeping), then it is rewritten whole at its new size,
      // unsealed meanwhile, as a block being filled is.
      const bool sealed = t->sealed[i].load(std::memory_order_acquire) != 0;
      check(sealed, held);
      t->sealed[i].store(0, std::memory_order_relaxed);
      const std::size_t size = sizeof(BlockHead) + rng() % 6000;
      const talc::Result<talc::Meta> m = heap.try_reallocate_from(table, i, size);
      if (!m) {
        if (m.error() != talc::Errc::out_of_memory) Failed(control, m.error());
        if (sealed) t->sealed[i].store(1, std::memory_order_release);  // a refusal changes nothing
        return false;
      }
      auto* h = m->as<BlockHead>();
      if (sealed) {
        const std::size_t kept = std::min<std::size_t>(h->size, size) - sizeof(BlockHead);
        if (talc_test::FirstMismatch(h + 1, kept, h->id) != kept) control->damaged.fetch_add(1);
        h->size = size;
        talc_test::FillPattern(h + 1, size - sizeof(BlockHead), h->id);
      } else {
        fill(*m, size, n);
      }
      t->sealed[i].store(1, std::memory_order_release);
    } else {
      check(t->sealed[i].load(std::memory_order_acquire) != 0, held);
      t->sealed[i].store(0, std::memory_order_relaxed);
      if (const talc::Errc e = heap.deallocate_from(table, i); e != talc::Errc::ok)
        Failed(control, e);
    }
    return true;
  };
  // Frees the loose block `word` named, once taken out of its table (by its owner or another
  // worker), by address: a block a dead worker was filling has no size to trust in its head.
  auto free_taken = [&](std::uint64_t word) {
    check(SealedWord(word), BlockOf(word));
    if (const talc::Errc e = heap.deallocate(heap.address_of(BlockOf(word))); e != talc::Errc::ok)
      Failed(control, e);
    t->hand.store(Hand::empty, std::memory_order_release);
  };
  // The hand for a block about to be taken out of worker x's slot j.
  auto hand_freeing = [&](std::uint64_t word, unsigned x, std::size_t j) {
    t->hand_value = BlockOf(word);
    t->hand_worker = x;
    t->hand_slot = j;
    t->hand.store(Hand::freeing, std::memory_order_release);
  };
  // One plain call on a loose block, with the hand written around it.
  auto loose_step = [&](std::uint64_t n) -> bool {
    const std::size_t j = rng() % kLoose;
    const std::uint64_t held = t->loose[j].load(std::memory_order_acquire);
    if (held == kNull) {
      // Mostly sizes a lane serves, one in four of them aligned beyond 16; now and then a
      // larger one, which takes the lock.
      const std::size_t size = sizeof(BlockHead) + (rng() % 16 == 0 ? rng() % 3000 : rng() % 1000);
      const std::size_t align = rng() % 4 == 0 ? 16u << (rng() % 4) : 16u;
      t->hand_value = size;
      t->hand_align = align;
      t->hand_slot = j;
      t->hand.store(Hand::allocating, std::memory_order_release);
      const talc::Result<talc::Meta> m = heap.try_allocate(size, align);
      if (m) t->loose[j].store(m->offset, std::memory_order_release);
      t->hand.store(Hand::empty, std::memory_order_release);
      if (!m) {
        if (m.error() != talc::Errc::out_of_memory) Failed(control, m.error());
        return false;
      }
      fill(*m, size, n);
      // Nobody else changes an unsealed word: a plain store seals it.
      t->loose[j].store(m->offset | kSeal, std::memory_order_release);
    } else {
      hand_freeing(held, w, j);
      // Another worker may have taken it since: then it is that one's to free.
      const std::uint64_t taken = t->loose[j].exchange(kNull, std::memory_order_acq_rel);
      if (taken == kNull) {
        t->hand.store(Hand::empty, std::memory_order_release);
        return false;
      }
      free_taken(taken);
    }
    return true;
  };
  // A sealed loose block of another worker, taken over with one compare-and-swap of that worker's
  // word and freed here: into this worker's lane, or back to the page it came from.
  const unsigned workers = static_cast<unsigned>(control->workers);
  auto take_over_step = [&]() -> bool {
    const unsigned x = (w + 1 + static_cast<unsigned>(rng() % (workers - 1))) % workers;
    auto* other = static_cast<Table*>(heap.address_of(control->tables[x]));
    const std::size_t j = rng() % kLoose;
    std::uint64_t word = other->loose[j].load(std::memory_order_acquire);
    if (!SealedWord(word)) return false;
    hand_freeing(word, x, j);
    if (!other->loose[j].compare_exchange_strong(word, kNull, std::memory_order_acq_rel)) {
      t->hand.store(Hand::empty, std::memory_order_release);
      return false;
    }
    free_taken(word);
    control->taken_over.fetch_add(1, std::memory_order_relaxed);
    return true;
  };
  for (std::uint64_t n = 0;; ++n) {
    if (const std::uint64_t r = control->rest.load(std::memory_order_acquire); r != 0) {
      control->resting[w].store(r, std::memory_order_release);
      while (control->rest.load(std::memory_order_acquire) == r)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (pauses && rng() % 4 == 0)
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % (kMaxPause.count() + 1)));
    const std::uint64_t r = rng() % 8;
    if (r < 4 ? slot_step(n) : r < 7 || workers < 2 ? loose_step(n) : take_over_step())
      control->ops.fetch_add(1, std::memory_order_relaxed);
    control->progress[w].fetch_add(1, std::memory_order_relaxed);
  }
}

pid_t Start(const std::string& name, unsigned w, std::uint64_t seed) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  try {
    Work(name, w, seed);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker %u: %s\n", w, e.what());
  }
  ::_exit(1);
}

struct Verdict {
  bool ok = true;
  std::string why;
};

// Under the lock, with every worker dead or at rest: the heap and its lanes pass check(), every
// sealed block is intact, every block a table names is live and in no lane, and every other
// allocated chunk is the lane table, a block a lane caches, a page or the page table, or what a
// distinct hand in `lost` (those of the workers killed since the last audit) held; so is every
// block a page holds that no table names. Such blocks are freed, `lost` is emptied, and then
// the live chunks and page blocks are exactly the control block, the tables and the blocks the
// tables name.
Verdict Audit(talc::MapTalc<>& heap, Control* control, unsigned workers, std::vector<Held>& lost,
              std::uint64_t& freed) {
  Verdict v;
  auto& lanes = heap.heap();
  const talc::Errc e = heap.with_lock([&](auto& m) {
    talc::CheckReport rep = m.check();
    if (rep.ok()) rep = lanes.check_lanes(m, true);
    if (!rep.ok()) {
      v = {false, std::string("check: ") + rep.what + " at " + std::to_string(rep.offset)};
      return;
    }
    auto* core = reinterpret_cast<std::byte*>(&m);
    // A block a user holds: a core chunk in no lane, or a page's handed-out block. Its chunk bytes
    // (a page block's class, tag included), or 0 when it is neither.
    auto held_bytes = [&](const void* p, bool& page) -> std::uint64_t {
      if (const std::optional<talc::Result<std::size_t>> u = lanes.page_usable(p)) {
        page = true;
        return u->ok() ? **u + talc::kTagSize : 0;
      }
      page = false;
      const talc::Result<std::size_t> u = m.usable_size(p);
      return u.ok() && !lanes.in_lanes(m, p) ? *u + talc::kTagSize : 0;
    };
    std::vector<const void*> named;
    std::uint64_t core_bytes = 0, page_bytes = 0;
    // A block a table names (or the control block, or a table): held, and intact when sealed.
    auto name = [&](std::uint64_t offset, bool sealed) {
      if (offset == kNull) return true;
      const auto* block = static_cast<const std::byte*>(heap.address_of(offset));
      bool page = false;
      const std::uint64_t bytes = held_bytes(block, page);
      if (bytes == 0) {
        v = {false, "a table names a block that is not live"};
        return false;
      }
      if (!Intact(sealed, block)) {
        v = {false, "a sealed block's bytes changed"};
        return false;
      }
      named.push_back(block);
      (page ? page_bytes : core_bytes) += bytes;
      return true;
    };
    if (!name(heap.offset_of(control), false)) return;
    for (unsigned w = 0; w < workers; ++w) {
      const auto* t = static_cast<const Table*>(heap.address_of(control->tables[w]));
      if (!name(control->tables[w], false)) return;
      for (std::size_t i = 0; i < kSlots; ++i)
        if (!name(t->slots[i], t->sealed[i].load() != 0)) return;
      for (std::size_t j = 0; j < kLoose; ++j) {
        const std::uint64_t word = t->loose[j].load();
        if (!name(BlockOf(word), SealedWord(word))) return;
      }
    }
    std::sort(named.begin(), named.end());
    if (std::adjacent_find(named.begin(), named.end()) != named.end()) {
      v = {false, "two words name one block"};
      return;
    }
    // The held blocks nobody names: each must be what a distinct dead hand held. A hand that was
    // giving a block back holds that block only; one that was asking for `size` bytes aligned to
    // `align` holds a block so aligned of at least that size and at most what a request of that
    // size is given (a lane's or a page's class, or a chunk the core could not split further).
    // Exact addresses are matched first; then the blocks, smallest first, each to the fitting hand
    // whose largest fit is smallest, which matches as many as can be.
    struct Unnamed {
      std::uint64_t usable;
      void* p;
      std::uint64_t page = kNull, b = 0, cls = 0;  // a page block: its page, index and class
      bool operator<(const Unnamed& o) const {
        return std::tie(usable, p) < std::tie(o.usable, o.p);
      }
    };
    std::vector<void*> chunks;
    m.for_each_chunk([&](const talc::Chunk& c, bool allocated) {
      void* p = m.address_of(c.user());
      if (allocated && !std::binary_search(named.begin(), named.end(), p)) chunks.push_back(p);
    });
    std::vector<Unnamed> unnamed;
    for (void* p : chunks)
      if (!lanes.in_lanes(m, p)) unnamed.push_back({*m.usable_size(p), p});
    const talc::PageTable& pages = lanes.pages();
    talc_test::ForEachHeldBlock(
        core, pages, m.heap_end(),
        [&](std::uint64_t page, std::uint64_t b, std::uint64_t cls, std::uint64_t user) {
          void* p = core + user;
          if (!std::binary_search(named.begin(), named.end(), p))
            unnamed.push_back({talc::PageConfig::chunk_of(cls) - talc::kTagSize, p, page, b, cls});
        });
    std::vector<Unnamed> orphans;
    for (const Unnamed& x : unnamed) {
      const auto held = std::find_if(lost.begin(), lost.end(), [&](const Held& h) {
        return h.what == Hand::freeing && heap.address_of(h.value) == x.p;
      });
      if (held != lost.end())
        lost.erase(held);
      else
        orphans.push_back(x);
    }
    // The most a hand's block may hold: its request, rounded as the core rounds it, or as a
    // page's class does (past 1040-byte chunks the classes are a quarter to an eighth apart).
    auto most = [&](const Held& h) {
      const std::uint64_t core_most = h.value + h.align + talc::kMinChunk + talc::kGranule;
      if (h.value > talc::PageConfig::kMaxRequest) return core_most;
      const std::uint64_t cls = talc::PageConfig::class_of(talc::chunk_size_for(h.value));
      return std::max(core_most, talc::PageConfig::chunk_of(cls) - talc::kTagSize);
    };
    // Whether `x` is aligned as hand `h` asked. An aligned request is served from
    // the class whose chunks are multiples of the alignment; when the heap has no room for a
    // page of it, the core gives a block of that class's size aligned to kGranule only, which
    // the call frees again when it is not aligned (Talc::allocate_aligned_page): a kill
    // between leaves that block in the hand.
    auto aligned = [&](const Unnamed& x, const Held& h) {
      if (reinterpret_cast<std::uintptr_t>(x.p) % h.align == 0) return true;
      const std::uint64_t s = (h.value + talc::kTagSize + h.align - 1) / h.align * h.align;
      return x.page == kNull && h.align > talc::kGranule && x.usable + talc::kTagSize >= s;
    };
    auto hands = [&] {
      std::string r;
      for (const Held& h : lost)
        r += std::string(r.empty() ? "" : ", ") +
             (h.what == Hand::allocating
                  ? "allocating " + std::to_string(h.value) + "/" + std::to_string(h.align)
                  : "freeing " + std::to_string(h.value));
      return r.empty() ? std::string("none") : r;
    };
    std::sort(orphans.begin(), orphans.end());
    for (const Unnamed& x : orphans) {
      auto best = lost.end();
      for (auto h = lost.begin(); h != lost.end(); ++h)
        if (h->what == Hand::allocating && h->value <= x.usable && x.usable <= most(*h) &&
            aligned(x, *h) && (best == lost.end() || most(*h) < most(*best)))
          best = h;
      if (best == lost.end()) {
        v = {false, std::string("a live ") + (x.page != kNull ? "page block" : "block") +
                        " at offset " + std::to_string(heap.offset_of(x.p)) + " (" +
                        std::to_string(x.usable) +
                        " bytes) that nothing names, no lane holds and no dead worker held (the "
                        "dead hands: " +
                        hands() + ")"};
        return;
      }
      lost.erase(best);
    }
    // Freed here: a page block by its index, since a block whose live bit its dead owner set
    // may not have its word written yet (page.hpp); a core block by address.
    for (const Unnamed& x : unnamed) {
      ++freed;
      const talc::Errc f =
          x.page != kNull ? talc::Page{core, x.page, pages.geometry().layout(x.cls)}.give_back(x.b)
                          : m.deallocate(x.p);
      if (f != talc::Errc::ok) {
        v = {false, std::string("a dead worker's block could not be freed: ") + talc::describe(f)};
        return;
      }
    }
    lost.clear();
    talc::Census c = m.census();
    lanes.subtract_lanes(c);
    // The core's free bytes are what no live chunk takes: the named chunks, the lane table, the
    // pages and their table.
    const std::uint64_t rest = lanes.table_chunk() + pages.counts(core, m.heap_end()).chunk_bytes +
                               lanes.page_table_chunk();
    if (c.live_chunks != named.size() || c.live_bytes != core_bytes + page_bytes ||
        c.free_bytes != m.capacity() - core_bytes - rest)
      v = {false, "live chunks " + std::to_string(c.live_chunks) + " (" +
                      std::to_string(c.live_bytes) + " bytes) where the tables account for " +
                      std::to_string(named.size()) + " (" + std::to_string(core_bytes) + " + " +
                      std::to_string(page_bytes) + " bytes)"};
  });
  if (e != talc::Errc::ok) v = {false, talc::describe(e)};
  if (control->damaged.load() != 0) {
    const auto f = static_cast<talc::Errc>(control->failure.load());
    v = {false, f == talc::Errc::ok ? std::string("a worker found a damaged block")
                                    : std::string("a worker's call failed: ") + talc::describe(f)};
  }
  return v;
}

using Clock = std::chrono::steady_clock;

// Kills worker w's process and reaps it; what its hand held joins `lost`, and the hand is
// emptied for its replacement.
void Kill(talc::MapTalc<>& heap, const Control* control, unsigned w, pid_t pid,
          std::vector<Held>& lost) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  auto* t = static_cast<Table*>(heap.address_of(control->tables[w]));
  const Hand what = t->hand.load(std::memory_order_acquire);
  // An allocation whose block its slot already names lost nothing; nor a free whose block the
  // word it was to be taken from still names (it was not taken: the block cannot have come back
  // there while a dead hand held it).
  bool named = false;
  if (what == Hand::allocating) {
    named = t->loose[t->hand_slot % kLoose].load() != kNull;
  } else if (what == Hand::freeing) {
    const auto* from =
        static_cast<const Table*>(heap.address_of(control->tables[t->hand_worker % kMaxWorkers]));
    named = BlockOf(from->loose[t->hand_slot % kLoose].load()) == t->hand_value;
  }
  if (what != Hand::empty && !named) lost.push_back({what, t->hand_value, t->hand_align});
  t->hand.store(Hand::empty, std::memory_order_release);
}

// Asks every worker to rest between two calls, and waits at most kProgressBound until all do.
// Returns those that did not.
std::vector<unsigned> Rest(Control* control, unsigned workers) {
  static std::uint64_t round = 0;
  const std::uint64_t r = ++round;  // a value no worker has answered yet
  control->rest.store(r, std::memory_order_release);
  const Clock::time_point from = Clock::now();
  std::vector<unsigned> restless;
  for (;;) {
    restless.clear();
    for (unsigned w = 0; w < workers; ++w)
      if (control->resting[w].load(std::memory_order_acquire) != r) restless.push_back(w);
    if (restless.empty() || Clock::now() - from >= kProgressBound) return restless;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

// Waits, at most kProgressBound from `from`, until every worker's count has moved past
// `since`. Returns the workers whose count did not; `took` is how long the last one needed.
std::vector<unsigned> AwaitProgress(const Control* control, unsigned workers,
                                    const std::uint64_t* since, Clock::time_point from,
                                    Clock::duration& took) {
  std::vector<unsigned> behind;
  for (;;) {
    behind.clear();
    for (unsigned w = 0; w < workers; ++w)
      if (control->progress[w].load(std::memory_order_relaxed) <= since[w]) behind.push_back(w);
    const Clock::time_point now = Clock::now();
    took = now - from;
    if (behind.empty() || took >= kProgressBound) return behind;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t kills = 100, workers = 4, seed = 1;
  bool usage = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 == argc) {
      usage = true;
      break;
    }
    const std::uint64_t v = std::strtoull(argv[++i], nullptr, 10);
    if (a == "--kills")
      kills = v;
    else if (a == "--workers")
      workers = v;
    else if (a == "--seed")
      seed = v;
    else
      usage = true;
  }
  if (usage || workers == 0 || workers > kMaxWorkers) {
    std::fprintf(stderr, "usage: %s [--kills N] [--workers 1..8] [--seed S]\n", argv[0]);
    return 2;
  }
  const std::string name = "/talc-torture-" + std::to_string(::getpid());
  auto heap = talc::MapTalc<>::create_shm(name, 16 << 20);
  if (!heap.heap().has_lanes()) {
    std::fprintf(stderr, "the heap was not built with lanes and pages\n");
    return 2;
  }
  auto* control = heap.construct<Control>();
  control->workers = workers;
  for (unsigned w = 0; w < workers; ++w) {
    const talc::Meta t = heap.allocate(sizeof(Table));
    auto* table = ::new (t.ptr()) Table{};
    std::memset(table->slots, 0xff, sizeof table->slots);  // every slot null
    for (std::atomic<std::uint64_t>& word : table->loose) word.store(kNull);
    control->tables[w] = t.offset;
  }
  heap.set_root(heap.offset_of(control));

  std::mt19937_64 rng(seed);
  std::vector<pid_t> pids;
  for (unsigned w = 0; w < workers; ++w) pids.push_back(Start(name, w, rng()));

  const auto t0 = Clock::now();
  Verdict v;
  std::uint64_t done = 0, stalls = 0, freed = 0, in_plain = 0;
  std::vector<Held> lost;  // the hands of workers killed since the last audit
  auto kill = [&](unsigned x) {
    const std::size_t before = lost.size();
    Kill(heap, control, x, pids[x], lost);
    in_plain += lost.size() - before;
  };
  // Every worker at rest, then the audit, then back to work.
  auto audit = [&] {
    if (const std::vector<unsigned> restless = Rest(control, static_cast<unsigned>(workers));
        !restless.empty())
      v = {false, "worker " + std::to_string(restless.front()) + " did not come to rest"};
    else
      v = Audit(heap, control, static_cast<unsigned>(workers), lost, freed);
    control->rest.store(0, std::memory_order_release);
  };
  Clock::duration slowest{};
  while (done < kills && v.ok) {
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    const unsigned w = static_cast<unsigned>(rng() % workers);
    kill(w);
    ++done;
    Clock::time_point killed = Clock::now();
    // The counts at the kill; the victim's stands still until its replacement runs.
    std::uint64_t since[kMaxWorkers];
    for (unsigned x = 0; x < workers; ++x) since[x] = control->progress[x].load();
    pids[w] = Start(name, w, rng());
    if (done < kills && rng() % 8 == 0) {
      // The replacement too, a moment after its start: in the fork, the open or its first calls.
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
      kill(w);
      ++done;
      killed = Clock::now();
      since[w] = control->progress[w].load();
      pids[w] = Start(name, w, rng());
    }
    // Before the audit: its lock and unlock would wake a sleeper that nobody else wakes.
    Clock::duration took{};
    const std::vector<unsigned> behind =
        AwaitProgress(control, static_cast<unsigned>(workers), since, killed, took);
    for (const unsigned x : behind) {
      int status = 0;
      if (::waitpid(pids[x], &status, WNOHANG) == pids[x]) {
        v = {false, "worker " + std::to_string(x) + " exited by itself"};
        pids[x] = 0;
        continue;
      }
      ++stalls;
      std::fprintf(stderr,
                   "stall: worker %u (pid %d) finished no call in %lld ms after kill %" PRIu64
                   " (its count stays at %" PRIu64 "); killed and replaced\n",
                   x, static_cast<int>(pids[x]), static_cast<long long>(kProgressBound.count()),
                   done, since[x]);
      kill(x);
      pids[x] = Start(name, x, rng());
    }
    if (behind.empty()) slowest = std::max(slowest, took);
    if (v.ok) audit();
  }
  for (unsigned x = 0; x < workers; ++x)
    if (pids[x] > 0) kill(x);
  if (v.ok) v = Audit(heap, control, static_cast<unsigned>(workers), lost, freed);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

  const std::uint64_t ops = control->ops.load(), control_taken = control->taken_over.load();
  // Everything the tables name, then the tables and the control block: one free chunk is left.
  if (v.ok) {
    for (unsigned w = 0; w < workers; ++w) {
      const talc::Meta t = *heap.adopt(
          talc::RelMeta(talc::Rel<std::byte>::from_offset(control->tables[w]), sizeof(Table)));
      for (std::size_t i = 0; i < kSlots; ++i) heap.deallocate_from(t, i);
      for (const std::atomic<std::uint64_t>& word : t.as<Table>()->loose)
        if (word.load() != kNull) heap.deallocate(heap.address_of(BlockOf(word.load())));
      heap.deallocate(t);
    }
    heap.destroy(control);
    heap.trim();  // this thread's lane, and the killed workers'
    const talc::Census c = heap.census();
    if (c.live_chunks != 0 || c.free_chunks != 1)
      v = {false, "the heap did not drain to one chunk"};
  }
  if (v.ok && stalls != 0) v = {false, std::to_string(stalls) + " stalled"};
  std::printf("talc torture: %" PRIu64 " kills of %" PRIu64 " workers in %.1f s; %" PRIu64
              " operations (%" PRIu64 " frees of another worker's block); %" PRIu64
              " recoveries, %" PRIu64 " of them rolled an operation back; %" PRIu64
              " stalled (the slowest progress after a kill: %.1f ms); %" PRIu64
              " kills inside a plain allocate or free, which left %" PRIu64
              " blocks in the dead worker's hands (found and freed)\n",
              done, workers, secs, ops, control_taken, heap.recoveries(), heap.rollbacks(), stalls,
              std::chrono::duration<double, std::milli>(slowest).count(), in_plain, freed);
  talc::MapTalc<>::remove_shm(name);
  std::printf("%s%s\n", v.ok ? "OK" : "FAILED: ", v.why.c_str());
  return v.ok ? 0 : 1;
}
