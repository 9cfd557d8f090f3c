// Growers' mutex, which must survive fork (see growth.hpp).
#include "talc/region/growth.hpp"

#include <pthread.h>

namespace talc {

namespace {

std::mutex growers_mutex;  // constant-initialised: usable from any static constructor

void lock_for_fork() noexcept {
  growers_mutex.lock();
}
void unlock_after_fork() noexcept {
  growers_mutex.unlock();
}

}  // namespace

// A child forked while another thread held the mutex would inherit it locked by a thread the
// child does not have, and could never grow a region. So fork takes the mutex first (waiting,
// at most, for one growth of a source to end) and both sides release it; the forking thread is
// the owner on both sides, so the unlock is its own.
std::mutex& Growers::mutex() noexcept {
  [[maybe_unused]] static const int registered =
      ::pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
  return growers_mutex;
}

}  // namespace talc
