/* The C API in one program: a heap on a shared memory name, a board of slots found by name, and
 * a writer process, started with fork and opening the heap by name as any other program would,
 * that leaves greetings in the slots. Each greeting's block is allocated straight into its slot
 * (talc_allocate_into), so a writer killed at any instant leaves every slot either empty or
 * naming a whole block, never a lost one (its text may be unfinished: the reader prints no more
 * than the block holds). The reader prints them and frees each with its slot.
 *
 *   talc_c_tour [shm-name]      (default: /talc-c-tour-<pid>; the name is removed at the end)
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "talc/talc.h"

enum { kSlots = 8 };

static int fail(const char* what, talc_errc e) {
  fprintf(stderr, "%s: %s (%s)\n", what, talc_strerror(e), talc_last_error_message());
  return 1;
}

/* The writer: its own open of the heap, its own address for every block. */
static int write_greetings(const char* name) {
  talc_heap* heap = NULL;
  talc_errc e = talc_open_shm(name, NULL, &heap);
  if (e != TALC_OK) return fail("open", e);
  uint64_t* board = NULL;
  size_t size = 0;
  e = talc_named_find(heap, "board", (void**)&board, &size);
  if (e != TALC_OK) return fail("find the board", e);
  for (size_t i = 0; i < size / sizeof(uint64_t); ++i) {
    char text[64];
    const int n = snprintf(text, sizeof text, "greeting %zu from process %d", i, (int)getpid());
    void* block = NULL;
    e = talc_allocate_into(heap, board, i, (size_t)n + 1, 0, &block);
    if (e != TALC_OK) return fail("allocate into the board", e);
    memcpy(block, text, (size_t)n + 1);
  }
  talc_close(heap);
  return 0;
}

int main(int argc, char** argv) {
  char name[64];
  if (argc > 1)
    snprintf(name, sizeof name, "%s", argv[1]);
  else
    snprintf(name, sizeof name, "/talc-c-tour-%d", (int)getpid());

  talc_options options;
  talc_options_init(&options);
  options.max_size = 64 << 20; /* starts at 1 MiB, may grow to 64 */
  talc_heap* heap = NULL;
  talc_errc e = talc_create_shm(name, 1 << 20, &options, &heap);
  if (e != TALC_OK) return fail("create", e);

  uint64_t* board = NULL;
  e = talc_named_find_or_allocate(heap, "board", kSlots * sizeof(uint64_t), 0, (void**)&board);
  if (e != TALC_OK) return fail("make the board", e);
  for (int i = 0; i < kSlots; ++i) board[i] = TALC_NULL_OFFSET; /* every slot empty */

  const pid_t writer = fork();
  if (writer == 0) _exit(write_greetings(name));
  int status = 0;
  waitpid(writer, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;

  for (int i = 0; i < kSlots; ++i) {
    void* text = NULL;
    e = talc_adopt(heap, board[i], 1, &text); /* the slot's offset, checked */
    if (e != TALC_OK) return fail("adopt a greeting", e);
    size_t room = 0;
    e = talc_usable_size(heap, text, &room);
    if (e != TALC_OK) return fail("size a greeting", e);
    printf("slot %d, offset %" PRIu64 ": %.*s\n", i, board[i], (int)strnlen(text, room),
           (const char*)text);
    e = talc_deallocate_from(heap, board, (size_t)i);
    if (e != TALC_OK) return fail("free a greeting", e);
  }
  e = talc_named_destroy(heap, "board");
  if (e != TALC_OK) return fail("destroy the board", e);

  talc_check_report report;
  talc_stats stats;
  e = talc_check(heap, &report);
  if (e != TALC_OK) return fail(report.what, e);
  e = talc_get_stats(heap, &stats);
  if (e != TALC_OK) return fail("read the statistics", e);
  printf("check: %s; live blocks %" PRIu64 " (the name directory), free bytes %" PRIu64 "\n",
         report.what, stats.live_allocations, stats.free_bytes);
  talc_close(heap);
  talc_remove_shm(name);
  return 0;
}
