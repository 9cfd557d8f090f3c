/* Checks for the tests written in C: CHECK(cond) prints each failed condition with its place and
 * counts it in `failures`, which the program's exit status reports. OK(call), for the programs
 * linked with the library, checks that a call of the C API succeeds, and prints its code and the
 * thread's message when it does not. */
#ifndef TALC_TEST_SUPPORT_C_CHECK_H
#define TALC_TEST_SUPPORT_C_CHECK_H

#include <stdio.h>

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* A call that must succeed; its code and the thread's message when it does not. */
#define OK(call)                                                                                \
  do {                                                                                          \
    const talc_errc ok_e_ = (call);                                                             \
    if (ok_e_ != TALC_OK) {                                                                     \
      fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call, talc_errc_name(ok_e_), \
              talc_last_error_message());                                                       \
      ++failures;                                                                               \
    }                                                                                           \
  } while (0)

#endif /* TALC_TEST_SUPPORT_C_CHECK_H */
