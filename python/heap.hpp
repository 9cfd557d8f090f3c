// The Python package's objects, and the rules that keep the interpreter safe with them.
//
// `Heap` owns a MapTalc (the mapping of one region); `Block` is one live block of it as this
// process sees it; `Ring` is a talc::NamedRing (an OffsetRing<1024>) built in the heap under a
// name, the C API's too. Python holds them through shared_ptr: a Block or a Ring keeps its Heap
// alive, and so the mapping.
//
// The rules, which the bindings (module.cpp) rely on:
//  - Every Block of one offset shares one BlockState (heap.block() called twice on an offset, a
//    named block found twice): freed, moved or handed over through one, it is so through all,
//    and the buffers open over it are counted once.
//  - A heap's mapping goes only when the last Python object that uses it does (then without the
//    GIL, since giving the lanes back takes the heap's lock), or at close(). close() is refused
//    (BufferError) while a buffer over one of its blocks is held, and from the moment it starts
//    no new call or buffer is let in, so no view ever outlives the mapping it reads.
//  - A block is live until it is freed, destroyed with its name or handed to a ring; then every
//    use but reading its offset and size raises talc.Error (not_allocated) without asking the
//    heap, whose block of that offset may by now be another's. While a free, a resize, a
//    hand-over or a destroy of it runs without the GIL, it is busy: any other use raises
//    BufferError. Freeing, resizing or handing over a block is refused (BufferError) while a
//    buffer over it is held, so no view reads a block after it went or moved.
//  - A named block (made or found by Heap.named or Heap.find, through any of its Blocks) is
//    freed only by Heap.destroy.
//  - Every call that may wait on the heap's lock runs with the GIL released, and touches no
//    Python object meanwhile. A shared lock on the Heap keeps close() from unmapping under it.
//    A ring's waits run so too, in slices (Ring::waiting): between two, the GIL is taken back to
//    run signal handlers, and a close() of the heap gets in.
//    BlockStates and the counts of views change only with the GIL held.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "talc/offset_ring.hpp"
#include "talc/talc.hpp"

namespace talc_py {

using MapTalc = talc::MapTalc<>;
// The ring every program that opens one by name agrees on (offset_ring.hpp).
using OffsetRing = talc::NamedRing;
// How long a ring call may wait: nullopt for no bound.
using Timeout = std::optional<std::chrono::nanoseconds>;

// What every Block of one offset shares (see above). Read and written with the GIL held.
struct BlockState {
  enum class State { live, busy, freed, handed_over };
  std::uint64_t offset;
  std::uint64_t size;  // the bytes a buffer over it shows: at most the block's usable size
  bool named = false;
  State state = State::live;
  std::size_t views = 0;
};

class Heap {
 public:
  // `kind` ("shm" or "file") and `source` (its name or path) only describe it (repr).
  Heap(MapTalc t, std::string kind, std::string source)
      : talc_(std::move(t)), kind_(std::move(kind)), source_(std::move(source)) {}
  // The last reference went: unmaps, without the GIL when this thread holds it.
  ~Heap();
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // Runs f(MapTalc&) while the heap is open; raises ValueError once it is closed or closing.
  template <class F>
  decltype(auto) use(F&& f) {
    std::shared_lock lock(mu_);
    if (!talc_ || closing_.load(std::memory_order_acquire)) throw_closed();
    return f(*talc_);
  }
  // Unmaps the region, once no buffer over a block is held. A second close does nothing.
  void close();
  bool closed();
  const std::string& kind() const noexcept { return kind_; }
  const std::string& source() const noexcept { return source_; }

  // The state every Block of the live block at `offset` shares: the one they have, or a new one.
  // `usable` is the block's usable size as the heap just told it: a state that contradicts it
  // (wider, or any state when `fresh`, the heap having just handed the offset out) is of a block
  // freed since by another process or another Heap of the region, and is gone to its holders.
  // `size` (at most `usable`) only widens a buffer; `named` marks the block.
  std::shared_ptr<BlockState> state_of(std::uint64_t offset, std::uint64_t size,
                                       std::uint64_t usable, bool named, bool fresh);
  // A block that is no longer this process's (freed, destroyed, handed over): no later Block of
  // its offset shares its state. unlist: the same for a state whose last Block went, the block
  // staying live.
  void forget(const BlockState& s);
  void unlist(const BlockState& s);
  // A block that moved from `from` to s.offset.
  void moved(std::uint64_t from, const std::shared_ptr<BlockState>& s);
  // How many blocks went or moved so far. A lookup that ran without the GIL (adopt, find) is
  // believed only if this did not change meanwhile: a block freed by another thread in between
  // would otherwise come back as a live state.
  std::uint64_t goings() const noexcept { return goings_; }

  void add_view(BlockState& s) {
    ++s.views;
    ++views_;
  }
  void drop_view(BlockState& s) {
    --s.views;
    --views_;
  }

 private:
  [[noreturn]] static void throw_closed();

