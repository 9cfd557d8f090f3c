// Building the preloaded face's heap, once, without allocating through itself; setting it aside;
// and giving a fork's child the copy as its own.
#include "face_heap.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>

namespace talc_preload {

constinit SideArena arena;
constinit std::atomic<std::uint64_t> calls_served{0};
constinit std::atomic<std::uint64_t> calls_locked{0};

namespace {

enum State : int { kUnbuilt, kAside, kReady };

// Everything here is constant-initialised: the first malloc may come before this library's
// static constructors run (libstdc++'s own start-up allocates).
constinit std::atomic<int> state{kUnbuilt};
thread_local constinit bool aside_here = false;  // this thread has the heap aside
// Never destroyed: threads and atexit handlers call free after static destructors ran.
alignas(Heap) constinit std::byte storage[sizeof(Heap)]{};

Heap* the_heap() noexcept {
  return std::launder(reinterpret_cast<Heap*>(storage));
}

// Opening a heap costs the same whatever its size (measured: about 60 us and 17 page faults
// from 64 MiB to 16 TiB; pages are backed only when touched), so the default is large enough
// for any program the tests run.
constexpr std::size_t kDefaultSize = std::size_t{64} << 30;

// TALC_PRELOAD_SIZE: bytes, with an optional K, M, G or T suffix (powers of 1024).
std::size_t region_size() noexcept {
  const char* s = std::getenv("TALC_PRELOAD_SIZE");
  if (s == nullptr || *s == '\0') return kDefaultSize;
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(s, &end, 10);
  static constexpr char kUnits[] = "KMGT";
  const char* unit = *end != '\0' ? std::strchr(kUnits, *end) : nullptr;
  const unsigned shift = unit != nullptr ? 10 * static_cast<unsigned>(unit - kUnits + 1) : 0;
  if (unit != nullptr) ++end;
  if (errno != 0 || end == s || *end != '\0' || n == 0 || n > (~0ULL >> shift))
    die("TALC_PRELOAD_SIZE='%s' is not a size (bytes, or a number with K, M, G or T)", s);
  return static_cast<std::size_t>(n << shift);
}

// A fork's child gets a copy of the heap that only it uses: the lock a parent's thread held in
// the copy is abandoned (its operation rolled back) and every lane of the copy reclaimed. This
// handler may run before the library's own (it is registered by the first malloc, which can
// come before the library's static constructors): so it forgets the parent's identity itself,
// and it works with the heap aside, since another handler may still hold a process-local lock
// that a lane's slow path takes.
void child_after_fork() noexcept {
  state.store(kReady, std::memory_order_relaxed);  // a parent's thread that had it aside is gone
  const Aside aside;
  talc::RegionLock::forget_self_after_fork();
  calls_served.store(0, std::memory_order_relaxed);  // the report is the child's alone
  calls_locked.store(0, std::memory_order_relaxed);
  talc::Errc e = talc::Errc::corrupted;
  try {
    e = the_heap()->fresh_start();
  } catch (const std::exception& x) {
    die("fresh_start in a fork's child threw: %s", x.what());
  }
  if (e != talc::Errc::ok) die("fresh_start in a fork's child: %s", talc::describe(e));
}

void build() noexcept {
  const std::size_t len = region_size();
  // Mapped one region alignment larger, so that the heap's base is 2 MiB-aligned and every
  // alignment up to that holds (Talc::max_align).
  const std::size_t slack = talc::kRegionAlign;
  void* raw = ::mmap(nullptr, len + slack, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) die("cannot map %zu bytes for the heap (errno %d)", len, errno);
  const auto at = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t base = (at + slack - 1) & ~(slack - 1);
  if (base != at) ::munmap(raw, base - at);
  ::munmap(reinterpret_cast<void*>(base + len), at + slack - base);
  try {
    ::new (storage) Heap(Heap::open(reinterpret_cast<void*>(base), len, talc::OpenRole::create));
  } catch (const std::exception& x) {
    die("cannot open a heap of %zu bytes: %s", len, x.what());
  }
  if (::pthread_atfork(nullptr, nullptr, child_after_fork) != 0 || std::atexit(report_at_exit) != 0)
    die("cannot register the fork and exit handlers");
}

}  // namespace

Heap* heap() noexcept {
  int s = state.load(std::memory_order_acquire);
  if (s == kReady) [[likely]]
    return the_heap();
  for (;;) {
    if (s == kUnbuilt && state.compare_exchange_strong(s, kAside, std::memory_order_acquire)) {
      aside_here = true;
      build();
      aside_here = false;
      state.store(kReady, std::memory_order_release);
      return the_heap();
    }
    if (s == kReady) return the_heap();
    if (s == kAside && aside_here) return nullptr;
    ::sched_yield();  // another thread has it aside: a build, a check
    s = state.load(std::memory_order_acquire);
  }
}

Aside::Aside() noexcept {
  int s = kReady;
  while (!state.compare_exchange_weak(s, kAside, std::memory_order_acquire)) {
    s = kReady;
    ::sched_yield();
  }
  aside_here = true;
}

Aside::~Aside() {
  aside_here = false;
  state.store(kReady, std::memory_order_release);
}

void die(const char* fmt, ...) noexcept {
  // Formatted on the stack and written with one system call: nothing here allocates.
  char line[512];
  int n = std::snprintf(line, sizeof line, "talc-face[%d]: ", static_cast<int>(::getpid()));
  va_list ap;
  va_start(ap, fmt);
  n += std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, fmt, ap);
  va_end(ap);
  if (n > static_cast<int>(sizeof line) - 2) n = static_cast<int>(sizeof line) - 2;
  line[n++] = '\n';
  (void)!::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
  std::abort();
}

}  // namespace talc_preload
