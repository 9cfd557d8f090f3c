/* Rings through the C API (talc_ring_* in talc/talc.h), from C11: a forked process opens the
 * heap and the ring by name and streams blocks to the parent, which blocks on the ring until each
 * comes and ends at the end of the stream; bounds end waits; a producer killed while the parent
 * waits is told apart (TALC_PEER_GONE) from one that closed; a closed consumer refuses pushes;
 * and the refusals set the thread's message as every call does. Exits 0 when every check
 * passes; prints each failed check. */
#define _POSIX_C_SOURCE 200809L /* kill, nanosleep */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/c_check.h"
#include "talc/talc.h"

enum { kBlocks = 3000 };

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
  const struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* In a child: opens the heap and the ring by name (another mapping of the region). */
static talc_ring* child_ring(const char* name, const char* ring_name, talc_heap** heap) {
  talc_ring* r = NULL;
  if (talc_open_shm(name, NULL, heap) != TALC_OK) return NULL;
  if (talc_ring_open(*heap, ring_name, &r) != TALC_OK) return NULL;
  return r;
}

/* Block i holds its index in its first word, and is 16 + i % 500 bytes long. */
static int produce(const char* name) {
  talc_heap* h = NULL;
  talc_ring* r = child_ring(name, "stream", &h);
  if (r == NULL) return 1;
  for (uint64_t i = 0; i < kBlocks; ++i) {
    const size_t size = 16 + i % 500;
    uint64_t* p = NULL;
    if (talc_allocate(h, size, 0, (void**)&p) != TALC_OK) return 2;
    p[0] = i;
    if (talc_ring_push(r, talc_offset_of(h, p), size, 10000) != TALC_OK) return 3;
  }
  if (talc_ring_close_producer(r) != TALC_OK) return 4;
  talc_close(h);
  return 0;
}

static void stream(talc_heap* h, const char* name) {
  talc_ring* r = NULL;
  OK(talc_ring_open(h, "stream", &r));
  talc_ring* same = NULL;
  OK(talc_ring_open(h, "stream", &same));
  CHECK(r != NULL && r == same && talc_ring_length(r) == 0);
  const pid_t pid = fork();
  if (pid == 0) _exit(produce(name));
  uint64_t expect = 0, offset = 0, size = 0;
  talc_errc e;
  while ((e = talc_ring_pop(r, 10000, &offset, &size)) == TALC_OK) {
    uint64_t* p = NULL;
    OK(talc_adopt(h, offset, size, (void**)&p));
    CHECK(p != NULL && p[0] == expect && size == 16 + expect % 500);
    OK(talc_free(h, p));
    ++expect;
  }
  CHECK(e == TALC_RING_CLOSED); /* the end of the stream, after every block */
  CHECK(expect == kBlocks);
  CHECK(strstr(talc_last_error_message(), "talc_ring_pop") != NULL);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* It stays ended, for any bound, until a producer pushes again. */
  CHECK(talc_ring_pop(r, TALC_WAIT_FOREVER, &offset, &size) == TALC_RING_CLOSED);
}

