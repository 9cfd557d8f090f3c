// Child processes for tests: fork one that runs a function, wait for it, kill it.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

namespace talc_test {

// Forks; the child runs `body` (its return value is the exit status) and never returns.
template <class F>
pid_t Spawn(F body) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  int rc = 99;
  try {
    rc = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d: %s\n", ::getpid(), e.what());
  }
  std::fflush(nullptr);
  ::_exit(rc);
}

// The child's exit status, or -signal if a signal ended it.
inline int Wait(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1000;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// A name no other test run uses at the same time.
inline std::string UniqueShmName(const char* what) {
  static int counter = 0;
  return "/talc-test-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

// One byte through a pipe: "the child has reached the point".
struct Signal {
  int fds[2] = {-1, -1};
  Signal() {
    if (::pipe(fds) != 0) fds[0] = fds[1] = -1;
  }
  ~Signal() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  void Notify() const { [[maybe_unused]] auto n = ::write(fds[1], "x", 1); }
  // False when nothing came within `ms` (a child that died before it could say so, say): a
  // test fails instead of waiting for ever.
  bool Await(int ms = 60000) const {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    char c;
    return ::read(fds[0], &c, 1) == 1;
  }
};

}  // namespace talc_test
