/* The C API (talc/talc.h), from C11: every call's success and its refusals (each with its code,
 * and changing nothing the statistics can see), blocks exchanged by offset with a forked process
 * that opens the heap by name, named blocks, atomic slots, heaps in a file and in a memfd.
 * Exits 0 when every check passes; prints each failed check. */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/c_check.h"
#include "talc/talc.h"

static uint64_t live(talc_heap* h) {
  talc_stats s;
  OK(talc_get_stats(h, &s));
  return s.live_allocations;
}

static void fill(unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(seed + i * 7);
}
static int intact(const unsigned char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

static int zeros(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return 0;
  return 1;
}

static void texts(void) {
  /* The library's version is the header's, the project's. */
  char version[32];
  snprintf(version, sizeof version, "%d.%d.%d", TALC_VERSION_MAJOR, TALC_VERSION_MINOR,
           TALC_VERSION_PATCH);
  CHECK(strcmp(talc_version(), version) == 0);
  CHECK(strcmp(talc_errc_name(TALC_NOT_ALLOCATED), "not_allocated") == 0);
  CHECK(strcmp(talc_errc_name(TALC_NAMESPACE_MISMATCH), "namespace_mismatch") == 0);
  CHECK(strcmp(talc_errc_name(TALC_OS_ERROR), "os_error") == 0);
  CHECK(strcmp(talc_errc_name((talc_errc)999), "unknown") == 0);
  CHECK(strstr(talc_strerror(TALC_NOT_ALLOCATED), "double free") != NULL);
  CHECK(strcmp(talc_strerror((talc_errc)-3), "unknown") == 0);
  talc_options o;
  talc_options_init(&o);
  /* Zero is every default: a zeroed struct and an initialised one agree. */
  CHECK(o.max_size == 0 && o.mode == 0 && o.no_lanes == 0 && o.wait_ms == 0 && o.lock_wait_ms == 0);
}

/* Blocks: allocate, zero, resize, free; every refusal with its code and no change. */
static void blocks(talc_heap* h) {
  const uint64_t base_live = live(h);
  void* p = NULL;
  OK(talc_allocate(h, 100, 0, &p));
  CHECK(p != NULL && (uintptr_t)p % 16 == 0);
  size_t usable = 0;
  OK(talc_usable_size(h, p, &usable));
  CHECK(usable >= 100);
  fill(p, 100, 1);
  const uint64_t off = talc_offset_of(h, p);
  CHECK(off != TALC_NULL_OFFSET && talc_address_of(h, off) == p);
  void* adopted = NULL;
  OK(talc_adopt(h, off, 100, &adopted));
  CHECK(adopted == p);
  CHECK(talc_adopt(h, off + 16, 16, &adopted) == TALC_FOREIGN_POINTER);
  CHECK(talc_adopt(h, off, 1 << 20, &adopted) == TALC_FOREIGN_POINTER);
  CHECK(talc_adopt(h, TALC_NULL_OFFSET, 16, &adopted) == TALC_NULL_POINTER);
  CHECK(talc_offset_of(h, &off) == TALC_NULL_OFFSET); /* a pointer outside the region */
  CHECK(talc_address_of(h, (uint64_t)1 << 60) == NULL);

  void* q = NULL;
  OK(talc_allocate(h, 5000, 256, &q));
  CHECK((uintptr_t)q % 256 == 0);
  fill(q, 5000, 2);
  OK(talc_reallocate(h, q, 20000, 0, &q));
  CHECK(intact(q, 5000, 2));
  OK(talc_reallocate(h, q, 1000, 0, &q));
  CHECK(intact(q, 1000, 2));
  CHECK(live(h) == base_live + 2);

  /* Refusals: none changes the count of live blocks. */
  void* none = NULL;
  CHECK(talc_allocate(h, 64, 24, &none) == TALC_BAD_ALIGNMENT && none == NULL);
  CHECK(talc_allocate(h, (size_t)1 << 30, 0, &none) == TALC_OUT_OF_MEMORY && none == NULL);
  CHECK(talc_allocate(h, (size_t)1 << 62, 0, &none) == TALC_SIZE_OVERFLOW && none == NULL);
  CHECK(strstr(talc_last_error_message(), "talc_allocate") != NULL);
  CHECK(talc_allocate(h, 64, 0, NULL) == TALC_NULL_POINTER);
  CHECK(talc_free(h, NULL) == TALC_NULL_POINTER);
  CHECK(talc_free(h, (unsigned char*)p + 16) == TALC_FOREIGN_POINTER);
  CHECK(talc_free(h, &usable) == TALC_FOREIGN_POINTER);
  CHECK(live(h) == base_live + 2);
  CHECK(intact(p, 100, 1));

  OK(talc_free(h, p));
  CHECK(talc_free(h, p) == TALC_NOT_ALLOCATED);
  CHECK(talc_usable_size(h, p, &usable) == TALC_NOT_ALLOCATED);
  CHECK(talc_adopt(h, off, 16, &adopted) == TALC_NOT_ALLOCATED);
  OK(talc_free(h, q));
  CHECK(live(h) == base_live);

  /* Zeroed, even where a dirty block of the same size was just freed. */
  OK(talc_allocate(h, 4096, 0, &p));
  memset(p, 0xab, 4096);
  OK(talc_free(h, p));
  OK(talc_allocate_zeroed(h, 4096, 0, &p));
  CHECK(zeros(p, 4096));
  OK(talc_free(h, p));
  OK(talc_trim(h));
}

/* A block and the word naming it change together. */
static void slots(talc_heap* h) {
  const uint64_t base_live = live(h);
  uint64_t* owner = NULL;
  OK(talc_allocate(h, 8 * sizeof(uint64_t), 0, (void**)&owner));
  for (int i = 0; i < 8; ++i) owner[i] = TALC_NULL_OFFSET;
  void* b = NULL;
  OK(talc_allocate_into(h, owner, 3, 300, 0, &b));
  CHECK(owner[3] == talc_offset_of(h, b));
  fill(b, 300, 3);
  void* again = NULL;
  CHECK(talc_allocate_into(h, owner, 3, 300, 0, &again) == TALC_SLOT_OCCUPIED && again == NULL);
  CHECK(talc_allocate_into(h, owner, 100, 300, 0, &again) != TALC_OK); /* past the owner */
  CHECK(talc_allocate_into(h, &again, 0, 300, 0, &again) == TALC_FOREIGN_POINTER);
  OK(talc_reallocate_from(h, owner, 3, 9000, 0, &b));
  CHECK(owner[3] == talc_offset_of(h, b) && intact(b, 300, 3));
  CHECK(live(h) == base_live + 2);
  OK(talc_deallocate_from(h, owner, 3));
  CHECK(owner[3] == TALC_NULL_OFFSET);
  CHECK(talc_deallocate_from(h, owner, 3) == TALC_NULL_POINTER);
  OK(talc_free(h, owner));
  CHECK(live(h) == base_live);
}

/* What talc_named_each saw: how many names, and the block named "mailbox". */
struct seen {
  int names;
  uint64_t mailbox_offset, mailbox_size, bytes_type;
};
static int see(const char* name, uint64_t offset, uint64_t size, uint64_t type, void* context) {
  struct seen* s = context;
  ++s->names;
  if (strcmp(name, "mailbox") == 0) {
    s->mailbox_offset = offset;
    s->mailbox_size = size;
    s->bytes_type = type;
  }
  return 0;
}
static int stop_at_first(const char* name, uint64_t offset, uint64_t size, uint64_t type,
                         void* context) {
  (void)name, (void)offset, (void)size, (void)type;
  ++*(int*)context;
  return 1;
}

/* Named arrays: made zeroed with their header, found whatever their shape, refused under another
 * type or shape, listed as arrays, and refused with the field named when the header is damaged. */
static void arrays(talc_heap* h) {
  const uint64_t shape[2] = {3, 4};
  talc_array a, b;
  OK(talc_named_array_make(h, "grid", "<i4", 4, 2, shape, &a));
  CHECK(strcmp(a.type, "<i4") == 0 && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 4);
  CHECK(a.item_size == 4 && a.data_bytes == 48 && (uintptr_t)a.data % 64 == 0);
  CHECK(zeros(a.data, 48));
  ((int32_t*)a.data)[11] = 42;
  OK(talc_named_array(h, "grid", &b));
  CHECK(b.data == a.data && ((int32_t*)b.data)[11] == 42);
  CHECK(talc_named_array_make(h, "grid", "<f4", 4, 2, shape, &b) == TALC_TYPE_MISMATCH);
  CHECK(talc_named_array_make(h, "grid", "<f8", 8, 2, shape, &b) == TALC_TYPE_MISMATCH);
  const uint64_t other[2] = {4, 3};
  CHECK(talc_named_array_make(h, "grid", "<i4", 4, 2, other, &b) == TALC_SIZE_MISMATCH);
  CHECK(talc_named_array_make(h, "big", "<f8", 8, 33, shape, &b) == TALC_SIZE_OVERFLOW);
  CHECK(strstr(talc_last_error_message(), "32 dimensions") != NULL);
  const uint64_t huge[2] = {(uint64_t)1 << 40, (uint64_t)1 << 40};
  CHECK(talc_named_array_make(h, "big", "<f8", 8, 2, huge, &b) == TALC_SIZE_OVERFLOW);
  CHECK(talc_named_array_make(h, "big", "", 8, 0, NULL, &b) == TALC_SIZE_OVERFLOW);
  CHECK(talc_named_array_make(h, "big", "<f8", 8, 1, NULL, &b) == TALC_NULL_POINTER);
  CHECK(talc_named_array(h, "nothing", &b) == TALC_NOT_FOUND);
  CHECK(talc_named_array(h, "grid", NULL) == TALC_NULL_POINTER);
  void* bytes = NULL;
  OK(talc_named_find_or_allocate(h, "raw", 16, 0, &bytes));
  CHECK(talc_named_array(h, "raw", &b) == TALC_TYPE_MISMATCH);
  CHECK(talc_named_find(h, "grid", &bytes, NULL) == TALC_TYPE_MISMATCH);
  CHECK(strcmp(talc_named_kind(0), "object") == 0);

  /* The header sits 64 + 8 * ndim bytes, rounded to 64, before the data: ndim is at byte 12. */
  unsigned char* header = (unsigned char*)a.data - 128;
  uint32_t ndim;
  memcpy(&ndim, header + 12, 4);
  CHECK(ndim == 2);
  const uint32_t bad = 99;
  memcpy(header + 12, &bad, 4);
  CHECK(talc_named_array(h, "grid", &b) == TALC_CORRUPTED);
  CHECK(strstr(talc_last_error_message(), "talc_named_array: ") == talc_last_error_message());
  CHECK(strstr(talc_last_error_message(), "more than 32 dimensions") != NULL);
  memcpy(header + 12, &ndim, 4);
  OK(talc_named_array(h, "grid", &b));
  CHECK(strcmp(talc_last_error_message(), "") == 0);
  OK(talc_named_destroy(h, "grid"));
  OK(talc_named_destroy(h, "raw"));
  CHECK(talc_named_array(h, "grid", &b) == TALC_NOT_FOUND);
}

/* The root, named blocks, and a forked process that opens the heap by name, reads the parent's
 * block in place, frees it, and leaves a block of its own for the parent. */
static void shared(talc_heap* h, const char* name) {
  CHECK(talc_root(h) == TALC_NULL_OFFSET);
  void* none = NULL;
  size_t size = 0;
  CHECK(talc_named_find(h, "mailbox", &none, &size) == TALC_NOT_FOUND);
  uint64_t* mailbox = NULL;
  OK(talc_named_find_or_allocate(h, "mailbox", 4 * sizeof(uint64_t), 64, (void**)&mailbox));
  CHECK(mailbox != NULL && (uintptr_t)mailbox % 64 == 0 && mailbox[0] == 0 && mailbox[3] == 0);
  void* same = NULL;
  OK(talc_named_find_or_allocate(h, "mailbox", 4 * sizeof(uint64_t), 64, &same));
  CHECK(same == mailbox);
  CHECK(talc_named_find_or_allocate(h, "mailbox", 8, 64, &same) == TALC_SIZE_MISMATCH);
  CHECK(talc_named_find_or_allocate(h, "", 8, 0, &same) == TALC_EMPTY_NAME);
  CHECK(talc_named_find_or_allocate(h, "zero", 0, 0, &same) == TALC_SIZE_OVERFLOW);

  void* note = NULL;
  OK(talc_named_find_or_allocate(h, "note", 100, 0, &note));
  struct seen s = {0, 0, 0, 0};
  OK(talc_named_each(h, see, &s));
  CHECK(s.names == 2 && s.mailbox_offset == talc_offset_of(h, mailbox) &&
        s.mailbox_size == 4 * sizeof(uint64_t) && s.bytes_type != 0);
  CHECK(strcmp(talc_named_kind(s.bytes_type), "bytes") == 0);
  int visits = 0;
  OK(talc_named_each(h, stop_at_first, &visits));
  CHECK(visits == 1);
  CHECK(talc_named_each(h, NULL, NULL) == TALC_NULL_POINTER);
  OK(talc_named_destroy(h, "note"));
  s.names = 0;
  OK(talc_named_each(h, see, &s));
  CHECK(s.names == 1);

  void* msg = NULL;
  OK(talc_allocate(h, 777, 0, &msg));
  fill(msg, 777, 4);
  mailbox[0] = talc_offset_of(h, msg);
  mailbox[1] = 777;
  talc_set_root(h, talc_offset_of(h, mailbox));
  CHECK(talc_exchange_root(h, TALC_NULL_OFFSET, 0) == 0); /* the root is no longer null */
  const uint64_t before = live(h);

  const pid_t pid = fork();
  if (pid == 0) {
    talc_heap* c = NULL;
    int good = talc_open_shm(name, NULL, &c) == TALC_OK;
    uint64_t* box = NULL;
    size_t n = 0;
    good = good && talc_named_find(c, "mailbox", (void**)&box, &n) == TALC_OK &&
           n == 4 * sizeof(uint64_t) && talc_offset_of(c, box) == talc_root(c);
    void* m = NULL;
    good = good && talc_adopt(c, box[0], box[1], &m) == TALC_OK && intact(m, 777, 4) &&
           talc_free(c, m) == TALC_OK && talc_free(c, m) == TALC_NOT_ALLOCATED;
    void* reply = NULL;
    good = good && talc_allocate(c, 1234, 0, &reply) == TALC_OK;
    if (good) {
      fill(reply, 1234, 5);
      box[2] = talc_offset_of(c, reply);
      box[3] = 1234;
    }
    talc_close(c);
    _exit(good ? 0 : 1);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(live(h) == before); /* one block freed by the child, one allocated */
  void* reply = NULL;
  OK(talc_adopt(h, mailbox[2], mailbox[3], &reply));
  CHECK(reply != NULL && intact(reply, 1234, 5));
  OK(talc_free(h, reply));
  OK(talc_named_destroy(h, "mailbox"));
  CHECK(talc_named_destroy(h, "mailbox") == TALC_NOT_FOUND);
  talc_set_root(h, TALC_NULL_OFFSET);
}

/* The thread's last error: every call that returns a talc_errc sets it, a refusal to its text
 * (and talc_last_os_error to its errno, 0 when it has none), a success to "" and 0; the calls
 * that return no talc_errc leave it alone. */
#define REFUSE_FIRST() CHECK(talc_free(h, NULL) == TALC_NULL_POINTER && *talc_last_error_message())
#define CLEARS(call)                                                                   \
  do {                                                                                 \
    REFUSE_FIRST();                                                                    \
    OK(call);                                                                          \
    if (*talc_last_error_message() != '\0' || talc_last_os_error() != 0) {             \
      fprintf(stderr, "%s:%d: %s left \"%s\" (errno %d)\n", __FILE__, __LINE__, #call, \
              talc_last_error_message(), talc_last_os_error());                        \
      ++failures;                                                                      \
    }                                                                                  \
  } while (0)
static void last_error(talc_heap* h, const char* name) {
  CHECK(talc_open_shm("/talc-c-api-no-such-name", NULL, &(talc_heap*){NULL}) == TALC_OS_ERROR);
  CHECK(talc_last_os_error() == ENOENT);
  CHECK(strstr(talc_last_error_message(), "talc_open_shm") != NULL);
  /* A refusal without an errno resets it, and names its own call. */
  CHECK(talc_allocate(h, 64, 24, &(void*){NULL}) == TALC_BAD_ALIGNMENT);
  CHECK(talc_last_os_error() == 0 && strstr(talc_last_error_message(), "talc_allocate") != NULL);
  /* Calls that return no talc_errc, and reading it, leave it. */
  const char* const kept = talc_last_error_message();
  (void)talc_offset_of(h, NULL);
  (void)talc_address_of(h, (uint64_t)1 << 60);
  (void)talc_root(h);
  (void)talc_strerror(TALC_NOT_FOUND);
  (void)talc_errc_name(TALC_NOT_FOUND);
  talc_options o;
  talc_options_init(&o);
  CHECK(talc_last_error_message() == kept && strstr(kept, "talc_allocate") != NULL);

  /* Every kind of success clears it. */
  void *p = NULL, *q = NULL;
  CLEARS(talc_allocate(h, 64, 0, &p));
  CLEARS(talc_allocate_zeroed(h, 64, 0, &q));
  CLEARS(talc_reallocate(h, q, 128, 0, &q));
  size_t n = 0;
  CLEARS(talc_usable_size(h, p, &n));
  CLEARS(talc_adopt(h, talc_offset_of(h, p), 64, &(void*){NULL}));
  uint64_t* owner = p;
  owner[0] = TALC_NULL_OFFSET;
  void* b = NULL;
  CLEARS(talc_allocate_into(h, owner, 0, 32, 0, &b));
  CLEARS(talc_reallocate_from(h, owner, 0, 4000, 0, &b));
  CLEARS(talc_deallocate_from(h, owner, 0));
  CLEARS(talc_named_find_or_allocate(h, "last-error", 16, 0, &b));
  CLEARS(talc_named_find(h, "last-error", &b, NULL));
  CLEARS(talc_named_destroy(h, "last-error"));
  talc_stats s;
  CLEARS(talc_get_stats(h, &s));
  CLEARS(talc_check(h, NULL));
  CLEARS(talc_trim(h));
  CLEARS(talc_free(h, q));
  CLEARS(talc_free(h, p));
  talc_heap* again = NULL;
  CLEARS(talc_open_shm(name, NULL, &again));
  talc_close(again);
  /* After an OS refusal too: its errno goes with it. */
  CHECK(talc_remove_shm("/talc-c-api-no-such-name") == TALC_OS_ERROR);
  CHECK(talc_last_os_error() == ENOENT);
  CHECK(talc_get_stats(h, &s) == TALC_OK);
  CHECK(talc_last_os_error() == 0 && *talc_last_error_message() == '\0');
}
#undef CLEARS
#undef REFUSE_FIRST

/* Opening: refusals with their codes and errno, then a heap in a file and one in a memfd, each
 * open twice at two addresses. */
static void opening(const char* name) {
  talc_heap* h = NULL;
  CHECK(talc_create_shm(name, 1 << 20, NULL, &h) == TALC_OS_ERROR && h == NULL);
  CHECK(talc_last_os_error() == EEXIST);
  CHECK(talc_open_shm("/talc-c-api-no-such-name", NULL, &h) == TALC_OS_ERROR && h == NULL);
  CHECK(talc_last_os_error() == ENOENT);
  CHECK(talc_open_shm(NULL, NULL, &h) == TALC_NULL_POINTER);
  CHECK(talc_remove_shm("/talc-c-api-no-such-name") == TALC_OS_ERROR);

  /* A zeroed talc_options is every default: the region gets mode 0600, not 0000. */
  char zeroed_name[80], shm_path[96];
  snprintf(zeroed_name, sizeof zeroed_name, "%s-zeroed", name);
  snprintf(shm_path, sizeof shm_path, "/dev/shm%s", zeroed_name);
  const talc_options zero = {0};
  OK(talc_create_shm(zeroed_name, 1 << 20, &zero, &h));
  struct stat st;
  CHECK(stat(shm_path, &st) == 0 && (st.st_mode & 0777) == 0600);
  talc_close(h);
  OK(talc_remove_shm(zeroed_name));

  char path[64];
  snprintf(path, sizeof path, "/tmp/talc-c-api-%d.heap", (int)getpid());
  talc_options o;
  talc_options_init(&o);
  o.max_size = 8 << 20;
  talc_heap *a = NULL, *b = NULL;
  OK(talc_create_file(path, 1 << 20, &o, &a));
  OK(talc_open_file(path, NULL, &b));
  OK(talc_open_or_create_file(path, 1 << 20, NULL, &h));
  void* p = NULL;
  OK(talc_allocate(a, 3 << 20, 0, &p)); /* more than the first size: the file grows */
  fill(p, 3 << 20, 6);
  void* seen = NULL;
  OK(talc_adopt(b, talc_offset_of(a, p), 3 << 20, &seen));
  CHECK(seen != NULL && seen != p && intact(seen, 3 << 20, 6));
  OK(talc_free(h, talc_address_of(h, talc_offset_of(a, p))));
  talc_check_report rep;
  CHECK(talc_check(b, &rep) == TALC_OK && rep.code == TALC_OK);
  talc_close(a);
  talc_close(b);
  talc_close(h);
  CHECK(unlink(path) == 0);

  const int fd = memfd_create("talc-c-api", 0);
  CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
  OK(talc_open_fd(fd, NULL, &a)); /* fresh zeros: builds */
  OK(talc_open_fd(fd, NULL, &b)); /* attaches */
  OK(talc_allocate(a, 64, 0, &p));
  OK(talc_free(b, talc_address_of(b, talc_offset_of(a, p))));
  CHECK(live(a) == 0);
  talc_close(a);
  talc_close(b);
  CHECK(close(fd) == 0); /* the heap had descriptors of its own */
  CHECK(talc_open_fd(-1, NULL, &a) == TALC_OS_ERROR && talc_last_os_error() == EBADF);
}

int main(void) {
  char name[64];
  snprintf(name, sizeof name, "/talc-c-api-%d", (int)getpid());
  texts();
  talc_options o;
  talc_options_init(&o);
  o.max_size = 64 << 20;
  talc_heap* h = NULL;
  OK(talc_create_shm(name, 4 << 20, &o, &h));
  if (h == NULL) return 1;
  blocks(h);
  slots(h);
  arrays(h);
  shared(h, name);
  last_error(h, name);
  opening(name);
  talc_check_report rep;
  CHECK(talc_check(h, &rep) == TALC_OK && rep.code == TALC_OK && rep.what != NULL);
  OK(talc_trim(h));
  talc_stats s;
  OK(talc_get_stats(h, &s));
  /* Every block was freed: what is left is the named directory's segment. */
  CHECK(s.live_allocations == 1 && s.cached_blocks == 0);
  CHECK(s.live_bytes + s.free_bytes + s.cached_bytes + s.overhead_bytes == s.span_bytes);
  talc_close(h);
  OK(talc_remove_shm(name));
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("talc C API: every check passed\n");
  return 0;
}
