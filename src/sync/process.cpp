// Process identity over getpid, kill(pid, 0) and /proc.
#include "talc/sync/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace talc {

namespace {

// FNV-1a, one step per byte: stable across builds, so every process computes the same tag.
std::uint64_t mix(std::uint64_t h, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Reads a small /proc file whole; the number of bytes, or -1. Every read of /proc that decides
// who is alive comes through here, and so does the tests' fault (process_testing::fail_read).
long read_small(const char* path, char* buf, std::size_t cap) noexcept {
  if (process_testing::fail_read != nullptr && process_testing::fail_read(path)) return -1;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const long n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n >= 0) buf[n] = '\0';
  return n;
}

struct Stat {
  char state = '?';
  unsigned long long threads = 0;
  unsigned long long start = 0;
};

// Fields 3 (state), 20 (threads) and 22 (start time) of /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may hold anything, so fields are counted from the last ')'.
bool read_stat(std::uint32_t pid, Stat& out) noexcept {
  char path[40], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  if (read_small(path, buf, sizeof buf) <= 0) return false;
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return false;
  int field = 2;
  for (++p; *p != '\0' && field < 22; ++p) {
    if (*p != ' ') continue;
    ++field;
    if (field == 3) out.state = p[1];
    if (field == 20) out.threads = std::strtoull(p + 1, nullptr, 10);
    if (field == 22) out.start = std::strtoull(p + 1, nullptr, 10);
  }
  return field == 22;
}

}  // namespace

std::uint32_t current_process_id() noexcept {
  return static_cast<std::uint32_t>(::getpid());
}

std::uint32_t current_thread_id() noexcept {
  return static_cast<std::uint32_t>(::gettid());
}

bool process_alive(std::uint32_t pid) noexcept {
  if (pid == 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

std::uint64_t boot_hash() noexcept {
  // The boot id does not change while this process lives, so a value read is kept; a read that
  // failed (a descriptor limit, a hidden file) is not: the next call reads again.
  static std::atomic<std::uint64_t> known{0};
  if (const std::uint64_t h = known.load(std::memory_order_relaxed); h != 0) return h;
  char buf[64];
  const long n = read_small("/proc/sys/kernel/random/boot_id", buf, sizeof buf);
  if (n <= 0) return 0;
  std::uint64_t h = mix(0xcbf29ce484222325ULL, buf, static_cast<std::size_t>(n));
  h = h != 0 ? h : 1;
  known.store(h, std::memory_order_relaxed);
  return h;
}

namespace {

// Whether /proc describes this process's PID namespace: a /proc mounted from another one (an
// unshare without --mount-proc) would name other processes by our pids.
bool proc_is_ours() noexcept {
  char link[32] = {};
  const long n = ::readlink("/proc/self", link, sizeof link - 1);
  return n > 0 && std::strtoul(link, nullptr, 10) == static_cast<unsigned long>(::getpid());
}

std::uint64_t inode_of(const char* path) noexcept {
  struct stat st {};
  return ::stat(path, &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

}  // namespace

std::uint64_t namespace_id() noexcept {
  if (!proc_is_ours()) return 0;
  const std::uint64_t pid_ns = inode_of("/proc/self/ns/pid");
  if (pid_ns == 0) return 0;
  const std::uint64_t time_ns = inode_of("/proc/self/ns/time");  // 0 before Linux 5.6
  std::uint64_t h = mix(0xcbf29ce484222325ULL, &pid_ns, sizeof pid_ns);
  h = mix(h, &time_ns, sizeof time_ns);
  return h != 0 ? h : 1;
}

std::uint32_t process_tag(std::uint32_t pid) noexcept {
  if (!process_alive(pid)) return kTagGone;
  static const bool usable = proc_is_ours();
  Stat st;
  if (!usable || !read_stat(pid, st)) return process_alive(pid) ? kTagUnknown : kTagGone;
  // A killed process stays a zombie until its parent reaps it: it runs nothing any more. (A
  // leader that left with pthread_exit while other threads run is a zombie with threads.)
  if ((st.state == 'Z' || st.state == 'X') && st.threads <= 1) return kTagGone;
  // The start time alone: both sides read it from the same file, so a tag computed by one
  // process for another is the tag that process computed for itself, or "unknown" when the
  // read failed; never a third value that would call a live holder dead. (The boot id once
  // went in too: a process that could not read it computed other tags for everyone. Which
  // boot a lock word belongs to is the region's boot record, Header::boot.)
  std::uint64_t h = mix(0xcbf29ce484222325ULL, &st.start, sizeof st.start);
  const auto tag = static_cast<std::uint32_t>(h ^ (h >> 32));
  return tag == kTagGone || tag == kTagUnknown ? 1 : tag;
}

}  // namespace talc
