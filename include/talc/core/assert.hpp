// Layer 4 — TALC_ASSERT: this code's own invariants, checked in debug and test builds.
//
// Two kinds of checks, kept apart on purpose:
//  - The region's bytes are data from other processes, and a pointer handed back is the
//    caller's word: those are checked always, in every build, and refused with an Errc (the
//    heap's bytes stay as they were). Never with TALC_ASSERT.
//  - What this code itself established a few lines earlier (a carved block fits the chunk
//    plan() chose, a merge covers the chunk it frees, a lane's class is in range): TALC_ASSERT,
//    which aborts with the file and line. It is compiled in when NDEBUG is not defined (debug
//    builds) or TALC_ASSERTS is (the sanitizer and fuzz presets), and out of release builds,
//    whose hot paths must not pay for it. A failure is a bug in this library, never bad input.
#pragma once

#include <cstdio>
#include <cstdlib>

#if !defined(NDEBUG) || defined(TALC_ASSERTS)
#define TALC_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::talc::assert_failed(#cond, __FILE__, __LINE__))
#else
// Not evaluated, but still compiled: an assertion cannot rot in release builds.
#define TALC_ASSERT(cond) static_cast<void>(sizeof(static_cast<bool>(cond)))
#endif

namespace talc {

[[noreturn, gnu::cold, gnu::noinline]] inline void assert_failed(const char* cond, const char* file,
                                                                 int line) noexcept {
  std::fprintf(stderr, "talc: internal invariant broken at %s:%d: %s\n", file, line, cond);
  std::abort();
}

}  // namespace talc
