/* The C allocation API's edge cases, printed: run under glibc and under the preloaded face
 * (run_preloaded.sh), the two outputs must be the same. Only what glibc documents is printed
 * (which calls fail, with which errno; alignments; kept and zeroed bytes), not what differs
 * between correct allocators: usable sizes beyond the request, an alignment above the face's
 * 2 MiB, and aligned_alloc with an alignment that is not a power of two (glibc rounds it up
 * before 2.38 and refuses it since, as C17 says). Built without talc. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A block stays the caller's when realloc refuses it, which is what this program checks. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

/* Sizes the compiler must not see, or it would warn that they cannot be allocated. */
static volatile size_t huge = SIZE_MAX / 2;

static const char* err_name(int e) {
  return e == 0 ? "0" : e == EINVAL ? "EINVAL" : e == ENOMEM ? "ENOMEM" : "other";
}

/* A pointer's outcome: null (with errno), or whether it is aligned to `align`. */
static void show(const char* what, void* p, size_t align) {
  if (p == NULL)
    printf("%-34s NULL errno=%s\n", what, err_name(errno));
  else
    printf("%-34s ok aligned=%d\n", what, (uintptr_t)p % align == 0);
  free(p);
}

static int all(const unsigned char* p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != v) return 0;
  return 1;
}

int main(void) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void* p;

  errno = 0;
  show("malloc(0)", malloc(0), 16);
  show("malloc(SIZE_MAX / 2)", malloc(huge), 16);
  errno = 0;
  show("calloc(SIZE_MAX / 2, 4) overflow", calloc(huge, 4), 16);
  errno = 0;
  show("calloc(0, 0)", calloc(0, 0), 16);

  /* Kept and zeroed bytes. */
  unsigned char* c = calloc(1000, 3);
  printf("calloc zeroed                      %d\n", c != NULL && all(c, 3000, 0));
  memset(c, 0xab, 3000);
  c = realloc(c, 100000);
  printf("realloc grown keeps its bytes      %d\n", c != NULL && all(c, 3000, 0xab));
  c = realloc(c, 10);
  printf("realloc shrunk keeps its bytes     %d\n", c != NULL && all(c, 10, 0xab));
  printf("malloc_usable_size >= 10           %d\n", malloc_usable_size(c) >= 10);
  printf("malloc_usable_size(NULL)           %zu\n", malloc_usable_size(NULL));
  errno = 0;
  p = realloc(c, 0);
  printf("realloc(p, 0)                      %s errno=%s\n", p == NULL ? "NULL" : "ok",
         err_name(errno));
  free(p);
  show("realloc(NULL, 64)", realloc(NULL, 64), 16);
  c = malloc(64);
  errno = 0;
  p = realloc(c, huge);
  printf("realloc(p, SIZE_MAX / 2)           %s errno=%s, p kept %d\n", p ? "ok" : "NULL",
         err_name(errno), p == NULL && malloc_usable_size(c) >= 64);
  errno = 0;
  p = reallocarray(c, huge, 4);
  printf("reallocarray overflow              %s errno=%s\n", p ? "ok" : "NULL", err_name(errno));
  c = reallocarray(c, 100, 8);
  show("reallocarray(p, 100, 8)", c, 16);

  /* Alignments. */
  static const size_t aligns[] = {0, 1, 8, 16, 24, 32, 64, 4096, 65536, 1 << 21};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; ++i) {
    const size_t a = aligns[i];
    char what[64];
    void* q = NULL;
    errno = 0;
    const int r = posix_memalign(&q, a, 100);
    printf("posix_memalign(%7zu, 100)        %s errno-kept=%d\n", a, err_name(r), errno == 0);
    if (r == 0) {
      printf("  aligned %d\n", (uintptr_t)q % a == 0);
      free(q);
    }
    snprintf(what, sizeof what, "memalign(%zu, 100)", a);
    errno = 0;
    /* memalign rounds 24 up to 32. */
    show(what, memalign(a, 100), a == 24 ? 32 : a ? a : 1);
    if (a != 0 && (a & (a - 1)) == 0) {
      snprintf(what, sizeof what, "aligned_alloc(%zu, 100)", a);
      errno = 0;
      show(what, aligned_alloc(a, 100), a);
    }
  }
  errno = 0;
  show("memalign(SIZE_MAX / 2 + 2, 1)", memalign(huge + 2, 1), 1);
  show("valloc(100)", valloc(100), page);
  unsigned char* v = pvalloc(100);
  printf("pvalloc(100)                       aligned=%d whole page usable=%d\n",
         v != NULL && (uintptr_t)v % page == 0, v != NULL && malloc_usable_size(v) >= page);
  free(v);
  errno = 0;
  show("pvalloc(SIZE_MAX)", pvalloc(huge * 2 + 1), page);

  /* A successful call leaves errno alone. */
  errno = 1234;
  p = malloc(32);
  free(p);
  free(NULL);
  printf("errno after malloc and free        %d\n", errno);
  return 0;
}