  std::shared_mutex mu_;
  std::optional<MapTalc> talc_;
  std::string kind_, source_;
  std::atomic<bool> closing_{false};  // set with the GIL held, read by calls without it
  std::unordered_map<std::uint64_t, std::weak_ptr<BlockState>> blocks_;
  std::size_t views_ = 0;  // buffers open over all its blocks
  std::uint64_t goings_ = 0;
};

class Block {
 public:
  Block(std::shared_ptr<Heap> heap, std::shared_ptr<BlockState> s)
      : heap_(std::move(heap)), s_(std::move(s)) {}
  Block(Block&&) noexcept = default;
  Block& operator=(Block&&) noexcept = default;
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  ~Block();

  std::uint64_t offset() const noexcept { return s_->offset; }
  std::uint64_t size() const noexcept { return s_->size; }
  bool live() const noexcept { return s_->state == BlockState::State::live; }
  bool named() const noexcept { return s_->named; }
  const std::shared_ptr<Heap>& heap() const noexcept { return heap_; }
  BlockState& state() noexcept { return *s_; }

  // The first byte, for a new buffer over the block; counted until close_view().
  std::byte* open_view();
  void close_view() { heap_->drop_view(*s_); }

  void free();
  void reallocate(std::size_t size, std::size_t align);
  // Raises unless the block is live; for a change, unless no buffer over it is held, and unless
  // it is a named block, which its directory entry owns (Heap.destroy frees it).
  void require_live() const;
  void require_unviewed() const;
  void require_unnamed() const;

 private:
  std::shared_ptr<Heap> heap_;
  std::shared_ptr<BlockState> s_;
};

class Ring {
 public:
  Ring(std::shared_ptr<Heap> heap, std::uint64_t offset, std::string name)
      : heap_(std::move(heap)), offset_(offset), name_(std::move(name)) {}

  // Producer side. push waits up to `timeout` for room; when the block was not handed over it
  // raises (TimeoutError; BrokenPipeError when the consumer closed or died) and the block stays
  // the caller's. try_push does not wait: false when full.
  void push(Block& b, const Timeout& timeout);
  bool try_push(Block& b);
  // Consumer side: the (offset, size) of the next block, not yet checked (Heap::block does). pop
  // waits up to `timeout`: nullopt at the end of the stream (the producer closed and the ring is
  // empty); raises TimeoutError, or BrokenPipeError when the producer died. try_pop does not
  // wait: nullopt when empty.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> pop(const Timeout& timeout);
  std::optional<std::pair<std::uint64_t, std::uint64_t>> try_pop();
  // Closes end `end`, or with none the ends this Ring pushed or popped through.
  void close(std::optional<talc::RingEnd> end);
  std::uint64_t size();
  std::uint64_t offset() const noexcept { return offset_; }
  const std::string& name() const noexcept { return name_; }
  const std::shared_ptr<Heap>& heap() const noexcept { return heap_; }

 private:
  OffsetRing& at(MapTalc& t) const noexcept {
    return *static_cast<OffsetRing*>(t.address_of(offset_));
  }
  // Raises unless `b` may be handed over: live, of this heap, no buffer over it, not named.
  void require_handable(const Block& b) const;
  template <class Op>
  talc::Errc waiting(const Timeout& timeout, Op&& op);
  void used(talc::RingEnd e) noexcept { used_ |= 1u << static_cast<unsigned>(e); }

  std::shared_ptr<Heap> heap_;
  std::uint64_t offset_;
  std::string name_;
  unsigned used_ = 0;  // a bit for each end this Ring pushed or popped as: what close() closes
};

// The calls that make Blocks and Rings. Each releases the GIL while it may wait on the heap.
Block allocate(const std::shared_ptr<Heap>& h, std::size_t size, std::size_t align, bool zeroed);
// A Block for an offset another process sent: refused unless it names the start of a live block
// at least `size` bytes long (Talc::adopt); without a size, the block's usable size.
Block adopt(const std::shared_ptr<Heap>& h, std::uint64_t offset,
            std::optional<std::uint64_t> size);
Ring ring(const std::shared_ptr<Heap>& h, const std::string& name);
// Named blocks of bytes (Talc::find_or_allocate_named and friends): found by every process that
// opens the heap, made zeroed by the first. destroy() is refused while a buffer over it is held.
Block find_or_allocate_named(const std::shared_ptr<Heap>& h, const std::string& name,
                             std::size_t size, std::size_t align);
Block find_named(const std::shared_ptr<Heap>& h, const std::string& name);
// Frees a named block of bytes or a named array, with its name.
void destroy_named(const std::shared_ptr<Heap>& h, const std::string& name);
// A named array (talc/named/array.hpp): its Block (the whole block, header included) and what its
// header says. With `want`, made with that type and shape by the first caller in any process and
// refused (type_mismatch, size_mismatch) when it has others; without, found whatever they are.
// A header that fails its checks raises talc.Error (corrupted) saying what is wrong with it.
std::pair<Block, talc::ArrayInfo> named_array(const std::shared_ptr<Heap>& h,
                                              const std::string& name, const talc::ArrayInfo* want);

}  // namespace talc_py
