// libFuzzer target for talc::TalcMeta, the core heap: each input is a program of heap
// operations, run against a shadow model that knows what every answer must be.
//
// Input format. Bytes read past the end of the input are 0, so every input is a program.
//   [0..1]  heap size v (little-endian): e = (v >> 12) % 9, m = v & 0xfff; the buffer has
//           min_claim_size() + (e == 0 ? m : (0x1000 | m) << (e - 1)) bytes, at most 1 MiB.
//   [2]     bits 0-5: the buffer's distance from a 64-byte boundary (0..63);
//           bit 7: ClaimOptions::checked.
//   [3]     % 4, the heap type: TalcMeta<>; the same without the journal; coarse bins
//           BinConfig<1, 64, 0>; fine bins BinConfig<4, 512, 3>.
//   Then up to 4096 operations: an opcode byte (% 19) and its operands.
//   0-4   allocate    S A   S: a size (below); A: alignment 2^(A % 18)
//   5-8   free        K     the live block K % live count
//   9     bad free    T K   T % 7: null; a pointer into live block K (K picks the offset too);
//                           a double free of recently freed pointer K; into the metadata;
//                           past the heap's end; before the buffer; live block K's offset in
//                           the other arena (where the heap is not). usable_size, reallocate,
//                           try_grow and try_shrink must refuse it with the same Errc.
//   10    bad request T X   T % 6: alignment 0; not a power of two; above kMaxAlign; size above
//                           kMaxRequest; size near SIZE_MAX; a legal size above the capacity
//   11    fill        K X   rewrite live block K with pattern seed X
//   12    check             check(), census(), usable_size and patterns of every live block
//   13    forge       K X   checked heaps only: write a plausible chunk (tags, and with X odd a
//                           free chunk below it) inside live block K and free it
//   14    interrupt   P N   run the nested operation N % 16 and end it at its (P % 32 + 1)-th
//                           (allocate, free) or (P % 64 + 1)-th (the others) metadata write as
//                           a dying process would; then recover_after_death(), which must accept
//                           the roll-back. With P's bit 7, the size in the tag above the first
//                           chunk the journal names is torn first, unless that word is the
//                           sentinel or journalled: it must refuse, and only corrupt operations
//                           run after it, as after 16. N below 10: an allocate
//                           (N even: S A follow) or a free (N odd: K follows); 10 reallocate
//                           K S A; 11 try_grow K S; 12 try_shrink K S; 13 grow X (by 16 (X + 3)
//                           bytes, or with X >= 128 by X % 16 + 1 pages); 14 reallocate K to
//                           its usable size + S; 15 reallocate K S
//   15    relocate    X     copy the heap to the other arena, 64 * (X % 16) bytes in, attach()
//   16    corrupt     W W X overwrite the word at (W | W << 8) / 65536 of the span (X >> 6: flip
//                           bit X % 64; X % 64 granules; the old value + 16 * (X % 64 - 32);
//                           all ones but bit X % 64). Only further corrupt operations run after
//                           it, and the input ends as a recovering process would: attach(),
//                           check(), roll_back() if the journal has entries, check().
//   17    resize      T K   T % 8: 0 reallocate(S, A); 1 reallocate(S); 2 try_grow(S);
//                           3 try_shrink(S) (S, and A for 0, follow), all on live block K;
//                           4 allocate_zeroed(S, A) (K unused); 5 a refused resize, K % 6:
//                           bad alignment, alignment above kMaxAlign, size above kMaxRequest,
//                           size near SIZE_MAX, size above the capacity, null pointer (X
//                           follows: the block and the value); 6 reallocate and 7 try_grow to
//                           block K's usable size + S
//   18    grow        T X   T % 4: grow the span by X bytes; by X granules; by X % 64 + 1 pages
//                           (at most to 1 MiB, within the arena); 3 a refusal: a smaller span
//                           (X even) or one above kMaxSpan (X odd)
//   Size S, from its first byte s0 and up to two more, s1 and s2, by s0 >> 6:
//     0: s0 & 63;  1: (s0 & 63) << 8 | s1;  2: (256 | s1) << (s0 & 31) >> 8, a logarithmic
//     spread up to 2^32 (past the heap, out_of_memory);  3: (s0 & 63) << 16 | s1 << 8 | s2.
//
// Every answer is checked: blocks are aligned, inside the heap and disjoint, with at most one
// granule of slack; every refusal has its exact Errc and changes nothing (but the failure count
// of a refusal for want of memory); out_of_memory only when no bin that must fit holds a chunk
// (for try_grow: when the chunk above cannot give the bytes); live blocks keep their bytes, a
// resized block its first min(old usable, new size) of them, in place where the call promises
// it; zeroed blocks are zero; a growth adds exactly the new bytes as one free chunk at the top;
// check() passes after every check op, relocation, growth and roll-back (whose counters are then
// exact, and which the local check of recover_after_death accepts), and stats() agrees with
// census() and with the model's count of operations; an interrupted operation rolls back to the
// exact bytes it started from; and freeing everything leaves one free chunk spanning the
// capacity.
// After a corruption, what must hold for any bytes: the inspecting calls terminate, stay in
// the span, and report a corruption with its offset inside the span.
//
// The arena outside the heap's span is poisoned for AddressSanitizer, so the heap reading or
// writing one byte outside its span is a crash, not a silent scribble on a static array. A
// growth unpoisons the bytes it offers before grow() is called, as a caller extends its mapping,
// and poisons them again when the heap does not keep them.

// The interrupt operation needs the hook that this puts into every metadata write. Nothing
// else in this program instantiates the heap, so the definition cannot differ between units.
#define TALC_FAULT_INJECTION 1

#include <algorithm>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "talc/core/bin_config.hpp"
#include "talc/core/chunk.hpp"
#include "talc/core/errors.hpp"
#include "talc/core/journal.hpp"
#include "talc/core/talc_meta.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TALC_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TALC_FUZZ_ASAN 1
#endif
#ifdef TALC_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace {

using talc::Errc;

constexpr std::size_t kMaxBuffer = std::size_t{1} << 20;
// Room for the buffer's misalignment and for relocating up to 15 * 64 bytes into an arena.
constexpr std::size_t kArenaSize = kMaxBuffer + 2048;
constexpr int kMaxOps = 4096;
constexpr std::size_t kRing = 8;  // recently freed pointers kept for double frees
// Per-input budgets that keep a worst-case input well under a few hundred milliseconds.
constexpr int kMaxRelocations = 8;
constexpr int kMaxInterrupts = 16;
constexpr std::uint64_t kPatternBudget = std::uint64_t{16} << 20;  // bytes filled or verified
constexpr std::uint64_t kWindow = 256;  // bytes at each end of a block past that budget
constexpr std::uint64_t kCompareBudget = std::uint64_t{32} << 20;  // bytes compared whole

alignas(64) std::byte g_arena[2][kArenaSize];
alignas(64) std::byte g_snapshot[kArenaSize];
int g_op = -1;  // the operation being run, for the failure message

[[noreturn]] __attribute__((format(printf, 1, 2))) void Fail(const char* fmt, ...) {
  std::fprintf(stderr, "talc_meta_fuzz: op %d: ", g_op);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}

const char* Name(Errc e) {
  return talc::describe(e);
}

unsigned long long U(std::uint64_t v) {
  return static_cast<unsigned long long>(v);
}

