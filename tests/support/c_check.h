/* Checks for the tests written in C: CHECK(cond) prints each failed condition with its place and
 * counts it in `failures`, which the program's exit status reports. */
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

#endif /* TALC_TEST_SUPPORT_C_CHECK_H */
