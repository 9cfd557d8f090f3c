// The process-local allocators, as peers: glibc malloc, mimalloc and jemalloc (Debian's
// builds), all linked into the one benchmark program. They show the speed a user gives up, or
// not, by putting blocks in a shared heap.
//
// Debian's libmimalloc and libjemalloc both export the standard names (malloc, free, ...), and
// libmimalloc even glibc's own aliases (__libc_malloc and friends), so linking them makes one
// of them the process's malloc under every name. glibc's allocator is therefore looked up in
// libc.so.6 itself (dlsym on that library's handle searches it first, whatever interposes the
// names in the global scope); mimalloc is called by its mi_ API, jemalloc by its non-standard
// API (mallocx / rallocx / dallocx, unprefixed in Debian's build).
//
// Alignment: up to 16 bytes every one of them gives it by default; above, each peer's aligned
// call. A reallocation keeps the block's alignment: mimalloc and jemalloc take it as an
// argument; glibc's realloc does not, so an over-aligned glibc block is moved by hand
// (aligned allocation, copy, free), as Rust's System allocator does.
#pragma once

#include <dlfcn.h>
#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

#include <bit>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "peer.hpp"

namespace talc_bench {

class GlibcPeer {
 public:
  static constexpr PeerInfo kInfo{"glibc", false, true, false};
  explicit GlibcPeer(std::size_t) {
    void* libc = ::dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (libc == nullptr) throw std::runtime_error("glibc: libc.so.6 is not loaded");
    malloc_ = reinterpret_cast<decltype(malloc_)>(::dlsym(libc, "malloc"));
    memalign_ = reinterpret_cast<decltype(memalign_)>(::dlsym(libc, "memalign"));
    realloc_ = reinterpret_cast<decltype(realloc_)>(::dlsym(libc, "realloc"));
    free_ = reinterpret_cast<decltype(free_)>(::dlsym(libc, "free"));
    ::dlclose(libc);  // it stays loaded: the program links it
    if (!malloc_ || !memalign_ || !realloc_ || !free_)
      throw std::runtime_error("glibc: malloc not found in libc.so.6");
  }

  void* allocate(std::size_t size, std::size_t align) noexcept {
    return align <= kNaturalAlign ? malloc_(size) : memalign_(align, size);
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { free_(p); }
  void* reallocate(void* p, std::size_t old_size, std::size_t size, std::size_t align) noexcept {
    if (align <= kNaturalAlign) return realloc_(p, size);
    void* q = memalign_(align, size);
    if (q == nullptr) return nullptr;
    std::memcpy(q, p, old_size < size ? old_size : size);
    free_(p);
    return q;
  }

 private:
  void* (*malloc_)(std::size_t) = nullptr;
  void* (*memalign_)(std::size_t, std::size_t) = nullptr;
  void* (*realloc_)(void*, std::size_t) = nullptr;
  void (*free_)(void*) = nullptr;
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
