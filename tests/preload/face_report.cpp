// The preloaded face's report at process exit: one line of key=value pairs that the test
// script (run_preloaded.sh) holds to its claims.
//
//   talc-face pid=123 check=ok calls=9000 central=120 lanes=64 lanes_owned=1 threads_alive=1
//
// check: the heap's full check (check=failed adds what= with its words). calls: calls served
// by the heap (the arena's are not counted); central: those that took the heap's lock.
// lanes_owned: lanes whose owner word is this process's; threads_alive: the entries of
// /proc/self/task. A lane is a thread's until it ends, so a lane owned beyond the threads alive
// is one an ended thread did not give back.
//
// Registered with atexit by the heap's build: a process that ends with _exit (a multiprocessing
// child of the fork start method, a failed exec's child) or by a signal writes no report.
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "face_heap.hpp"

namespace talc_preload {

namespace {

// Counted with getdents64 into a buffer on the stack, so that the count allocates nothing.
int threads_alive() noexcept {
  const int fd = ::open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int n = 0;
  alignas(8) char buf[4096];
  for (;;) {
    const long got = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (got <= 0) break;
    for (long at = 0; at < got;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + at);
      if (d->d_name[0] != '.') ++n;
      at += d->d_reclen;
    }
  }
  ::close(fd);
  return n;
}

}  // namespace

void report_at_exit() noexcept {
  Heap* h = heap();
  const int threads = threads_alive();
  talc::CheckReport rep;
  {
    const Aside aside;  // check() allocates its lists under the heap's lock
    rep = h->check();
  }
  const std::uint64_t me = talc::RegionLock::self();
  std::uint64_t owned = 0;
  for (std::uint64_t i = 0; i < h->heap().lane_count(); ++i)
    owned += talc::lane_load(h->heap().lane(i).owner) == me;

  char line[512];
  int n = std::snprintf(line, sizeof line,
                        "talc-face pid=%d check=%s calls=%llu central=%llu lanes=%llu "
                        "lanes_owned=%llu threads_alive=%d",
                        static_cast<int>(::getpid()), rep.ok() ? "ok" : "failed",
                        static_cast<unsigned long long>(calls_served.load()),
                        static_cast<unsigned long long>(calls_locked.load()),
                        static_cast<unsigned long long>(h->heap().lane_count()),
                        static_cast<unsigned long long>(owned), threads);
  if (!rep.ok() && n < static_cast<int>(sizeof line))
    n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n),
                       " what=\"%s: %s at offset %llu\"", talc::describe(rep.code), rep.what,
                       static_cast<unsigned long long>(rep.offset));
  if (n > static_cast<int>(sizeof line) - 2) n = static_cast<int>(sizeof line) - 2;
  line[n++] = '\n';

  // One write with O_APPEND: the lines of processes that end together do not interleave.
  const char* path = std::getenv("TALC_PRELOAD_REPORT");
  const int fd = path != nullptr && *path != '\0'
                     ? ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)
                     : STDERR_FILENO;
  if (fd < 0) die("cannot open TALC_PRELOAD_REPORT='%s' for the report", path);
  (void)!::write(fd, line, static_cast<std::size_t>(n));
  if (fd != STDERR_FILENO) ::close(fd);
}

}  // namespace talc_preload
