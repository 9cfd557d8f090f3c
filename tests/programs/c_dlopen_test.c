/* libtalc.so loaded at run time, as a plugin host or another language's FFI loads it: dlopen,
 * the C API's calls by dlsym, a heap created, a block allocated, a named block written and read
 * back. The library's path is the first argument. Only talc.h's calls are exported: a C++
 * symbol of the library is not found. Exits 0 when every check passes.
 *
 * With `--exchange NAME` it is the other end of a Python process instead
 * (python/tests/test_c_dlopen.py): it opens the heap that process created in shared memory
 * object NAME, reads the named block "from-python" and answers in a new named block "from-c",
 * holding "pong: " and what it read. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "support/c_check.h"
#include "talc/talc.h" /* the types and macros only: every call goes through dlsym */

/* A pointer of each call's own type, found by name in the library (memcpy: ISO C converts no
 * object pointer to a function pointer). */
#define CALL(name) name##_t name##_
#define LOAD(lib, name)                      \
  do {                                       \
    void* sym_ = dlsym(lib, #name);          \
    CHECK(sym_ != NULL);                     \
    if (sym_ == NULL) return 1;              \
    memcpy(&name##_, &sym_, sizeof name##_); \
  } while (0)

typedef const char* (*talc_version_t)(void);
typedef talc_errc (*talc_create_shm_t)(const char*, size_t, const talc_options*, talc_heap**);
typedef talc_errc (*talc_open_shm_t)(const char*, const talc_options*, talc_heap**);
typedef talc_errc (*talc_remove_shm_t)(const char*);
typedef void (*talc_close_t)(talc_heap*);
typedef talc_errc (*talc_allocate_t)(talc_heap*, size_t, size_t, void**);
typedef talc_errc (*talc_free_t)(talc_heap*, void*);
typedef uint64_t (*talc_offset_of_t)(const talc_heap*, const void*);
typedef talc_errc (*talc_named_find_or_allocate_t)(talc_heap*, const char*, size_t, size_t, void**);
typedef talc_errc (*talc_named_find_t)(talc_heap*, const char*, void**, size_t*);
typedef talc_errc (*talc_named_destroy_t)(talc_heap*, const char*);
typedef const char* (*talc_last_error_message_t)(void);

/* The Python process's block read, the answer written: 0 when both went through. */
static int exchange(void* lib, const char* shm) {
  CALL(talc_open_shm);
  CALL(talc_close);
  CALL(talc_named_find);
  CALL(talc_named_find_or_allocate);
  CALL(talc_last_error_message);
  LOAD(lib, talc_open_shm);
  LOAD(lib, talc_close);
  LOAD(lib, talc_named_find);
  LOAD(lib, talc_named_find_or_allocate);
  LOAD(lib, talc_last_error_message);
  talc_heap* h = NULL;
  if (talc_open_shm_(shm, NULL, &h) != TALC_OK) {
    fprintf(stderr, "talc_open_shm: %s\n", talc_last_error_message_());
    return 1;
  }
  void* in = NULL;
  size_t size = 0;
  CHECK(talc_named_find_(h, "from-python", &in, &size) == TALC_OK);
  static const char pong[] = "pong: ";
  char* out = NULL;
  if (in != NULL && size > 0 && size < 4096) {
    CHECK(talc_named_find_or_allocate_(h, "from-c", sizeof pong - 1 + size, 0, (void**)&out) ==
          TALC_OK);
    if (out != NULL) {
      memcpy(out, pong, sizeof pong - 1);
      memcpy(out + sizeof pong - 1, in, size);
    }
  }
  talc_close_(h);
  return failures == 0 && out != NULL ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--exchange") == 0)) {
    fprintf(stderr, "usage: %s path/to/libtalc.so [--exchange SHM_NAME]\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  if (argc == 4) {
    const int rc = exchange(lib, argv[3]);
    CHECK(dlclose(lib) == 0);
    return rc;
  }
  CALL(talc_version);
  CALL(talc_create_shm);
  CALL(talc_remove_shm);
  CALL(talc_close);
  CALL(talc_allocate);
  CALL(talc_free);
  CALL(talc_offset_of);
  CALL(talc_named_find_or_allocate);
  CALL(talc_named_find);
  CALL(talc_named_destroy);
  CALL(talc_last_error_message);
  LOAD(lib, talc_version);
  LOAD(lib, talc_create_shm);
  LOAD(lib, talc_remove_shm);
  LOAD(lib, talc_close);
  LOAD(lib, talc_allocate);
  LOAD(lib, talc_free);
  LOAD(lib, talc_offset_of);
  LOAD(lib, talc_named_find_or_allocate);
  LOAD(lib, talc_named_find);
  LOAD(lib, talc_named_destroy);
  LOAD(lib, talc_last_error_message);
  /* The C++ inside stays inside: talc::describe(talc::Errc) is not exported. */
  CHECK(dlsym(lib, "_ZN4talc8describeENS_4ErrcE") == NULL);

  char version[32];
  snprintf(version, sizeof version, "%d.%d.%d", TALC_VERSION_MAJOR, TALC_VERSION_MINOR,
           TALC_VERSION_PATCH);
  CHECK(strcmp(talc_version_(), version) == 0);

  char name[64];
  snprintf(name, sizeof name, "/talc-c-dlopen-%d", (int)getpid());
  talc_heap* h = NULL;
  const talc_errc e = talc_create_shm_(name, 1 << 20, NULL, &h);
  if (e != TALC_OK) {
    fprintf(stderr, "talc_create_shm: %s\n", talc_last_error_message_());
    return 1;
  }
  void* p = NULL;
  CHECK(talc_allocate_(h, 100, 0, &p) == TALC_OK && p != NULL);
  CHECK(talc_offset_of_(h, p) != TALC_NULL_OFFSET);

  static const char greeting[] = "hello from a loaded libtalc";
  char* named = NULL;
  CHECK(talc_named_find_or_allocate_(h, "greeting", sizeof greeting, 0, (void**)&named) == TALC_OK);
  if (named != NULL) memcpy(named, greeting, sizeof greeting);
  void* found = NULL;
  size_t size = 0;
  CHECK(talc_named_find_(h, "greeting", &found, &size) == TALC_OK);
  CHECK(found == named && size == sizeof greeting && strcmp(found, greeting) == 0);
  CHECK(talc_named_destroy_(h, "greeting") == TALC_OK);
  CHECK(talc_named_find_(h, "greeting", &found, &size) == TALC_NOT_FOUND);
  CHECK(strstr(talc_last_error_message_(), "talc_named_find") != NULL);
  CHECK(talc_free_(h, p) == TALC_OK);
  talc_close_(h);
  CHECK(talc_remove_shm_(name) == TALC_OK);
  CHECK(dlclose(lib) == 0);
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("libtalc.so by dlopen: every check passed\n");
  return 0;
}
