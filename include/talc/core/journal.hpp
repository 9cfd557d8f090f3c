// Layer 4 — the undo journal that makes every heap operation atomic with respect to the death
// of the process running it.
//
// Every metadata write of an operation goes through TalcMeta::put, which first appends the
// word's offset and its old value here, then writes. The operation ends by emptying the
// journal (commit: one aligned word). A process may die at any instruction; the next one to
// take the lock finds the journal non-empty and restores the recorded old values in reverse
// order, which leaves the heap exactly as it was before the operation began.
//
// Only what cannot be derived is journalled: tags (sizes and ALLOCATED), list links and bin
// heads, and the user's slot of allocate_into / deallocate_from. Free chunks' tails, BELOW_FREE
// flags, the availability bitmap and the prev_link of each bin's first chunk follow from those,
// and TalcMeta::roll_back recomputes them around the chunks and bins the journal names; writes
// into unused bytes need no entry either.
// That halves the entries of a typical operation, which is most of the journal's cost.
//
// Entries name what they protect. A word's offset is a multiple of 8, so its low three bits are
// free: bit 0 (kChunkTag) says the word was a chunk's tag when the operation began. Those chunks
// are the only places where an operation changes what is not journalled (see TalcMeta::put_tag),
// so a roll-back repairs around them and nowhere else. The position of a word cannot say as
// much: an operation also writes tags of chunks it created itself, inside what was one chunk
// before it began, and a word inside a chunk cannot be told from a tag without walking the heap.
//
// Why undo rather than redo: an undo entry is written right before the word it protects, so
// the operation runs on the live metadata with no second copy, reads its own writes as usual,
// and needs no replay logic that must agree with the allocator's. Redo would have to stage
// every write and apply them at commit, doubling the work on the hot path.
//
// Ordering: only the death of a process is survived, not the loss of power, so what matters is
// the order in which the dying process's stores happen: an entry before the count that covers
// it, the count before the word it protects. Release stores give exactly that (the count is
// stored with release, and so is the protected word, see store_after_record) and compile to
// plain moves on x86; unlike a full compiler barrier they let the allocator keep the values
// it has read in registers. No system call, no atomic read-modify-write, no cache flush.
//
// Rolling back twice is harmless (the entries stay until the final reset), so a process that
// dies while rolling back leaves work the next one can simply redo.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include "talc/core/chunk.hpp"
#include "talc/core/errors.hpp"

// Tests of the journal kill the process at chosen write points; in every other build the hook
// is not there at all.
#ifdef TALC_FAULT_INJECTION
namespace talc::fault {
inline void (*hook)() = nullptr;
}
#define TALC_FAULT_POINT()                          \
  do {                                              \
    if (::talc::fault::hook) ::talc::fault::hook(); \
  } while (0)
#else
#define TALC_FAULT_POINT() \
  do {                     \
  } while (0)
#endif

namespace talc {

struct JournalEntry {
  std::uint64_t offset;  // of the word, from the heap base; bit 0: Journal::kChunkTag
  std::uint64_t old;     // its value before the operation wrote it
};

class Journal {
 public:
  // Room for the longest operation: a reallocation that moves, carving its new block with a
  // leading gap and a remainder, then freeing the old one with merges on both sides, writes
  // about 30 words. The fault-injection test checks the real counts.
  static constexpr std::uint64_t kCapacity = 40;
  // The mark of an entry whose word was a chunk's tag when the operation began.
  static constexpr std::uint64_t kChunkTag = 1;

  std::uint64_t size() const noexcept { return len_; }

  // Records that the word at `off` held `old`, before the caller changes it; `mark` is 0 or
  // kChunkTag.
  [[gnu::always_inline]] void record(std::uint64_t off, std::uint64_t old,
                                     std::uint64_t mark = 0) noexcept {
    const std::uint64_t n = len_;
    if (n >= kCapacity) __builtin_trap();  // an operation longer than designed: a bug, not data
    entries_[n].offset = off | mark;
    entries_[n].old = old;
    std::atomic_ref<std::uint64_t>(len_).store(n + 1, std::memory_order_release);  // whole first
  }

  // The protected word itself, stored after the count that covers it.
  [[gnu::always_inline]] static void store_after_record(std::byte* base, std::uint64_t off,
                                                        std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>(*std::launder(reinterpret_cast<std::uint64_t*>(base + off)))
        .store(v, std::memory_order_release);
  }

  void commit() noexcept {  // after every write of the operation
    std::atomic_ref<std::uint64_t>(len_).store(0, std::memory_order_release);
  }

  // Undoes a half-done operation. `base` is the heap base; `may_write(off, old, mark)` says
  // whether a journalled word may lie at `off` and be given back `old` (the caller knows its
  // layout), and `agree()`, asked once every entry passed, whether they make sense together.
  // `settle()` runs after the words are restored and before the journal is emptied, so a death
  // inside it leaves the whole roll-back to be redone. Returns the number of words restored, or
  // Errc::corrupted when the journal is not consistent (journal_consistent), and then writes
  // nothing.
  template <class MayWrite, class Agree, class Settle>
  Result<std::uint64_t> roll_back(std::byte* base, MayWrite&& may_write, Agree&& agree,
                                  Settle&& settle) noexcept {
    const std::uint64_t n = len_;
    if (n > kCapacity) return Errc::corrupted;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint64_t mark = entries_[i].offset % kWord;
      if ((mark & ~kChunkTag) != 0 || !may_write(entries_[i].offset - mark, entries_[i].old, mark))
        return Errc::corrupted;
    }
    if (!agree()) return Errc::corrupted;
    for (std::uint64_t i = n; i-- > 0;)
      store_after_record(base, entries_[i].offset & ~(kWord - 1), entries_[i].old);
    settle();
    commit();
    return n;
  }

  // The value a roll-back gives the word at `off`: the oldest entry's, since entries are restored
  // last to first. Only meaningful while size() entries are believed (inside roll_back's agree).
  bool restored_value(std::uint64_t off, std::uint64_t& value) const noexcept {
    for (std::uint64_t i = 0; i < len_ && i < kCapacity; ++i)
      if ((entries_[i].offset & ~(kWord - 1)) == off) {
        value = entries_[i].old;
        return true;
      }
    return false;
  }

 private:
  std::uint64_t len_ = 0;
  JournalEntry entries_[kCapacity] = {};
};

static_assert(sizeof(Journal) == 8 + 16 * Journal::kCapacity);

}  // namespace talc
