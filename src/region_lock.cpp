// The RegionLock over a POSIX robust, process-shared mutex.
//
// glibc implements robust mutexes with a futex and the kernel's robust list: when a thread
// dies holding one, the kernel marks it FUTEX_OWNER_DIED and wakes a waiter, which then gets
// EOWNERDEAD. That is exactly the "bounded time, and you learn the holder died" contract.
#include "talc/region_lock.hpp"

#include <pthread.h>

#include <cerrno>
#include <new>

namespace talc {

static_assert(sizeof(pthread_mutex_t) <= RegionLock::kStorage, "the lock's storage is too small");
static_assert(alignof(pthread_mutex_t) <= 8);

namespace {
pthread_mutex_t* native(std::byte* storage) noexcept {
  return std::launder(reinterpret_cast<pthread_mutex_t*>(storage));
}
}  // namespace

void RegionLock::init() noexcept {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(::new (storage_) pthread_mutex_t, &attr);
  pthread_mutexattr_destroy(&attr);
}

LockOutcome RegionLock::lock() noexcept {
  switch (pthread_mutex_lock(native(storage_))) {
    case 0:
      return LockOutcome::acquired;
    case EOWNERDEAD:
      return LockOutcome::owner_died;
    default:
      return LockOutcome::unusable;  // ENOTRECOVERABLE, or bytes that are not a mutex
  }
}

void RegionLock::mark_consistent() noexcept {
  pthread_mutex_consistent(native(storage_));
}

void RegionLock::unlock() noexcept {
  pthread_mutex_unlock(native(storage_));
}

}  // namespace talc
