// The memory the preloaded face hands out where its heap cannot serve a call: while the heap is
// built (building the Talc calls malloc: the lanes' registry, the fork handlers' list), in a
// fork's child handler, and under the heap's own lock, where check() allocates its lists.
//
// A bump allocator over one private mapping, made at its first use: no lock, and nothing that
// could call malloc again. Its blocks are never reused (free of one does nothing), so it only
// lasts for those few calls; running out is a bug of the harness and aborts. free, realloc and
// malloc_usable_size tell its blocks by their address.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace talc_preload {

class SideArena {
 public:
  // A block of at least `size` bytes aligned to `align` (a power of two, at least 16), zeroed;
  // null when the arena is spent or cannot be mapped.
  void* allocate(std::size_t size, std::size_t align) noexcept {
    std::byte* bytes = mapped();
    if (bytes == nullptr) return nullptr;
    std::size_t at = used_.load(std::memory_order_relaxed);
    for (;;) {
      // Room for the size word just below the block.
      const std::size_t start = (at + kHeader + align - 1) & ~(align - 1);
      if (start > kBytes || size > kBytes - start) return nullptr;
      if (used_.compare_exchange_weak(at, start + size, std::memory_order_relaxed)) {
        *reinterpret_cast<std::size_t*>(bytes + start - kHeader) = size;
        return bytes + start;
      }
    }
  }

  bool owns(const void* p) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    const auto b = reinterpret_cast<std::uintptr_t>(bytes_.load(std::memory_order_acquire));
    return b != 0 && a >= b && a - b < kBytes;
  }

  // The size asked for the block at `p`, which owns(p) said is the arena's.
  std::size_t size_of(const void* p) const noexcept {
    return *reinterpret_cast<const std::size_t*>(static_cast<const std::byte*>(p) - kHeader);
  }

 private:
  static constexpr std::size_t kHeader = 16;
  // Address space only: a page is backed when a block first lies on it. Building the heap takes
  // a few hundred bytes; a check, a few words per free chunk of the heap.
  static constexpr std::size_t kBytes = std::size_t{1} << 30;

  std::byte* mapped() noexcept {
    std::byte* b = bytes_.load(std::memory_order_acquire);
    if (b != nullptr) [[likely]]
      return b;
    void* m = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    if (!bytes_.compare_exchange_strong(b, static_cast<std::byte*>(m), std::memory_order_acq_rel))
      ::munmap(m, kBytes);  // another thread mapped it first: b is its mapping
    return bytes_.load(std::memory_order_acquire);
  }

  std::atomic<std::byte*> bytes_{nullptr};
  std::atomic<std::size_t> used_{0};
};

}  // namespace talc_preload
