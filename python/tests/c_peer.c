/* A C program that exchanges blocks with Python through a ring in a shared heap, by the C API
 * alone, for the Python package's tests (test_c_peer.py): heap.ring(name) and talc_ring_open(name)
 * are one ring.
 *
 *   c_peer NAME produce RING COUNT   allocates COUNT blocks, fills block i with the pattern,
 *                                    pushes them (waiting while the ring is full) and closes
 *                                    the ring: the end of the stream
 *   c_peer NAME consume RING         pops, adopts, verifies and frees blocks until the end of
 *                                    the stream; prints how many
 *   c_peer NAME hang RING            pushes one block, so that it is the ring's producer, says
 *                                    "attached" and waits to be killed
 *
 * Block i is 4 * (1 + i * 13 % 2000) bytes; its 32-bit word j holds i * 1000003 + j (modulo
 * 2^32). Exit status 0 when every block passed. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "talc/talc.h"

static const int64_t kPatienceMs = 20000; /* for each block */

static uint32_t word(uint64_t i, uint64_t j) {
  return (uint32_t)(i * 1000003u + j);
}
static uint64_t size_of(uint64_t i) {
  return 4 * (1 + i * 13 % 2000);
}

static int fail(const char* what, talc_errc e) {
  printf("%s: %s (%s)\n", what, talc_errc_name(e), talc_last_error_message());
  return 1;
}

static int produce(talc_heap* h, talc_ring* r, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t* p = NULL;
    talc_errc e = talc_allocate(h, size_of(i), 0, (void**)&p);
    if (e != TALC_OK) return fail("allocate", e);
    for (uint64_t j = 0; j < size_of(i) / 4; ++j) p[j] = word(i, j);
    e = talc_ring_push(r, talc_offset_of(h, p), size_of(i), kPatienceMs);
    if (e != TALC_OK) return fail("push", e);
  }
  const talc_errc e = talc_ring_close_producer(r);
  if (e != TALC_OK) return fail("close", e);
  printf("produced %llu\n", (unsigned long long)count);
  return 0;
}

static int consume(talc_heap* h, talc_ring* r) {
  uint64_t i = 0, offset = 0, size = 0;
  talc_errc e;
  while ((e = talc_ring_pop(r, kPatienceMs, &offset, &size)) == TALC_OK) {
    uint32_t* p = NULL;
    if ((e = talc_adopt(h, offset, size, (void**)&p)) != TALC_OK) return fail("adopt", e);
    if (size != size_of(i))
      return printf("block %llu: size %llu\n", (unsigned long long)i, (unsigned long long)size), 1;
    for (uint64_t j = 0; j < size / 4; ++j)
      if (p[j] != word(i, j))
        return printf("block %llu differs at word %llu\n", (unsigned long long)i,
                      (unsigned long long)j),
               1;
    if ((e = talc_free(h, p)) != TALC_OK) return fail("free", e);
    ++i;
  }
  if (e != TALC_RING_CLOSED) return fail("pop", e);
  printf("verified %llu\n", (unsigned long long)i);
  return 0;
}

static int hang(talc_heap* h, talc_ring* r) {
  void* p = NULL;
  talc_errc e = talc_allocate(h, 16, 0, &p);
  if (e != TALC_OK) return fail("allocate", e);
  if ((e = talc_ring_push(r, talc_offset_of(h, p), 16, kPatienceMs)) != TALC_OK)
    return fail("push", e);
  printf("attached\n");
  fflush(stdout);
  for (;;) pause();
}

int main(int argc, char** argv) {
  if (argc < 4) return puts("usage: c_peer NAME produce|consume|hang RING [COUNT]"), 2;
  talc_heap* h = NULL;
  talc_ring* r = NULL;
  talc_errc e = talc_open_shm(argv[1], NULL, &h);
  if (e != TALC_OK) return fail("open", e);
  if ((e = talc_ring_open(h, argv[3], &r)) != TALC_OK) return fail("ring", e);
  int rc = 2;
  if (strcmp(argv[2], "produce") == 0 && argc == 5)
    rc = produce(h, r, strtoull(argv[4], NULL, 10));
  else if (strcmp(argv[2], "consume") == 0)
    rc = consume(h, r);
  else if (strcmp(argv[2], "hang") == 0)
    rc = hang(h, r);
  talc_close(h);
  return rc;
}
