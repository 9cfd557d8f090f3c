// The Python package's objects, and the rules that keep the interpreter safe with them.
//
// `Heap` owns a MapTalc (the mapping of one region); `Block` is one live block of it as this
// process sees it; `Ring` is an OffsetRing<1024> built in the heap under a name. Python holds
// them through shared_ptr: a Block or a Ring keeps its Heap alive, and so the mapping.
//
// The rules, which the bindings (module.cpp) rely on:
//  - A heap's mapping goes only when the last Python object that uses it does, or at close().
//    close() is refused (BufferError) while a buffer (a memoryview, a numpy array) over one of
//    its blocks is held, so no view ever outlives the mapping it reads.
//  - A Block is live until it is freed or handed to a ring; then every use but reading its
//    offset and size raises talc.Error (not_allocated) without asking the heap, whose block of
//    that offset may by now be another's. Freeing, resizing or handing over a block is refused
//    (BufferError) while a buffer over it is held, so no view reads a block after it went.
//  - Every call that may wait on the heap's lock runs with the GIL released, and touches no
//    Python object meanwhile. A shared lock on the Heap keeps close() from unmapping under it.
//    The state of Blocks and the count of views change only with the GIL held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "talc/face.hpp"
#include "talc/offset_ring.hpp"

namespace talc_py {

using MapTalc = talc::MapTalc<>;
// The ring's capacity, fixed so that every program that opens a ring by name agrees on its type.
inline constexpr std::size_t kRingCapacity = 1024;
using OffsetRing = talc::OffsetRing<kRingCapacity>;

class Heap {
 public:
  explicit Heap(MapTalc t) : talc_(std::move(t)) {}

  // Runs f(MapTalc&) while the heap is open; raises ValueError once it is closed.
  template <class F>
  decltype(auto) use(F&& f) {
    std::shared_lock lock(mu_);
    if (!talc_) throw_closed();
    return f(*talc_);
  }
  // Unmaps the region, once no buffer over a block is held. A second close does nothing.
  void close();
  bool closed();

  // Buffers over blocks, counted by the block's offset (two Blocks may name one block).
  void add_view(std::uint64_t offset) { ++views_[offset]; }
  void drop_view(std::uint64_t offset);
  bool viewed(std::uint64_t offset) const { return views_.count(offset) != 0; }

 private:
  [[noreturn]] static void throw_closed();

  std::shared_mutex mu_;
  std::optional<MapTalc> talc_;
  std::unordered_map<std::uint64_t, std::size_t> views_;
};

class Block {
 public:
  enum class State { live, freed, handed_over };

  Block(std::shared_ptr<Heap> heap, std::uint64_t offset, std::uint64_t size, bool named = false)
      : heap_(std::move(heap)), offset_(offset), size_(size), named_(named) {}

  std::uint64_t offset() const noexcept { return offset_; }
  std::uint64_t size() const noexcept { return size_; }
  bool live() const noexcept { return state_ == State::live; }
  bool named() const noexcept { return named_; }
  const std::shared_ptr<Heap>& heap() const noexcept { return heap_; }

  // The first byte, for a new buffer over the block; counted until close_view().
  std::byte* open_view();
  void close_view() { heap_->drop_view(offset_); }

  void free();
  void reallocate(std::size_t size, std::size_t align);
  // Called by a ring that took the block: from now on it is another process's.
  void hand_over();
  // Raises unless the block is live; for a change, unless no buffer over it is held, and unless
  // it is a named block, which its directory entry owns (Heap.destroy frees it).
  void require_live() const;
  void require_unviewed() const;
  void require_unnamed() const;

 private:
  std::shared_ptr<Heap> heap_;
  std::uint64_t offset_;
  std::uint64_t size_;
  bool named_;
  State state_ = State::live;
};

class Ring {
 public:
  Ring(std::shared_ptr<Heap> heap, std::uint64_t offset)
      : heap_(std::move(heap)), offset_(offset) {}

  // Producer side: false when the ring is full, and then the block stays the caller's.
  bool push(Block& b);
  // Consumer side: the (offset, size) of the next block, not yet checked (Heap::block does).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> pop();
  std::uint64_t size();
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  OffsetRing& at(MapTalc& t) const noexcept {
    return *static_cast<OffsetRing*>(t.address_of(offset_));
  }
  std::shared_ptr<Heap> heap_;
  std::uint64_t offset_;
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
void destroy_named(const std::shared_ptr<Heap>& h, const std::string& name);

}  // namespace talc_py