static void bounds(talc_heap* h) {
  talc_ring* r = NULL;
  OK(talc_ring_open(h, "bounds", &r));
  uint64_t offset = 0, size = 0;
  double t0 = now_ms();
  CHECK(talc_ring_pop(r, 0, &offset, &size) == TALC_TIMED_OUT);
  CHECK(now_ms() - t0 < 100);
  t0 = now_ms();
  CHECK(talc_ring_pop(r, 150, &offset, &size) == TALC_TIMED_OUT);
  const double waited = now_ms() - t0;
  CHECK(waited >= 150 && waited < 150 + 1000);
  CHECK(strcmp(talc_errc_name(TALC_TIMED_OUT), "timed_out") == 0);
  CHECK(strstr(talc_last_error_message(), "talc_ring_pop") != NULL);

  void* b = NULL;
  OK(talc_allocate(h, 64, 0, &b));
  for (int i = 0; i < TALC_RING_CAPACITY; ++i)
    OK(talc_ring_push(r, talc_offset_of(h, b), 64, 0)); /* one block, many times: never read */
  CHECK(talc_ring_length(r) == TALC_RING_CAPACITY);
  t0 = now_ms();
  CHECK(talc_ring_push(r, talc_offset_of(h, b), 64, 100) == TALC_TIMED_OUT);
  CHECK(now_ms() - t0 >= 100);
  for (int i = 0; i < TALC_RING_CAPACITY; ++i) OK(talc_ring_pop(r, 0, &offset, &size));
  OK(talc_free(h, b));

  /* A consumer that closed reads no more: a push is refused, room or not. */
  OK(talc_ring_close_consumer(r));
  CHECK(talc_ring_push(r, 0, 16, TALC_WAIT_FOREVER) == TALC_RING_CLOSED);
  CHECK(talc_ring_length(r) == 0);

  CHECK(talc_ring_open(h, "", &r) == TALC_EMPTY_NAME);
  CHECK(talc_ring_open(h, "bounds", NULL) == TALC_NULL_POINTER);
  CHECK(talc_ring_push(NULL, 0, 16, 0) == TALC_NULL_POINTER);
  CHECK(talc_ring_pop(r, 0, NULL, &size) == TALC_NULL_POINTER);
  CHECK(talc_ring_close_producer(NULL) == TALC_NULL_POINTER);
  CHECK(talc_ring_length(NULL) == 0);
  /* A named block of bytes is no ring. */
  void* bytes = NULL;
  OK(talc_named_find_or_allocate(h, "bytes", 64, 0, &bytes));
  CHECK(talc_ring_open(h, "bytes", &r) == TALC_TYPE_MISMATCH);
  OK(talc_named_destroy(h, "bytes"));
}

/* The producer attaches (a push), then hangs until the parent, asleep on the empty ring, has it
 * killed. */
static void killed_producer(talc_heap* h, const char* name) {
  talc_ring* r = NULL;
  OK(talc_ring_open(h, "killed", &r));
  int ready[2];
  CHECK(pipe(ready) == 0);
  const pid_t pid = fork();
  if (pid == 0) {
    talc_heap* c = NULL;
    talc_ring* cr = child_ring(name, "killed", &c);
    uint64_t* p = NULL;
    if (cr == NULL || talc_allocate(c, 32, 0, (void**)&p) != TALC_OK) _exit(1);
    if (talc_ring_push(cr, talc_offset_of(c, p), 32, 0) != TALC_OK) _exit(2);
    if (write(ready[1], "x", 1) != 1) _exit(3);
    for (;;) pause();
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1);
  uint64_t offset = 0, size = 0;
  OK(talc_ring_pop(r, 10000, &offset, &size)); /* its block first */
  void* p = NULL;
  OK(talc_adopt(h, offset, size, &p));
  OK(talc_free(h, p));
  const pid_t killer = fork();
  if (killer == 0) {
    sleep_ms(200);
    kill(pid, SIGKILL);
    _exit(0);
  }
  const double t0 = now_ms();
  CHECK(talc_ring_pop(r, 30000, &offset, &size) == TALC_PEER_GONE);
  const double waited = now_ms() - t0;
  CHECK(waited >= 150 && waited < 200 + TALC_RING_LOOK_MS + 1000);
  int status = 0;
  CHECK(waitpid(killer, &status, 0) == killer);
  CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  close(ready[0]);
  close(ready[1]);
}

int main(void) {
  char name[64];
  snprintf(name, sizeof name, "/talc-c-ring-%d", (int)getpid());
  talc_heap* h = NULL;
  OK(talc_create_shm(name, 4 << 20, NULL, &h));
  if (h == NULL) return 1;
  stream(h, name);
  bounds(h);
  killed_producer(h, name);
  talc_check_report rep;
  CHECK(talc_check(h, &rep) == TALC_OK);
  talc_close(h);
  OK(talc_remove_shm(name));
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("talc C rings: every check passed\n");
  return 0;
}
