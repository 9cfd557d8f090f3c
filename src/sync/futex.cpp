// The futex, shared between processes (see futex.hpp).
#include "talc/sync/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace talc {

FutexSleep futex_sleep(std::uint32_t* word, std::uint32_t expect,
                       std::chrono::steady_clock::duration d) noexcept {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  if (::syscall(SYS_futex, word, FUTEX_WAIT, expect, &ts, nullptr, 0) == 0)
    return FutexSleep::woken;
  if (errno != ETIMEDOUT && errno != EAGAIN && errno != EINTR) ::nanosleep(&ts, nullptr);
  return FutexSleep::other;
}

void futex_wake(std::uint32_t* word, int n) noexcept {
  futex_testing::wakes.fetch_add(1, std::memory_order_relaxed);
  ::syscall(SYS_futex, word, FUTEX_WAKE, n, nullptr, nullptr, 0);
}

}  // namespace talc
