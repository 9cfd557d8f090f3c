// This project's heap as two peers: the face a user calls (`talc::MapTalc<>` over anonymous
// shared memory, so also shared by forked processes: the lock, the journal and the checks of
// every call included) and, for reference, the unsynchronised core `talc::TalcMeta<>` on a
// private buffer of the same size.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>

#include "peer.hpp"
#include "talc/core/talc_meta.hpp"
#include "talc/talc.hpp"

namespace talc_bench {

// Where the face's small blocks come from: the pages of the calling thread's lane (the default),
// or nowhere but the core under the lock: the two sides of the small-block layer, in one run.
enum class SmallBlocks { lanes, none };

template <SmallBlocks Small>
class BasicTalcFacePeer {
 public:
  static constexpr PeerInfo kInfo{Small == SmallBlocks::lanes ? "talc" : "talc_nolanes", true, true,
                                  true};

  explicit BasicTalcFacePeer(std::size_t arena)
      : heap_(talc::MapTalc<>::anonymous(arena,
                                         talc::OpenOptions{.lanes = Small != SmallBlocks::none})) {}

  // Inlined always, as GCC chose to until the fast path's class lookup became a table: the
  // instruction counts (talc_op_cost) then compare the same shape of code across versions.
  [[gnu::always_inline]] void* allocate(std::size_t size, std::size_t align) noexcept {
    const talc::Result<talc::Meta> r = heap_.try_allocate(size, align);
    return r ? r->ptr() : nullptr;
  }
  void deallocate(void* p, std::size_t size, std::size_t) noexcept {
    heap_.deallocate(meta(p, size));
  }
  void* reallocate(void* p, std::size_t old_size, std::size_t size, std::size_t align) noexcept {
    const talc::Result<talc::Meta> r = heap_.try_reallocate(meta(p, old_size), size, align);
    return r ? r->ptr() : nullptr;
  }

  talc::MapTalc<>& heap() noexcept { return heap_; }

 private:
  // The handle a user holds for the block; rebuilt here because the workloads keep pointers.
  talc::Meta meta(void* p, std::size_t size) const noexcept {
    return talc::Meta{heap_.base(), heap_.offset_of(p), size};
  }
  talc::MapTalc<> heap_;
};
using TalcFacePeer = BasicTalcFacePeer<SmallBlocks::lanes>;
static_assert(TalcFacePeer::kInfo.name == kReference);

// The core heap alone, on an anonymous mapping. Unjournaled, it is the same heap built without
// the undo journal (TalcMeta's `Journaled = false`): what the journal costs, measured by
// talc_op_cost as instructions beside talc_journal_cost's times.
template <bool Journaled>
class BasicTalcCorePeer {
 public:
  using Heap = talc::TalcMeta<talc::DefaultBinConfig, Journaled>;
  static constexpr PeerInfo kInfo{Journaled ? "talc_core" : "talc_core_unjournaled", true, false,
                                  false};

  explicit BasicTalcCorePeer(std::size_t arena) : len_(arena) {
    buf_ = ::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf_ == MAP_FAILED) throw std::bad_alloc();
    const auto r = Heap::claim(buf_, len_);
    if (!r) {
      ::munmap(buf_, len_);
      throw std::runtime_error("talc_core: claim refused");
    }
    heap_ = *r;
  }
  ~BasicTalcCorePeer() { ::munmap(buf_, len_); }
  BasicTalcCorePeer(const BasicTalcCorePeer&) = delete;
  BasicTalcCorePeer& operator=(const BasicTalcCorePeer&) = delete;

  void* allocate(std::size_t size, std::size_t align) noexcept {
    return heap_->allocate(size, align).value();
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { heap_->deallocate(p); }
  void* reallocate(void* p, std::size_t, std::size_t size, std::size_t align) noexcept {
    return heap_->reallocate(p, size, align).value();
  }

  Heap& heap() noexcept { return *heap_; }

 private:
  void* buf_;
  std::size_t len_;
  Heap* heap_ = nullptr;
};
using TalcCorePeer = BasicTalcCorePeer<true>;

}  // namespace talc_bench
