// current_process_id / process_alive over getpid and kill(pid, 0).
#include "talc/process.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace talc {

std::uint32_t current_process_id() noexcept {
  return static_cast<std::uint32_t>(::getpid());
}

bool process_alive(std::uint32_t pid) noexcept {
  if (pid == 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

}  // namespace talc