void Poison(const void* p, std::size_t n) {
#ifdef TALC_FUZZ_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

void Unpoison(const void* p, std::size_t n) {
#ifdef TALC_FUZZ_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

// ---- the simulated death ------------------------------------------------------------------

// The hook runs after every metadata write. Once armed, it counts writes down and, at zero,
// jumps back to the driver as if the process had died right there. Commit's own hook call
// disarms it: a death after the commit is a finished operation, whose result the driver must
// see returned to keep its model. The commit is recognised by a zero journal length after a
// non-zero one, or by an operation counter that moved (each operation bumps one right before
// its commit): a reallocation that keeps its block as it is commits without writing anything.
std::jmp_buf g_death;
int g_countdown = 0;
bool g_logged = false;
const std::byte* g_journal_len = nullptr;
const std::byte* g_counters = nullptr;
std::uint64_t g_operations = 0;  // the operation counters' sum when the hook was armed

std::uint64_t JournalLength() {
  std::uint64_t n;
  std::memcpy(&n, g_journal_len, sizeof n);
  return n;
}

std::uint64_t Operations() {
  talc::HeapCounters k;
  std::memcpy(&k, g_counters, sizeof k);
  return k.allocations + k.deallocations + k.reallocations + k.growths;
}

void DeathHook() {
  if (g_countdown == 0) return;
  if (Operations() != g_operations) {
    g_countdown = 0;
    return;
  }
  if (JournalLength() != 0) {
    g_logged = true;
  } else if (g_logged) {
    g_countdown = 0;
    return;
  }
  if (--g_countdown == 0) std::longjmp(g_death, 1);
}

// Runs f; true when the hook ended it. Only trivially destructible frames lie between the
// setjmp and the hook (the heap's noexcept paths), so the jump skips no destructor.
template <class F>
bool RunUntilDeath(F&& f) {
  if (setjmp(g_death) != 0) return true;
  f();
  return false;
}

// ---- input ---------------------------------------------------------------------------------

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  std::uint8_t Byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  bool empty() const { return n_ == 0; }

  std::size_t Size() {
    const std::uint8_t s0 = Byte();
    switch (s0 >> 6) {
      case 0:
        return s0 & 63u;
      case 1:
        return std::size_t{s0 & 63u} << 8 | Byte();
      case 2:
        return ((std::size_t{256} | Byte()) << (s0 & 31u)) >> 8;
      default: {
        const std::size_t hi = std::size_t{s0 & 63u} << 16;
        const std::size_t mid = std::size_t{Byte()} << 8;
        return hi | mid | Byte();
      }
    }
  }
  std::size_t Align() { return std::size_t{1} << (Byte() % 18); }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

// ---- block contents ------------------------------------------------------------------------

// A word of a block's pattern: from the seed and the word's index, never from an address, so
// the pattern survives relocation, and a block written at a shifted position is caught. With
// `tagless`, bit 2 is set in every byte: no word of the block is a well-formed tag, so an
// unchecked heap (which trusts a plausible tag, by design) never meets one inside a block.
// Not instrumented for coverage: its comparisons say nothing about the heap, and their trace
// callbacks would cost more than the heap operations themselves.
#define TALC_FUZZ_UNTRACED __attribute__((no_sanitize("coverage")))

TALC_FUZZ_UNTRACED std::uint64_t PatternWord(std::uint32_t seed, std::uint64_t index,
                                             bool tagless) {
  std::uint64_t x = (std::uint64_t{seed} + 1) * 0x9E3779B97F4A7C15u ^ index * 0xD1B54A32D192ED03u;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9u;
  x ^= x >> 32;
  return tagless ? x | 0x0404040404040404u : x;
}

template <class T>
struct HeapTraits;
template <class B, bool J>
struct HeapTraits<talc::TalcMeta<B, J>> {
  static constexpr bool kJournaled = J;
};

struct Block {
  std::uint64_t off;     // of the user pointer, from the heap base
  std::uint64_t size;    // requested
  std::uint64_t align;   // requested
  std::uint64_t usable;  // usable_size at allocation; the chunk is [off - 8, off + usable)
  std::uint32_t seed;
  bool whole;  // every word carries the pattern, not only the ends
};

// ---- the driver ----------------------------------------------------------------------------

template <class Heap>
class Driver {
  using Bins = typename Heap::BinConfigType;
  static constexpr bool kJournaled = HeapTraits<Heap>::kJournaled;

 public:
  Driver(int arena, std::size_t skew, std::size_t len, bool checked) : arena_(arena) {
    std::byte* buf = g_arena[arena] + skew;
    // Claim's refusals write nothing: the whole arena is still poisoned here.
    Expect(Heap::claim(nullptr, len).error(), Errc::null_region, "claim(nullptr)");
    Expect(Heap::claim(buf, 0).error(), Errc::region_too_small, "claim of 0 bytes");
    Expect(Heap::claim(buf, sizeof(Heap)).error(), Errc::region_too_small, "claim of sizeof");
    Expect(Heap::claim(buf, std::size_t{1} << 49).error(), Errc::region_too_large,
           "claim of 2^49 bytes");

    const std::size_t pad = (64 - reinterpret_cast<std::uintptr_t>(buf) % 64) % 64;
    Unpoison(buf + pad, len - pad);
    // The same bytes under every input, so that a crash reproduces alone: whatever the heap
    // reads before writing (the journal records old values) must not come from the previous
    // input. 0xa5 has bit 2 set, so no stale word reads as a well-formed tag.
    std::memset(buf + pad, 0xa5, len - pad);
    const auto r = Heap::claim(buf, len, talc::ClaimOptions{.checked = checked});
    if (!r) Fail("claim(%zu bytes, skew %zu) refused: %s", len, skew, Name(r.error()));
    heap_ = *r;
    if (reinterpret_cast<std::byte*>(heap_) != buf + pad) Fail("heap not at the first 64-boundary");
    if (heap_->checked() != checked) Fail("checked() disagrees with the claim");
    if (heap_->span() != len - pad) Fail("span %llu for %zu bytes", U(heap_->span()), len - pad);
    // The sentinel takes the last word at the chunk phase that fits: under a granule is lost.
    if (heap_->heap_end() + talc::kTagSize > heap_->span() ||
        heap_->span() - heap_->heap_end() - talc::kTagSize >= talc::kGranule)
      Fail("heap end %llu wastes the span %llu", U(heap_->heap_end()), U(heap_->span()));
    span_ = heap_->span();
    tagless_ = !checked;
    CheckHeap(true);
    const talc::Census c = heap_->census();
    if (c.free_chunks != 1 || c.free_bytes != heap_->capacity())
      Fail("a fresh heap is not one free chunk of the capacity");
  }

  void Run(Reader& in) {
    for (g_op = 0; g_op < kMaxOps && !in.empty(); ++g_op) {
      const std::uint8_t op = in.Byte() % 19;
      if (broken_ && op != 16) continue;  // a corrupted heap gets nothing but more damage
      if (op <= 4) {
        const std::size_t size = in.Size();
        Allocate(size, in.Align());
      } else if (op <= 8) {
        Free(in.Byte());
      } else if (op == 9) {
        const std::uint8_t kind = in.Byte();
        BadFree(kind, in.Byte());
      } else if (op == 10) {
        const std::uint8_t kind = in.Byte();
        BadRequest(kind, in.Byte());
      } else if (op == 11) {
        const std::uint8_t k = in.Byte();
        Refill(k, in.Byte());
      } else if (op == 12) {
        CheckHeap(true);
      } else if (op == 13) {
        const std::uint8_t k = in.Byte();
        Forge(k, in.Byte());
      } else if (op == 14) {
        Interrupt(in);
      } else if (op == 15) {
        Relocate(in.Byte());
      } else if (op == 16) {
        const std::uint8_t lo = in.Byte(), hi = in.Byte();
        Corrupt(static_cast<std::uint16_t>(lo | hi << 8), in.Byte());
      } else if (op == 17) {
        Resize(in);
      } else {
        const std::uint8_t kind = in.Byte();
        Grow(kind, in.Byte());
      }
    }
    g_op = -1;
    if (broken_) {
      Recover();
    } else {
      Finish();
    }
  }

 private:
  // ---- plumbing ----------------------------------------------------------------------------

  static void Expect(Errc got, Errc want, const char* what) {
    if (got != want) Fail("%s: got \"%s\", want \"%s\"", what, Name(got), Name(want));
  }

  std::byte* Base() const { return reinterpret_cast<std::byte*>(heap_); }
  void* At(std::uint64_t off) const { return Base() + off; }
  std::uint64_t OffsetOf(const void* p) const {
    return reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(heap_);
  }

  bool Spend(std::uint64_t n) {
    if (pattern_budget_ < n) return false;
    pattern_budget_ -= n;
    return true;
  }

  // The words of a block that carry its pattern, [0, head) and [tail, words): all of them while
  // the budget lasts, then the first and last kWindow bytes, where a neighbour's metadata would
  // land.
  static void PatternWords(const Block& b, bool whole, std::uint64_t& head, std::uint64_t& tail) {
    const std::uint64_t words = b.usable / 8, window = kWindow / 8;
    head = tail = words;
    if (!whole && words > 2 * window) {
      head = window;
      tail = words - window;
    }
  }

  TALC_FUZZ_UNTRACED void Fill(Block& b) {
    b.whole = Spend(b.usable);
    std::uint64_t head, tail;
    PatternWords(b, b.whole, head, tail);
    std::byte* p = Base() + b.off;
    for (std::uint64_t i = 0; i < b.usable / 8; i = i + 1 == head ? tail : i + 1) {
      const std::uint64_t w = PatternWord(b.seed, i, tagless_);
      std::memcpy(p + 8 * i, &w, 8);
    }
  }

  TALC_FUZZ_UNTRACED void Verify(const Block& b) { VerifyAt(b, b.off, b.usable); }

  // The first `keep` bytes of block b's pattern, found at offset `at`: where a reallocation
  // left them, in place or moved.
  TALC_FUZZ_UNTRACED void VerifyAt(const Block& b, std::uint64_t at, std::uint64_t keep) {
    std::uint64_t head, tail;
    PatternWords(b, b.whole && Spend(keep), head, tail);
    const std::byte* p = Base() + at;
    for (std::uint64_t i = 0; i < b.usable / 8 && 8 * i < keep; i = i + 1 == head ? tail : i + 1) {
      std::uint64_t got = 0;
      std::uint64_t want = PatternWord(b.seed, i, tagless_);
      const std::uint64_t n = std::min<std::uint64_t>(8, keep - 8 * i);
      std::memcpy(&got, p + 8 * i, n);
      if (n < 8) want &= (std::uint64_t{1} << (8 * n)) - 1;  // little-endian: the low bytes
      if (got != want) PatternFail(b, i, got, want);
    }
  }

  [[noreturn]] static void PatternFail(const Block& b, std::uint64_t i, std::uint64_t got,
                                       std::uint64_t want) {
    Fail("live block at offset %llu (size %llu, usable %llu): word %llu is %016llx, want %016llx",
         U(b.off), U(b.size), U(b.usable), U(i), U(got), U(want));
  }

  // The gap the heap leaves before a block it carves at `base` for `align`: the header's rule,
  // restated from the addresses (gaps under kMinChunk move one alignment step further).
  std::uint64_t GapFor(std::uint64_t base, std::uint64_t align) const {
    if (align <= talc::kGranule) return 0;
    const std::uint64_t mis =
        (reinterpret_cast<std::uintptr_t>(At(base)) + talc::kTagSize) & (align - 1);
    if (mis == 0) return 0;
    const std::uint64_t gap = align - mis;
    return gap < talc::kMinChunk ? gap + align : gap;
  }

  // The chunk of the walk that contains `off`, with whether it is allocated.
  bool ChunkAt(std::uint64_t off, talc::Chunk& found, bool& allocated) const {
    bool hit = false;
    heap_->for_each_chunk([&](const talc::Chunk& c, bool a) {
      if (!hit && off >= c.base && off < c.end()) {
        found = c;
        allocated = a;
        hit = true;
      }
    });
    return hit;
  }

  // What a refused request or free must leave untouched: the whole span while the compare
  // budget lasts (it is the strongest statement), the metadata after that.
  std::uint64_t Save() {
    std::uint64_t n = heap_->heap_start();
    if (compare_budget_ >= heap_->span()) {
      n = heap_->span();
      compare_budget_ -= n;
    }
    std::memcpy(g_snapshot, Base(), n);
    return n;
  }

  // `failed`: the refusals for want of memory the call may count (HeapCounters::failures), the
  // one word a refusal writes.
  void ExpectUnchanged(std::uint64_t n, const char* what, std::uint64_t failed = 0) const {
    if (failed != 0) {
      const std::uint64_t at = Heap::counters_offset() + offsetof(talc::HeapCounters, failures);
      std::uint64_t w;
      std::memcpy(&w, g_snapshot + at, 8);
      w += failed;
      std::memcpy(g_snapshot + at, &w, 8);
    }
    if (std::memcmp(g_snapshot, Base(), n) == 0) return;
    std::uint64_t i = 0;
    while (g_snapshot[i] == Base()[i]) ++i;
    Fail("%s changed the heap at offset %llu", what, U(i));
  }

  void CheckHeap(bool patterns) {
    const talc::CheckReport rep = heap_->check();
    if (!rep.ok())
      Fail("check(): %s: %s at offset %llu (detail %llu)", Name(rep.code), rep.what, U(rep.offset),
           U(rep.detail));
    const talc::Census c = heap_->census();
    if (c.live_bytes + c.free_bytes != heap_->capacity())
      Fail("census: live %llu + free %llu bytes != capacity %llu", U(c.live_bytes), U(c.free_bytes),
           U(heap_->capacity()));
    if (c.live_chunks != live_.size())
      Fail("census: %llu live chunks, the model has %zu", U(c.live_chunks), live_.size());
    if (c.largest_free > c.free_bytes || (c.free_chunks == 0) != (c.free_bytes == 0))
      Fail("census: largest free %llu of %llu bytes in %llu chunks", U(c.largest_free),
           U(c.free_bytes), U(c.free_chunks));
    std::uint64_t live_bytes = 0;
    for (const Block& b : live_) {
      const auto u = heap_->usable_size(At(b.off));
      if (!u || *u != b.usable)
        Fail("usable_size of the live block at %llu: %s, %zu (was %llu)", U(b.off), Name(u.error()),
             *u, U(b.usable));
      live_bytes += b.usable + talc::kTagSize;
    }
    if (live_bytes != c.live_bytes)
      Fail("census: %llu live bytes, the model has %llu", U(c.live_bytes), U(live_bytes));
    CheckStats(c);
    // Once the budget is spent, blocks are still verified when they are freed or rewritten.
    if (patterns && pattern_budget_ > 0)
      for (const Block& b : live_) Verify(b);
  }

  // stats() against the walk, and the operation counts against the model's.
  void CheckStats(const talc::Census& c) const {
    const talc::HeapStats s = heap_->stats();
    const std::uint64_t live_usable = c.live_bytes - c.live_chunks * talc::kTagSize;
    if (s.live_allocations != c.live_chunks || s.live_bytes != live_usable ||
        s.free_chunks != c.free_chunks || s.free_bytes != c.free_bytes ||
        s.largest_free != c.largest_free)
      Fail(
          "stats(): %llu live blocks of %llu bytes, %llu free chunks of %llu bytes, largest %llu; "
          "the walk: %llu, %llu, %llu, %llu, %llu",
          U(s.live_allocations), U(s.live_bytes), U(s.free_chunks), U(s.free_bytes),
          U(s.largest_free), U(c.live_chunks), U(live_usable), U(c.free_chunks), U(c.free_bytes),
          U(c.largest_free));
    if (s.span_bytes != heap_->span() ||
        s.live_bytes + s.free_bytes + s.overhead_bytes != s.span_bytes ||
        s.overhead_bytes != heap_->heap_start() + (heap_->span() - heap_->heap_end()) +
                                c.live_chunks * talc::kTagSize)
      Fail("stats(): live %llu + free %llu + overhead %llu bytes, span %llu", U(s.live_bytes),
           U(s.free_bytes), U(s.overhead_bytes), U(s.span_bytes));
    const double f = s.fragmentation();
    if (!(f >= 0.0 && f < 1.0) || ((c.free_chunks <= 1) != (f == 0.0)))
      Fail("fragmentation %g with %llu free chunks", f, U(c.free_chunks));
    if (s.allocations != want_.allocations || s.deallocations != want_.deallocations ||
        s.reallocations != want_.reallocations || s.failures != want_.failures ||
        s.growths != want_.growths || s.peak_live_bytes != want_.peak_live_bytes ||
        s.recoveries != 0 || s.rollbacks != 0)
      Fail(
          "stats(): %llu allocations, %llu deallocations, %llu reallocations, %llu failures, %llu "
          "growths, peak %llu; the model: %llu, %llu, %llu, %llu, %llu, %llu",
          U(s.allocations), U(s.deallocations), U(s.reallocations), U(s.failures), U(s.growths),
          U(s.peak_live_bytes), U(want_.allocations), U(want_.deallocations),
          U(want_.reallocations), U(want_.failures), U(want_.growths), U(want_.peak_live_bytes));
  }

  // An operation that committed: its counter, and the peak of live usable bytes after it.
  void Counted(std::uint64_t talc::HeapCounters::*op) {
    ++(want_.*op);
    want_.peak_live_bytes = std::max(want_.peak_live_bytes, live_usable_);
  }

  Block* Pick(std::uint8_t k) { return live_.empty() ? nullptr : &live_[k % live_.size()]; }

  // ---- operations --------------------------------------------------------------------------

  // Checks an answer of allocate (also reached from an interrupted one that finished).
  void Accept(const talc::Result<void*>& r, std::size_t size, std::size_t align) {
    if (!r) {
      Expect(r.error(), Errc::out_of_memory, "allocate(valid request)");
      ExpectOutOfMemory(size, align);
      ++want_.failures;
      return;
    }
    const std::uint64_t usable = Place(*r, size, align);
    Block b{OffsetOf(*r), size, align, usable, static_cast<std::uint32_t>(g_op) * 2654435761u,
            false};
    Fill(b);
    live_.push_back(b);
    live_usable_ += usable;
    Counted(&talc::HeapCounters::allocations);
  }

  // Checks a block the heap has just handed out at p for `size` bytes aligned to `align`
  // (allocated, or resized in place or by a move), against the live chunks of the model, and
  // adds its chunk to them. Returns its usable size.
  std::uint64_t Place(void* q, std::size_t size, std::size_t align) {
    const auto p = reinterpret_cast<std::uintptr_t>(q);
    if (p % align != 0 || p % talc::kGranule != 0)
      Fail("block for (%zu, %zu) at %#llx: misaligned", size, align, U(p));
    const std::uint64_t off = OffsetOf(q);
    if (off < heap_->heap_start() + talc::kTagSize || off >= heap_->heap_end())
      Fail("block for (%zu, %zu) at offset %llu, outside [%llu, %llu)", size, align, U(off),
           U(heap_->heap_start()), U(heap_->heap_end()));
    const auto u = heap_->usable_size(q);
    if (!u) Fail("usable_size of a new block: %s", Name(u.error()));
    const std::uint64_t base = off - talc::kTagSize, end = off + *u;
    if (end > heap_->heap_end())
      Fail("block [%llu, %llu) leaves the heap (end %llu)", U(base), U(end), U(heap_->heap_end()));
    if (*u < size) Fail("usable_size %zu < requested %zu", *u, size);
    // A remainder of kMinChunk or more is split off; only a smaller one stays with the block.
    if (end - base - talc::chunk_size_for(size) >= talc::kMinChunk)
      Fail("block of %llu bytes for a %zu-byte request keeps a splittable remainder", U(end - base),
           size);
    const auto above = chunks_.lower_bound(base);
    if (above != chunks_.end() && above->first < end)
      Fail("block [%llu, %llu) overlaps the live chunk at %llu", U(base), U(end), U(above->first));
    if (above != chunks_.begin() && std::prev(above)->second > base)
      Fail("block [%llu, %llu) overlaps the live chunk ending at %llu", U(base), U(end),
           U(std::prev(above)->second));
    chunks_[base] = end;
    // A freed pointer that a new block covers is no longer a double free.
    for (std::size_t i = 0; i < ring_len_;) {
      if (ring_[i] - talc::kTagSize >= base && ring_[i] - talc::kTagSize < end) {
        ring_[i] = ring_[--ring_len_];
      } else {
        ++i;
      }
    }
    return *u;
  }

  // out_of_memory is right only when no bin from first_bin_at_least(need + worst gap) holds a
  // chunk (those always fit and are taken), and when the only free chunk does not fit.
  void ExpectOutOfMemory(std::size_t size, std::size_t align) const {
    const std::uint64_t need = talc::chunk_size_for(size);
    const std::uint64_t worst = align <= talc::kGranule ? need : need + align + talc::kGranule;
    const std::uint64_t sure = Bins::first_bin_at_least(worst);
    std::uint64_t free_chunks = 0;
    talc::Chunk lone{0, 0};
    heap_->for_each_chunk([&](const talc::Chunk& c, bool allocated) {
      if (allocated) return;
      ++free_chunks;
      lone = c;
      if (sure < Bins::kBins && Bins::bin_of(c.size) >= sure)
        Fail(
            "allocate(%zu, %zu): out_of_memory, but the free chunk at %llu (%llu bytes) is in "
            "bin %llu, from which every chunk fits (%llu)",
            size, align, U(c.base), U(c.size), U(Bins::bin_of(c.size)), U(sure));
    });
    if (free_chunks == 1 && GapFor(lone.base, align) + need <= lone.size)
      Fail("allocate(%zu, %zu): out_of_memory, but the only free chunk (%llu at %llu) fits", size,
           align, U(lone.size), U(lone.base));
  }

  void Allocate(std::size_t size, std::size_t align) {
    Accept(heap_->allocate(size, align), size, align);
  }

  void Release(std::size_t i) {
    const Block b = live_[i];
    live_[i] = live_.back();
    live_.pop_back();
    chunks_.erase(b.off - talc::kTagSize);
    Freed(b.off);
    live_usable_ -= b.usable;
    Counted(&talc::HeapCounters::deallocations);
  }

  // A pointer that no longer starts a live block, for the double frees of BadFree.
  void Freed(std::uint64_t off) {
    if (ring_len_ < kRing) {
      ring_[ring_len_++] = off;
    } else {
      ring_[ring_next_++ % kRing] = off;
    }
  }

  void Free(std::uint8_t k) {
    if (live_.empty()) return;
    const std::size_t i = k % live_.size();
    const Block& b = live_[i];
    Verify(b);
    Expect(heap_->deallocate(At(b.off)), Errc::ok, "deallocate(live block)");
    Release(i);
  }

  // A refused pointer: the exact error (or one of two), the same from usable_size and from the
  // resizing calls (with requests that are valid in themselves), and the heap byte for byte as
  // it was.
  void Refuse(void* p, Errc want, Errc also, const char* what) {
    const std::uint64_t n = Save();
    const Errc got = heap_->deallocate(p);
    if (got != want && got != also)
      Fail("deallocate(%s, %p): got \"%s\", want \"%s\"", what, p, Name(got), Name(want));
    ExpectUnchanged(n, what);
    const auto u = heap_->usable_size(p);
    if (u.error() != got)
      Fail("usable_size(%s): \"%s\", deallocate said \"%s\"", what, Name(u.error()), Name(got));
    const auto r = heap_->reallocate(p, 100, 64);
    if (r.error() != got)
      Fail("reallocate(%s): \"%s\", deallocate said \"%s\"", what, Name(r.error()), Name(got));
    Expect(heap_->try_grow(p, 2000), got, "try_grow of a refused pointer");
    Expect(heap_->try_shrink(p, 0), got, "try_shrink of a refused pointer");
    ExpectUnchanged(n, what);
  }

  void BadFree(std::uint8_t kind, std::uint8_t k) {
    const auto addr = [](std::uintptr_t a) { return reinterpret_cast<void*>(a); };
    const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(heap_);
    switch (kind % 7) {
      case 0:
        Refuse(nullptr, Errc::null_pointer, Errc::null_pointer, "nullptr");
        break;
      case 1: {  // inside a live block, on or off the granule
        const Block* b = Pick(k);
        if (b == nullptr) return;
        const std::uint64_t steps = b->usable / talc::kGranule;  // usable is 16q + 8
        const std::uint64_t into = (k & 1) != 0 ? talc::kGranule * (1 + ((k >> 1) * steps) / 128)
                                                : 1 + ((k >> 1) * (b->usable - 1)) / 128;
        Refuse(At(b->off + into), Errc::foreign_pointer, Errc::not_allocated, "interior pointer");
        break;
      }
      case 2: {  // a double free; when the chunk has merged away, "not at a block's start"
        if (ring_len_ == 0) return;
        const std::uint64_t off = ring_[k % ring_len_];
        talc::Chunk c{0, 0};
        bool allocated = false;
        if (!ChunkAt(off - talc::kTagSize, c, allocated))
          Fail("a freed block's offset %llu is in no chunk", U(off));
        if (allocated) Fail("a freed block's offset %llu is inside a live chunk", U(off));
        if (c.base == off - talc::kTagSize) {
          Refuse(At(off), Errc::not_allocated, Errc::not_allocated, "double free");
        } else {
          Refuse(At(off), Errc::not_allocated, Errc::foreign_pointer, "double free (merged)");
        }
        break;
      }
      case 3:  // the metadata and the first chunk's tag
        Refuse(addr(base + (std::uint64_t{k} * talc::kWord) % (heap_->heap_start() + 8)),
               Errc::foreign_pointer, Errc::foreign_pointer, "pointer into the metadata");
        break;
      case 4:  // the sentinel and beyond
        Refuse(addr(base + heap_->heap_end() + talc::kGranule * k), Errc::foreign_pointer,
               Errc::foreign_pointer, "pointer past the heap");
        break;
      case 5:  // below the buffer
        Refuse(addr(base - talc::kGranule * (1 + std::uint64_t{k})), Errc::foreign_pointer,
               Errc::foreign_pointer, "pointer below the heap");
        break;
      default: {  // a live block's offset, in the arena where this heap is not
        const Block* b = Pick(k);
        const auto other = reinterpret_cast<std::uintptr_t>(g_arena[1 - arena_]);
        Refuse(addr(other + (b != nullptr ? b->off : heap_->heap_start() + talc::kTagSize)),
               Errc::foreign_pointer, Errc::foreign_pointer, "pointer into another arena");
        break;
      }
    }
  }

  void BadRequest(std::uint8_t kind, std::uint8_t x) {
    constexpr std::size_t kMaxRequest = Heap::kMaxRequest;
    std::size_t size = 64, align = talc::kGranule;
    Errc want;
    switch (kind % 6) {
      case 0:
        align = 0;
        want = Errc::bad_alignment;
        break;
      case 1:  // an odd number of at least 3, shifted: never a power of two
        align = (std::size_t{3} + 2 * std::size_t{x}) << (x % 48);
        want = Errc::bad_alignment;
        break;
      case 2:
        align = std::size_t{1} << (31 + x % 33);
        want = Errc::alignment_too_large;
        break;
      case 3:
        size = kMaxRequest + 1 + (std::size_t{x} << 40);
        want = Errc::size_overflow;
        break;
      case 4:
        size = SIZE_MAX - x;
        want = Errc::size_overflow;
        break;
      default:  // legal but larger than any chunk of this heap; kMaxRequest itself included
        size = x == 255 ? kMaxRequest : heap_->capacity() - talc::kTagSize + 1 + x;
        align = std::size_t{1} << (x % 18);
        want = Errc::out_of_memory;
        break;
    }
    const std::uint64_t n = Save();
    const auto r = heap_->allocate(size, align);
    if (r.ok() || r.error() != want)
      Fail("allocate(%zu, %zu): got \"%s\", want \"%s\"", size, align, Name(r.error()), Name(want));
    const std::uint64_t failed = want == Errc::out_of_memory ? 1 : 0;
    ExpectUnchanged(n, "a refused request", failed);
    want_.failures += failed;
  }

  void Refill(std::uint8_t k, std::uint8_t x) {
    Block* b = Pick(k);
    if (b == nullptr) return;
    Verify(*b);
    b->seed = b->seed * 31 + x + 1;
    Fill(*b);
  }

  // A forged chunk inside a block: an allocated tag at an interior chunk position, a
  // plausible tag above it and, with x odd, a free chunk below it. Only the walk that
  // ClaimOptions::checked pays for tells it from a real block, so only a checked heap is
  // asked to refuse it.
  void Forge(std::uint8_t k, std::uint8_t x) {
    if (!heap_->checked()) return;
    Block* b = Pick(k);
    if (b == nullptr) return;
    const bool below = (x & 1) != 0;
    // Chunk positions are at 8 mod 16 from the base, and b->off is at 0: off + 8 + 16 i.
    const std::uint64_t first = b->off + talc::kTagSize + (below ? talc::kMinChunk : 0);
    const std::uint64_t room = b->off + b->usable;  // the forged chunk and the tag above it
    if (first + talc::kMinChunk + talc::kTagSize > room) return;
    const std::uint64_t slots = (room - first - talc::kMinChunk - talc::kTagSize) / 16 + 1;
    const std::uint64_t at = first + 16 * ((x >> 1) % slots);
    const auto put = [&](std::uint64_t off, std::uint64_t v) { std::memcpy(At(off), &v, 8); };
    put(at, talc::Tag::make(talc::kMinChunk, true, below).bits);
    put(at + talc::kMinChunk, talc::Tag::make(talc::kMinChunk, true, false).bits);
    if (below) {
      put(at - talc::kMinChunk, talc::Tag::make(talc::kMinChunk, false, false).bits);
      put(at - talc::kTailFromEnd, talc::kMinChunk);
    }
    Refuse(At(at + talc::kTagSize), Errc::foreign_pointer, Errc::foreign_pointer,
           "forged chunk (checked heap)");
    Fill(*b);
  }

  // ---- resizing ------------------------------------------------------------------------------

  enum class Resizing { reallocate, try_grow, try_shrink };

  // What a resize is judged against: the block and its neighbourhood before the call.
  struct ResizeCase {
    Resizing how;
    std::size_t index;  // in live_
    Block old;
    std::size_t size, align;
    talc::Chunk chunk;         // the block's
    std::uint64_t above_free;  // bytes of the free chunk just above, 0 when that one is live
    std::uint64_t saved;       // bytes of the heap in g_snapshot
  };

  ResizeCase PrepareResize(Resizing how, std::size_t index, std::size_t size, std::size_t align) {
    ResizeCase rc{how, index, live_[index], size, align, {0, 0}, 0, 0};
    Verify(rc.old);
    rc.chunk = {rc.old.off - talc::kTagSize, rc.old.usable + talc::kTagSize};
    talc::Chunk up{0, 0};
    bool allocated = true;
    if (ChunkAt(rc.chunk.end(), up, allocated) && !allocated) rc.above_free = up.size;
    rc.saved = Save();
    return rc;
  }

  // The call itself; try_grow and try_shrink answer with the pointer when they succeed.
  talc::Result<void*> CallResize(const ResizeCase& rc) {
    void* p = At(rc.old.off);
    Errc e = Errc::ok;
    switch (rc.how) {
      case Resizing::reallocate:
        return heap_->reallocate(p, rc.size, rc.align);
      case Resizing::try_grow:
        e = heap_->try_grow(p, rc.size);
        break;
      case Resizing::try_shrink:
        e = heap_->try_shrink(p, rc.size);
        break;
    }
    if (e != Errc::ok) return e;
    return p;
  }

  // Checks a resize's answer against what each call promises, and updates the model.
  void ConcludeResize(const ResizeCase& rc, const talc::Result<void*>& r) {
    static constexpr const char* kNames[] = {"reallocate", "try_grow", "try_shrink"};
    const char* what = kNames[static_cast<int>(rc.how)];
    const Block& old = rc.old;
    void* const p = At(old.off);
    const std::uint64_t need = talc::chunk_size_for(rc.size);
    const bool aligned = reinterpret_cast<std::uintptr_t>(p) % rc.align == 0;
    // In place, the block can become any size up to its chunk plus a free chunk above it.
    const bool fits = need <= rc.chunk.size || need - rc.chunk.size <= rc.above_free;
    if (!r) {
      if (rc.how == Resizing::try_shrink)
        Fail("try_shrink(%zu) of a %llu-byte block: %s", rc.size, U(old.usable), Name(r.error()));
      Expect(r.error(), Errc::out_of_memory, what);
      if (rc.how == Resizing::try_grow ? fits : aligned && fits)
        Fail("%s(%zu, %zu): out_of_memory, but the chunk of %llu bytes at %llu has %llu free above",
             what, rc.size, rc.align, U(rc.chunk.size), U(rc.chunk.base), U(rc.above_free));
      if (rc.how == Resizing::reallocate) ExpectOutOfMemory(rc.size, rc.align);
      ExpectUnchanged(rc.saved, what, 1);
      Verify(old);
      ++want_.failures;
      return;
    }
    void* const q = *r;
    if ((rc.how != Resizing::reallocate || (aligned && fits)) && q != p)
      Fail("%s(%zu, %zu) moved the block at %llu to %llu although it could stay", what, rc.size,
           rc.align, U(old.off), U(OffsetOf(q)));
    // What try_grow and try_shrink leave alone: a size already met, a saving under a chunk.
    if ((rc.how == Resizing::try_grow && need <= rc.chunk.size) ||
        (rc.how == Resizing::try_shrink &&
         (rc.size > Heap::kMaxRequest || need + talc::kMinChunk > rc.chunk.size))) {
      ExpectUnchanged(rc.saved, what);
      return;
    }
    chunks_.erase(rc.chunk.base);
    // The alignment asked for now: a block's earlier one above 64 does not survive relocation.
    const std::uint64_t usable = Place(q, rc.size, rc.align);
    const std::uint64_t at = OffsetOf(q);
    if (q == p) {
      const std::uint64_t end = at + usable;
      if (end > rc.chunk.end() + rc.above_free)
        Fail("%s(%zu) in place: the block ends at %llu, past the free chunk above (%llu)", what,
             rc.size, U(end), U(rc.chunk.end() + rc.above_free));
    } else {
      // A move carves the new block while the old one is still live: they never overlap.
      if (at - talc::kTagSize < rc.chunk.end() && at + usable > rc.chunk.base)
        Fail("reallocate moved the block at %llu onto itself (%llu)", U(old.off), U(at));
      const auto u = heap_->usable_size(p);
      if (u.ok() || (u.error() != Errc::not_allocated && u.error() != Errc::foreign_pointer))
        Fail("the block a reallocation moved away is still live: %s", Name(u.error()));
      Freed(old.off);
    }
    VerifyAt(old, at, std::min<std::uint64_t>(old.usable, rc.size));
    Block& b = live_[rc.index];
    b.off = at;
    b.size = rc.size;
    b.align = rc.align;
    b.usable = usable;
    b.seed = b.seed * 31 + 7;
    Fill(b);
    live_usable_ = live_usable_ - old.usable + usable;
    Counted(&talc::HeapCounters::reallocations);
  }

  // 17: T K S [A]. T % 8: reallocate(S, A); reallocate(S); try_grow(S); try_shrink(S);
  // allocate_zeroed(S, A) (K unused); a refused resize (K X, see BadResize); reallocate and
  // try_grow to the block's usable size + S, which probe the chunk above.
  void Resize(Reader& in) {
    const std::uint8_t t = in.Byte() % 8;
    const std::uint8_t k = in.Byte();
    if (t == 5) {
      BadResize(k, in.Byte());
      return;
    }
    const std::size_t s = in.Size();
    if (t == 4) {
      AllocateZeroed(s, in.Align());
      return;
    }
    const std::size_t align = t == 0 ? in.Align() : talc::kGranule;
    if (live_.empty()) return;
    const std::size_t i = k % live_.size();
    const Resizing how = t <= 1 || t == 6 ? Resizing::reallocate
                         : t == 3         ? Resizing::try_shrink
                                          : Resizing::try_grow;
    const ResizeCase rc = PrepareResize(how, i, t >= 6 ? live_[i].usable + s : s, align);
    ConcludeResize(rc, CallResize(rc));
  }

  void AllocateZeroed(std::size_t size, std::size_t align) {
    const auto r = heap_->allocate_zeroed(size, align);
    if (r) {
      // The whole block while the budget lasts, its ends after that.
      const auto* z = static_cast<const unsigned char*>(*r);
      const bool whole = Spend(size);
      for (std::size_t i = 0; i < size;
           i = !whole && i + 1 == kWindow && size > 2 * kWindow ? size - kWindow : i + 1)
        if (z[i] != 0) Fail("allocate_zeroed(%zu, %zu): byte %zu is %#x", size, align, i, z[i]);
    }
    Accept(r, size, align);
  }

  // A resize the heap must refuse, with its exact Errc, writing nothing but the failure count.
  // R % 6: a bad alignment; an alignment above kMaxAlign; a size above kMaxRequest; a size near
  // SIZE_MAX; a legal size above the capacity (out_of_memory); a null pointer. Wrong pointers of
  // every other kind go through BadFree's Refuse.
  void BadResize(std::uint8_t kind, std::uint8_t x) {
    constexpr std::size_t kMaxRequest = Heap::kMaxRequest;
    const Block* b = Pick(x);
    void* p = b != nullptr ? At(b->off) : nullptr;
    std::size_t size = 64, align = talc::kGranule;
    Errc want = Errc::ok, grow_want = Errc::ok;  // grow_want: try_grow's; ok when not asked
    bool ask_grow = false;
    switch (kind % 6) {
      case 0:
        align = (x & 1) != 0 ? 0 : (std::size_t{3} + 2 * std::size_t{x}) << (x % 48);
        want = Errc::bad_alignment;
        break;
      case 1:
        align = std::size_t{1} << (31 + x % 33);
        want = Errc::alignment_too_large;
        break;
      case 2:
      case 3:
        size = kind % 6 == 2 ? kMaxRequest + 1 + (std::size_t{x} << 40) : SIZE_MAX - x;
        want = grow_want = Errc::size_overflow;
        ask_grow = true;
        break;
      case 4:
        size = x == 255 ? kMaxRequest : heap_->capacity() - talc::kTagSize + 1 + x;
        align = std::size_t{1} << (x % 18);
        want = grow_want = Errc::out_of_memory;
        ask_grow = true;
        break;
      default:
        p = nullptr;
        want = grow_want = Errc::null_pointer;
        ask_grow = true;
        break;
    }
    if (p == nullptr && want != Errc::null_pointer) return;
    const std::uint64_t failed = want == Errc::out_of_memory ? 1 : 0;
    std::uint64_t n = Save();
    const auto r = heap_->reallocate(p, size, align);
    if (r.ok() || r.error() != want)
      Fail("reallocate(%p, %zu, %zu): got \"%s\", want \"%s\"", p, size, align, Name(r.error()),
           Name(want));
    ExpectUnchanged(n, "a refused reallocation", failed);
    want_.failures += failed;
    if (!ask_grow) return;
    n = Save();
    Expect(heap_->try_grow(p, size), grow_want, "try_grow (refused)");
    ExpectUnchanged(n, "a refused try_grow", failed);
    want_.failures += failed;
    // Larger than any block: nothing to give back, which is success.
    n = Save();
    Expect(heap_->try_shrink(p, size), p == nullptr ? Errc::null_pointer : Errc::ok,
           "try_shrink to a size above the block's");
    ExpectUnchanged(n, "try_shrink to a size above the block's");
  }

  // ---- growth --------------------------------------------------------------------------------

  // What a growth is judged against: the heap's bounds and its top chunk before the call.
  struct GrowCase {
    std::uint64_t old_span, new_span, old_end, new_end;
    std::uint64_t top_free;  // bytes of the free chunk that ends at the old end, or 0
    talc::Census census;
    std::uint64_t saved;
  };

  // The sentinel's offset for a span: the rule claim() and grow() share, restated.
  static std::uint64_t EndFor(std::uint64_t span) {
    return ((span - talc::kTagSize - talc::kChunkPhase) & ~(talc::kGranule - 1)) +
           talc::kChunkPhase;
  }

  // Makes the bytes up to `new_span` (clamped to what the arena and a relocation leave room for)
  // addressable, as a caller extending its mapping would, before grow() may touch them.
  GrowCase PrepareGrow(std::uint64_t new_span) {
    GrowCase g{};
    g.old_span = heap_->span();
    g.new_span = std::clamp<std::uint64_t>(new_span, g.old_span, kMaxBuffer);
    g.old_end = heap_->heap_end();
    g.new_end = EndFor(g.new_span);
    heap_->for_each_chunk([&](const talc::Chunk& c, bool allocated) {
      if (c.end() == g.old_end) g.top_free = allocated ? 0 : c.size;
    });
    g.census = heap_->census();
    g.saved = Save();
    Unpoison(Base() + g.old_span, g.new_span - g.old_span);
    return g;
  }

  void ConcludeGrow(const GrowCase& g, Errc e) {
    Expect(e, Errc::ok, "grow(a larger span)");
    if (g.new_end < g.old_end + talc::kMinChunk) {  // too little for a chunk: nothing to take
      ExpectUnchanged(g.saved, "grow by less than a chunk");
      Poison(Base() + g.old_span, g.new_span - g.old_span);
      return;
    }
    if (heap_->span() != g.new_span || heap_->heap_end() != g.new_end)
      Fail("grow(%llu): span %llu, heap end %llu; want %llu", U(g.new_span), U(heap_->span()),
           U(heap_->heap_end()), U(g.new_end));
    span_ = g.new_span;
    // Below the top free chunk (or the old end), every chunk is where and what it was: live
    // chunks byte for byte, free ones by their tags and tails (relinking the top chunk may
    // rewrite their list words).
    const std::uint64_t kept = g.old_end - g.top_free;
    if (g.saved > kept) {
      heap_->for_each_chunk([&](const talc::Chunk& c, bool allocated) {
        if (c.end() > kept) return;
        const bool same =
            allocated ? std::memcmp(g_snapshot + c.base, Base() + c.base, c.size) == 0
                      : std::memcmp(g_snapshot + c.base, Base() + c.base, talc::kTagSize) == 0 &&
                            std::memcmp(g_snapshot + c.tail(), Base() + c.tail(), talc::kWord) == 0;
        if (!same)
          Fail("grow(%llu) changed the %s chunk at %llu", U(g.new_span),
               allocated ? "live" : "free", U(c.base));
      });
    }
    const std::uint64_t added = g.new_end - g.old_end;
    const talc::Census c = heap_->census();
    if (c.free_bytes != g.census.free_bytes + added ||
        c.free_chunks != g.census.free_chunks + (g.top_free == 0 ? 1 : 0) ||
        c.live_chunks != g.census.live_chunks)
      Fail("grow(%llu): %llu free chunks of %llu bytes, before %llu of %llu, %llu bytes added",
           U(g.new_span), U(c.free_chunks), U(c.free_bytes), U(g.census.free_chunks),
           U(g.census.free_bytes), U(added));
    talc::Chunk top{0, 0};
    bool allocated = true;
    if (!ChunkAt(g.new_end - talc::kTagSize, top, allocated) || allocated ||
        top.base != g.old_end - g.top_free || top.end() != g.new_end)
      Fail("grow(%llu): the new bytes are not one free chunk with the old top", U(g.new_span));
    Counted(&talc::HeapCounters::growths);
    CheckHeap(false);
  }

  // 18: T X. T % 4: grow by X bytes; by X granules; by X % 64 + 1 pages; a refusal: a smaller
  // span (X even; region_too_small) or one above kMaxSpan (X odd; region_too_large).
  void Grow(std::uint8_t kind, std::uint8_t x) {
    const std::uint64_t span = heap_->span();
    if (kind % 4 == 3) {
      std::uint64_t to;
      Errc want;
      if ((x & 1) == 0) {
        to = x == 254 ? 0 : span - 1 - talc::kWord * (x >> 1);
        want = Errc::region_too_small;
      } else {
        to = (x & 2) != 0 ? talc::kMaxSpan + 1 + (std::uint64_t{x} << 20) : UINT64_MAX - x;
        want = Errc::region_too_large;
      }
      const std::uint64_t n = Save();
      Expect(heap_->grow(to), want, "grow(a span it cannot take)");
      ExpectUnchanged(n, "a refused growth");
      return;
    }
    const std::uint64_t by = kind % 4 == 0   ? x
                             : kind % 4 == 1 ? talc::kGranule * x
                                             : std::uint64_t{4096} * (x % 64 + 1);
    const GrowCase g = PrepareGrow(span + by);
    ConcludeGrow(g, heap_->grow(g.new_span));
  }

  // ---- death in the middle -------------------------------------------------------------------

  enum class Nested { allocate, free, reallocate, try_grow, try_shrink, grow };

  // 14: P N and N's operands. N % 16: below 10, an allocate (N even: S A) or a free (N odd: K);
  // 10 reallocate K S A; 11 try_grow K S; 12 try_shrink K S; 13 grow X (by 16 (X + 3) bytes,
  // or with X's top bit by X % 16 + 1 pages); 14 reallocate K to usable + S; 15 reallocate K S.
  // The operation ends at its (P % 32 + 1)-th metadata write for an allocate or free, its
  // (P % 64 + 1)-th for the others (a moving reallocation writes the most), as a dying process
  // would; then roll_back(). check() must pass, and the bytes must be those from before, except
  // what roll_back may leave: journal entries, the counters, the unused insides of free chunks,
  // the user bytes of a block being freed. A resize gives its block back intact: until it
  // commits, the bytes are the caller's, so everything it writes there is journalled.
  void Interrupt(Reader& in) {
    const std::uint8_t p = in.Byte();
    const std::uint8_t n = in.Byte() % 16;
    const Nested what = n < 10    ? (n % 2 == 0 ? Nested::allocate : Nested::free)
                        : n == 11 ? Nested::try_grow
                        : n == 12 ? Nested::try_shrink
                        : n == 13 ? Nested::grow
                                  : Nested::reallocate;
    const int point = what == Nested::allocate || what == Nested::free ? p % 32 + 1 : p % 64 + 1;
    std::size_t size = 0, align = talc::kGranule, index = 0;
    std::uint8_t k = 0;
    switch (what) {
      case Nested::allocate:
        size = in.Size();
        align = in.Align();
        break;
      case Nested::grow:
        k = in.Byte();
        break;
      default:
        k = in.Byte();
        if (what != Nested::free) size = in.Size();
        if (n == 10) align = in.Align();
        break;
    }
    if (what != Nested::allocate && what != Nested::grow) {
      if (live_.empty()) return;
      index = k % live_.size();
      Verify(live_[index]);
    }
    ResizeCase rc{};
    if (what == Nested::reallocate || what == Nested::try_grow || what == Nested::try_shrink) {
      const Resizing how = what == Nested::reallocate ? Resizing::reallocate
                           : what == Nested::try_grow ? Resizing::try_grow
                                                      : Resizing::try_shrink;
      rc = PrepareResize(how, index, n == 14 ? live_[index].usable + size : size, align);
    }
    GrowCase gc{};
    if (what == Nested::grow) {
      const std::uint64_t by = (k & 0x80) != 0 ? std::uint64_t{4096} * (k % 16 + 1)
                                               : talc::kGranule * (std::uint64_t{k} + 3);
      gc = PrepareGrow(heap_->span() + by);
    }
    const bool armed = kJournaled && interrupts_ < kMaxInterrupts;
    std::vector<std::pair<talc::Chunk, bool>> layout;
    const std::uint64_t span = heap_->span();
    if (armed) {
      ++interrupts_;
      heap_->for_each_chunk([&](const talc::Chunk& c, bool a) { layout.emplace_back(c, a); });
      std::memcpy(g_snapshot, Base(), span);
      g_journal_len = Base() + Heap::journal_offset();
      g_counters = Base() + Heap::counters_offset();
      g_operations = Operations();
      g_countdown = point;
      g_logged = false;
      talc::fault::hook = &DeathHook;
    }
    talc::Result<void*> r = Errc::corrupted;
    Errc e = Errc::corrupted;
    void* const target = what == Nested::free ? At(live_[index].off) : nullptr;
    const bool died = RunUntilDeath([&] {
      switch (what) {
        case Nested::allocate:
          r = heap_->allocate(size, align);
          break;
        case Nested::free:
          e = heap_->deallocate(target);
          break;
        case Nested::grow:
          e = heap_->grow(gc.new_span);
          break;
        default:
          r = CallResize(rc);
          break;
      }
    });
    talc::fault::hook = nullptr;
    g_countdown = 0;
    if (!died) {  // fewer writes than `point`: it finished
      switch (what) {
        case Nested::allocate:
          Accept(r, size, align);
          break;
        case Nested::free:
          Expect(e, Errc::ok, "deallocate(live block)");
          Release(index);
          break;
        case Nested::grow:
          ConcludeGrow(gc, e);
          break;
        default:
          ConcludeResize(rc, r);
          break;
      }
      return;
    }
    const std::uint64_t pending = heap_->journal_size();
    // Not after a growth: its roll-back moves the heap's end down, so the chunk above may become
    // the sentinel, which the roll-back rewrites whole (a tear there is repaired, not refused).
    if ((p & 0x80) != 0 && what != Nested::grow && TearAboveNamedChunk()) {
      const auto refused = heap_->recover_after_death();
      if (refused || refused.error() != Errc::corrupted)
        Fail("recover_after_death after death at write %d accepted a torn neighbour: %s", point,
             Name(refused.error()));
      if (what == Nested::grow) Poison(Base() + gc.old_span, gc.new_span - gc.old_span);
      broken_ = true;
      return;
    }
    const auto undone = heap_->recover_after_death();
    if (!undone || *undone != pending)
      Fail("roll_back after death at write %d: %s, %llu words of %llu", point, Name(undone.error()),
           U(*undone), U(pending));
    if (heap_->journal_size() != 0) Fail("roll_back left a journal");
    if (heap_->span() != span || heap_->heap_end() != layout.back().first.end())
      Fail("roll_back after death at write %d: span %llu, heap end %llu; were %llu, %llu", point,
           U(heap_->span()), U(heap_->heap_end()), U(span), U(layout.back().first.end()));
    Compare(layout, what == Nested::free ? live_[index].off : 0, what == Nested::grow, point);
    if (what == Nested::free) Fill(live_[index]);
    // The bytes a growth was given are the caller's again, outside the span.
    if (what == Nested::grow) Poison(Base() + gc.old_span, gc.new_span - gc.old_span);
    CheckHeap(false);
  }

  // The journal's entries as a dying operation left them: offset (with its mark) and old value.
  std::uint64_t Entry(std::uint64_t i, std::uint64_t field) const {
    return talc::load_word(Base(), Heap::journal_offset() + talc::kWord +
                                       i * sizeof(talc::JournalEntry) + field * talc::kWord);
  }
  // The value a roll-back gives the word at `off`: the oldest entry's.
  bool Restored(std::uint64_t off, std::uint64_t& value) const {
    for (std::uint64_t i = 0; i < heap_->journal_size(); ++i)
      if ((Entry(i, 0) & ~(talc::kWord - 1)) == off) {
        value = Entry(i, 1);
        return true;
      }
    return false;
  }

  // Tears the size in the tag above the first chunk the journal names (an entry with
  // Journal::kChunkTag), which the local check reads and the roll-back rewrites only in its
  // BELOW_FREE flag: unless that word is the sentinel or journalled. Returns whether it did.
  bool TearAboveNamedChunk() {
    const std::uint64_t n = heap_->journal_size();
    std::uint64_t first = 0, tag = 0;
    for (std::uint64_t i = 0; i < n && first == 0; ++i)
      if ((Entry(i, 0) & talc::Journal::kChunkTag) != 0) first = Entry(i, 0) - 1;
    if (first == 0 || !Restored(first, tag)) return false;
    const std::uint64_t above = first + talc::Tag{tag}.size();
    std::uint64_t unused = 0;
    if (above >= heap_->heap_end() || Restored(above, unused)) return false;
    const std::uint64_t flags = talc::load_word(Base(), above) & (talc::kGranule - 1);
    talc::store_word(Base(), above, flags | talc::kGranule);
    return true;
  }

  // `grew`: the operation was a growth, whose new chunk may start at the old sentinel and write
  // its list words, unjournalled, into the padding after it (under a granule, used by nothing).
  void Compare(const std::vector<std::pair<talc::Chunk, bool>>& layout, std::uint64_t freed,
               bool grew, int point) const {
    const auto same = [&](std::uint64_t from, std::uint64_t to) {
      if (from >= to || std::memcmp(g_snapshot + from, Base() + from, to - from) == 0) return;
      std::uint64_t i = from;
      while (g_snapshot[i] == Base()[i]) ++i;
      Fail("roll_back after death at write %d: byte %llu is %#x, was %#x", point, U(i),
           static_cast<unsigned>(Base()[i]), static_cast<unsigned>(g_snapshot[i]));
    };
    // Left out: the counters (statistics; check() proves those that follow from the chunks) and
    // the journal's stale entries.
    const std::uint64_t entries = Heap::journal_offset() + talc::kWord;
    same(0, Heap::counters_offset());
    same(Heap::journal_offset(), entries);
    same(entries + sizeof(talc::JournalEntry) * talc::Journal::kCapacity, heap_->heap_start());
    for (const auto& [c, allocated] : layout) {
      if (allocated && c.user() != freed) {
        same(c.base, c.end());
      } else if (allocated) {
        same(c.base, c.user());
      } else {
        same(c.base, c.base + sizeof(talc::FreeHead));
        same(c.tail(), c.end());
      }
    }
    same(heap_->heap_end(), grew ? heap_->heap_end() + talc::kTagSize : heap_->span());
  }

  // The heap copied to the other arena at another 64-aligned address and attached there: every
  // offset means what it meant, so the model carries over unchanged.
  void Relocate(std::uint8_t x) {
    if (relocations_ >= kMaxRelocations) return;
    ++relocations_;
    const std::uint64_t span = heap_->span();
    std::byte* to = g_arena[1 - arena_] + 64 * (x % 16);
    Unpoison(to, span);
    std::memcpy(to, Base(), span);
    Poison(g_arena[arena_], kArenaSize);
    arena_ = 1 - arena_;
    Expect(Heap::attach(to, span - 1).error(), Errc::region_too_small, "attach(span - 1 bytes)");
    const auto r = Heap::attach(to, span);
    if (!r || *r != reinterpret_cast<Heap*>(to)) Fail("attach of a copy: %s", Name(r.error()));
    heap_ = *r;
    CheckHeap(false);
  }

  // One word of the span replaced, as a stray write or a damaged file would; further corrupt
  // operations may damage more words, every other operation is skipped from here on.
  void Corrupt(std::uint16_t where, std::uint8_t x) {
    broken_ = true;
    const std::uint64_t off = ((where * (span_ - talc::kWord)) >> 16) & ~(talc::kWord - 1);
    std::uint64_t v;
    std::memcpy(&v, At(off), 8);
    const std::uint64_t bit = std::uint64_t{1} << (x % 64);
    switch (x >> 6) {
      case 0:
        v ^= bit;
        break;
      case 1:
        v = talc::kGranule * (x % 64);
        break;
      case 2:
        v += talc::kGranule * (x % 64) - talc::kGranule * 32;
        break;
      default:
        v = ~bit;
        break;
    }
    std::memcpy(At(off), &v, 8);
  }

  // What a process that finds a damaged heap does (the recovering lock holder, the inspecting
  // tool): attach() decides whether the fields can be trusted to bound the rest, roll_back()
  // undoes the journal when it has entries, check() judges. Each must refuse or terminate
  // inside the span (the arena around it is poisoned), whatever the bytes say.
  void Recover() {
    const auto r = Heap::attach(heap_, span_);
    if (!r) return;
    if (*r != heap_) Fail("attach of a corrupted heap moved it");
    Inspect("of a corrupted heap");
    if (heap_->journal_size() == 0) return;
    // Only grow() journals the bounds, and undoing it only ever gives bytes back: whatever a
    // scribbled journal says (stale entries of an earlier growth included), a roll-back may
    // shrink the span and the heap end but never enlarge them, nor move the heap start.
    const std::uint64_t span = heap_->span(), start = heap_->heap_start(), end = heap_->heap_end();
    const auto undone = heap_->roll_back();
    if (heap_->span() > span || heap_->heap_start() != start || heap_->heap_end() > end)
      Fail(
          "roll_back of a corrupted heap enlarged its bounds: span %llu, heap [%llu, %llu), "
          "were %llu, [%llu, %llu)",
          U(heap_->span()), U(heap_->heap_start()), U(heap_->heap_end()), U(span), U(start),
          U(end));
    if (!undone && undone.error() != Errc::corrupted)
      Fail("roll_back of a corrupted heap: %s", Name(undone.error()));
    // What the heap gave back is out of bounds now: reading it is a crash.
    if (heap_->span() < span) Poison(Base() + heap_->span(), span - heap_->span());
    if (!undone) {
      if (heap_->span() == span && heap_->heap_end() == end) return;
      // A journal whose span and heap end disagree has been applied before it was judged.
      if (heap_->check().ok())
        Fail("roll_back refused a journal and left a heap that passes check()");
      Inspect("after a refused roll_back of a corrupted heap");
      return;
    }
    Inspect("after roll_back of a corrupted heap");
  }

  void Inspect(const char* when) const {
    const talc::CheckReport rep = heap_->check();
    if (!rep.ok() && (rep.code != Errc::corrupted || rep.what == nullptr || rep.offset >= span_))
      Fail("check() %s: %s: %s at offset %llu", when, Name(rep.code),
           rep.what != nullptr ? rep.what : "(null)", U(rep.offset));
    if (!rep.ok()) return;
    const talc::Census c = heap_->census();
    if (c.live_bytes + c.free_bytes != heap_->capacity())
      Fail("census %s that passes check(): %llu + %llu bytes in a capacity of %llu", when,
           U(c.live_bytes), U(c.free_bytes), U(heap_->capacity()));
  }

  void Finish() {
    CheckHeap(false);
    for (const Block& b : live_) Verify(b);
    while (!live_.empty()) {
      Expect(heap_->deallocate(At(live_.back().off)), Errc::ok, "deallocate(live block)");
      Release(live_.size() - 1);
    }
    CheckHeap(false);
    const talc::Census c = heap_->census();
    if (c.free_chunks != 1 || c.free_bytes != heap_->capacity() ||
        c.largest_free != heap_->capacity())
      Fail("freeing everything left %llu free chunks, %llu bytes of %llu", U(c.free_chunks),
           U(c.free_bytes), U(heap_->capacity()));
    // The one chunk is the whole capacity: a request for all of it is an exact fit.
    const auto all = heap_->allocate(heap_->capacity() - talc::kTagSize);
    if (!all || OffsetOf(*all) != heap_->heap_start() + talc::kTagSize)
      Fail("the whole capacity could not be allocated: %s", Name(all.error()));
    live_usable_ = heap_->capacity() - talc::kTagSize;
    Counted(&talc::HeapCounters::allocations);
    Expect(heap_->deallocate(*all), Errc::ok, "deallocate(the whole capacity)");
    live_usable_ = 0;
    Counted(&talc::HeapCounters::deallocations);
    const auto none = heap_->roll_back();
    if (!none || *none != 0) Fail("roll_back of a committed heap restored something");
    CheckHeap(false);
  }

  Heap* heap_ = nullptr;
  int arena_;
  std::uint64_t span_ = 0;  // as claimed: the span fields may be corrupted later
  bool tagless_ = true;
  bool broken_ = false;
  std::vector<Block> live_;
  std::map<std::uint64_t, std::uint64_t> chunks_;  // live chunk base -> end
  std::uint64_t ring_[kRing] = {};                 // offsets of recently freed blocks
  std::size_t ring_len_ = 0, ring_next_ = 0;
  int relocations_ = 0, interrupts_ = 0;
  std::uint64_t pattern_budget_ = kPatternBudget;
  std::uint64_t compare_budget_ = kCompareBudget;
  std::uint64_t live_usable_ = 0;  // the usable bytes of live_
  talc::HeapCounters want_{};      // the operation counts and peak that stats() must show
};

template <class Heap>
void RunHeap(Reader& in, std::size_t size_bits, std::uint8_t flags) {
  const std::size_t e = (size_bits >> 12) % 9, m = size_bits & 0xfff;
  const std::size_t extra = e == 0 ? m : (std::size_t{0x1000} | m) << (e - 1);
  const std::size_t len = std::min(Heap::min_claim_size() + extra, kMaxBuffer);
  Poison(g_arena, sizeof g_arena);
  Driver<Heap> d(0, flags % 64, len, (flags & 0x80) != 0);
  d.Run(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  const std::uint8_t lo = in.Byte(), hi = in.Byte();
  const std::size_t size_bits = std::size_t{lo} | std::size_t{hi} << 8;
  const std::uint8_t flags = in.Byte();
  switch (in.Byte() % 4) {
    case 0:
      RunHeap<talc::TalcMeta<>>(in, size_bits, flags);
      break;
    case 1:
      RunHeap<talc::TalcMeta<talc::DefaultBinConfig, false>>(in, size_bits, flags);
      break;
    case 2:
      RunHeap<talc::TalcMeta<talc::BinConfig<1, 64, 0>>>(in, size_bits, flags);
      break;
    default:
      RunHeap<talc::TalcMeta<talc::BinConfig<4, 512, 3>>>(in, size_bits, flags);
      break;
  }
  return 0;
}
