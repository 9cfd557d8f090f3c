// The process-local allocators, as peers: glibc malloc, mimalloc and jemalloc (Debian's
// builds), all linked into the one benchmark program. They show the speed a user gives up, or
// not, by putting blocks in a shared heap.
//
// Debian's libmimalloc and libjemalloc both export the standard names (malloc, free, ...), so
// linking them makes one of them the process's malloc. glibc's own allocator is therefore
// called by the names glibc exports for exactly that case (__libc_malloc and friends), which
// reach ptmalloc whatever else interposes malloc; mimalloc by its mi_ API, jemalloc by its
// non-standard API (mallocx / rallocx / dallocx, unprefixed in Debian's build).
//
// Alignment: up to 16 bytes every one of them gives it by default; above, each peer's aligned
// call. A reallocation keeps the block's alignment: mimalloc and jemalloc take it as an
// argument; glibc's realloc does not, so an over-aligned glibc block is moved by hand
// (aligned allocation, copy, free), as Rust's System allocator does.
#pragma once

#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

#include <bit>
#include <cstddef>
#include <cstring>

#include "peer.hpp"

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_memalign(std::size_t align, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void __libc_free(void* p);
}

namespace talc_bench {

class GlibcPeer {
 public:
  static constexpr PeerInfo kInfo{"glibc", false, true, false};
  explicit GlibcPeer(std::size_t) {}

  void* allocate(std::size_t size, std::size_t align) noexcept {
    return align <= kNaturalAlign ? __libc_malloc(size) : __libc_memalign(align, size);
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { __libc_free(p); }
  void* reallocate(void* p, std::size_t old_size, std::size_t size, std::size_t align) noexcept {
    if (align <= kNaturalAlign) return __libc_realloc(p, size);
    void* q = __libc_memalign(align, size);
    if (q == nullptr) return nullptr;
    std::memcpy(q, p, old_size < size ? old_size : size);
    __libc_free(p);
    return q;
  }
};

class MimallocPeer {
 public:
  static constexpr PeerInfo kInfo{"mimalloc", false, true, false};
  explicit MimallocPeer(std::size_t) {}

  void* allocate(std::size_t size, std::size_t align) noexcept {
    return align <= kNaturalAlign ? mi_malloc(size) : mi_malloc_aligned(size, align);
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { mi_free(p); }
  void* reallocate(void* p, std::size_t, std::size_t size, std::size_t align) noexcept {
    return align <= kNaturalAlign ? mi_realloc(p, size) : mi_realloc_aligned(p, size, align);
  }
};

class JemallocPeer {
 public:
  static constexpr PeerInfo kInfo{"jemalloc", false, true, false};
  explicit JemallocPeer(std::size_t) {}

  void* allocate(std::size_t size, std::size_t align) noexcept {
    return mallocx(size, flags(align));
  }
  void deallocate(void* p, std::size_t, std::size_t align) noexcept { dallocx(p, flags(align)); }
  void* reallocate(void* p, std::size_t, std::size_t size, std::size_t align) noexcept {
    return rallocx(p, size, flags(align));
  }

 private:
  static int flags(std::size_t align) noexcept {
    return align <= kNaturalAlign ? 0 : MALLOCX_LG_ALIGN(std::countr_zero(align));
  }
};

}  // namespace talc_bench
