// The smallest program against an installed talc: a heap in anonymous shared memory that a
// forked child uses too.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "talc/talc.hpp"

int main() {
  auto heap = talc::MapTalc<>::anonymous(1 << 20);
  const talc::Meta m = heap.allocate(64);
  std::strcpy(m.as<char>(), "from the parent");
  const pid_t child = ::fork();
  if (child == 0) _exit(heap.deallocate(m) == talc::Errc::ok ? 0 : 1);  // the child frees it
  int status = 0;
  ::waitpid(child, &status, 0);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && heap.check().ok() &&
                  heap.census().live_chunks == 0;
  std::printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
