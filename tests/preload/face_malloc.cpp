// The C allocation API served by the face, for LD_PRELOAD: a whole process's malloc on one
// talc::Talc (face_heap.hpp), so that real programs nobody here wrote drive the heap, its lanes,
// thread ends and forks as they please. A test harness, never installed.
//
// glibc's rules are kept where programs could tell: malloc(0) gives a minimal block; realloc(p,
// 0) frees p and returns NULL (glibc's REALLOC_ZERO_BYTES_FREES); memalign rounds an alignment
// up to a power of two; aligned_alloc refuses one that is not a power of two (glibc 2.38 and
// C17); failures set errno to ENOMEM (EINVAL for a bad alignment) and a success leaves errno
// as it was. Alignments beyond the heap's (2 MiB, its base's) fail as out of memory.
//
// A pointer that is neither the heap's nor the side arena's aborts with a message: with
// LD_PRELOAD every allocation of the process, from its first, comes from here (the dynamic
// loader's own early blocks are never handed to free), so such a pointer is a bug.
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "face_heap.hpp"

namespace talc_preload {

namespace {

constexpr std::size_t kMinAlign = talc::kGranule;  // malloc's: alignof(max_align_t)

// errno as the caller left it, unless the call fails.
class KeepErrno {
 public:
  KeepErrno() noexcept : saved_(errno) {}
  ~KeepErrno() { errno = saved_; }
  void fail(int e) noexcept { saved_ = e; }
  KeepErrno(const KeepErrno&) = delete;
  KeepErrno& operator=(const KeepErrno&) = delete;

 private:
  int saved_;
};

bool in_heap(const Heap& h, const void* p) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto b = reinterpret_cast<std::uintptr_t>(h.base());
  return a >= b && a - b < h.size();
}

// Out of memory and requests no heap could meet are the caller's NULL; anything else (a damaged
// heap, a lock that cannot be had) would be hidden by a NULL, so it aborts.
void* refused(KeepErrno& err, talc::Errc e, const char* call, std::size_t size) noexcept {
  if (e != talc::Errc::out_of_memory && e != talc::Errc::size_overflow &&
      e != talc::Errc::alignment_too_large)
    die("%s(%zu): %s", call, size, talc::describe(e));
  err.fail(ENOMEM);
  return nullptr;
}

// `align`: a power of two, at least kMinAlign.
void* allocate(std::size_t size, std::size_t align, bool zeroed, const char* call) noexcept {
  KeepErrno err;
  Heap* h = heap();
  if (h == nullptr) {  // this thread has the heap aside; the arena's bytes are zero
    void* p = arena.allocate(size, align);
    if (p == nullptr) die("%s(%zu) with the heap aside: the side arena is spent", call, size);
    return p;
  }
  const CallScope counted;
  const talc::Result<talc::Meta> r =
      zeroed ? h->try_allocate_zeroed(size, align) : h->try_allocate(size, align);
  if (!r) return refused(err, r.error(), call, size);
  return r->ptr();
}

void deallocate(void* p) noexcept {
  if (p == nullptr || arena.owns(p)) return;
  const KeepErrno err;
  Heap* h = heap();
  if (h == nullptr || !in_heap(*h, p)) die("free(%p): not a block of this heap", p);
  const CallScope counted;
  if (const talc::Errc e = h->deallocate(p); e != talc::Errc::ok)
    die("free(%p): %s", p, talc::describe(e));
}

std::size_t usable_size(const void* p) noexcept {
  if (p == nullptr) return 0;
  if (arena.owns(p)) return arena.size_of(p);
  const KeepErrno err;
  Heap* h = heap();
  if (h == nullptr || !in_heap(*h, p)) die("malloc_usable_size(%p): not a block of this heap", p);
  const CallScope counted;
  const talc::Result<std::size_t> r = h->usable_size(p);
  if (!r) die("malloc_usable_size(%p): %s", p, talc::describe(r.error()));
  return *r;
}

void* reallocate(void* p, std::size_t size) noexcept {
  if (p == nullptr) return allocate(size, kMinAlign, false, "realloc");
  if (size == 0) {
    deallocate(p);
    return nullptr;
  }
  if (arena.owns(p)) {  // moved out; the arena never takes a block back
    void* q = allocate(size, kMinAlign, false, "realloc");
    if (q != nullptr) std::memcpy(q, p, std::min(size, arena.size_of(p)));
    return q;
  }
  KeepErrno err;
  Heap* h = heap();
  if (h == nullptr || !in_heap(*h, p)) die("realloc(%p): not a block of this heap", p);
  const CallScope counted;
  const talc::Result<talc::Meta> r =
      h->try_reallocate(talc::Meta{h->base(), h->offset_of(p), 0}, size, kMinAlign);
  if (!r) return refused(err, r.error(), "realloc", size);
  return r->ptr();
}

// memalign's rules (glibc's _mid_memalign): an alignment up to malloc's is malloc's; one that is
// not a power of two is rounded up to one; one above half the address space is EINVAL.
void* aligned(std::size_t align, std::size_t size, const char* call) noexcept {
  if (align > (SIZE_MAX >> 1) + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (align < kMinAlign) align = kMinAlign;
  if (!talc::is_power_of_two(align)) align = std::size_t{1} << (64 - __builtin_clzll(align));
  return allocate(size, align, false, call);
}

std::size_t page_size() noexcept {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

}  // namespace talc_preload

using namespace talc_preload;

extern "C" {

void* malloc(std::size_t size) noexcept {
  return allocate(size, kMinAlign, false, "malloc");
}

void free(void* p) noexcept {
  deallocate(p);
}

void* calloc(std::size_t n, std::size_t size) noexcept {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return allocate(bytes, kMinAlign, true, "calloc");
}

void* realloc(void* p, std::size_t size) noexcept {
  return reallocate(p, size);
}

void* reallocarray(void* p, std::size_t n, std::size_t size) noexcept {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return reallocate(p, bytes);
}

int posix_memalign(void** out, std::size_t align, std::size_t size) noexcept {
  if (align % sizeof(void*) != 0 || !talc::is_power_of_two(align / sizeof(void*))) return EINVAL;
  const int saved = errno;  // posix_memalign reports through its result, not errno
  void* p = allocate(size, align < kMinAlign ? kMinAlign : align, false, "posix_memalign");
  errno = saved;
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* aligned_alloc(std::size_t align, std::size_t size) noexcept {
  if (!talc::is_power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return aligned(align, size, "aligned_alloc");
}

void* memalign(std::size_t align, std::size_t size) noexcept {
  return aligned(align, size, "memalign");
}

void* valloc(std::size_t size) noexcept {
  return aligned(page_size(), size, "valloc");
}

void* pvalloc(std::size_t size) noexcept {
  const std::size_t page = page_size();
  std::size_t rounded = 0;
  if (__builtin_add_overflow(size, page - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  return aligned(page, rounded & ~(page - 1), "pvalloc");
}

std::size_t malloc_usable_size(void* p) noexcept {
  return usable_size(p);
}

}  // extern "C"
