// The futex calls every waiter in a region shares: the region's lock (region_lock.hpp) and a
// ring's ends (ring_ends.hpp) sleep and wake through these, and nothing else calls the futex.
//
// Every word is in memory that several processes map, each at its own address, so the calls are
// the shared forms (FUTEX_WAIT, FUTEX_WAKE), never the private ones, which key the word by this
// process's address. A sleep is always bounded: a waiter whose waker died (or whose wake-up was
// lost with a killed process) looks again at the end of its slice. The OS calls stay in
// src/sync/futex.cpp.
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>

namespace talc {

/// The 32 bits of a 64-bit word a futex watches: its low half, where the region's words keep
/// what a sleeper must see change.
inline std::uint32_t* futex_word(std::atomic<std::uint64_t>& w) noexcept {
  auto* p = reinterpret_cast<std::uint32_t*>(&w);
  return std::endian::native == std::endian::little ? p : p + 1;
}
inline std::uint32_t* futex_word(std::atomic<std::uint32_t>& w) noexcept {
  return reinterpret_cast<std::uint32_t*>(&w);
}

enum class FutexSleep : std::uint8_t {
  woken,  // a wake-up ended it
  other,  // the word held another value, the time ran out, or a signal came
};

/// Sleeps while *word holds `expect`, at most `d`. A futex that cannot be used (a seccomp filter,
/// say) sleeps the time instead, so that a caller's loop never turns into a spin.
FutexSleep futex_sleep(std::uint32_t* word, std::uint32_t expect,
                       std::chrono::steady_clock::duration d) noexcept;

/// Wakes up to `n` sleepers of `word`, in any process.
void futex_wake(std::uint32_t* word, int n) noexcept;

/// One step of a short spin before a sleep: tells the core that this thread waits.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// For the tests that prove a path makes no system call.
namespace futex_testing {
/// How many times this process called futex_wake.
inline std::atomic<std::uint64_t> wakes{0};
}  // namespace futex_testing

}  // namespace talc
