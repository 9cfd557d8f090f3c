/* Names a block of bytes and an array in a heap file, for the tool's test (tool_test.sh), which
 * then lists them with `talc info`: the C API makes both kinds a listing tells apart.
 *
 *   names_fixture PATH    opens the heap file PATH, makes "greeting" (100 bytes, "hello") and
 *                         "grid" (a 3 x 4 array of "<f8"); exit status 0 when both were made. */
#include <stdio.h>
#include <string.h>

#include "talc/talc.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: names_fixture PATH\n");
    return 2;
  }
  talc_heap* heap = NULL;
  if (talc_open_file(argv[1], NULL, &heap) != TALC_OK) {
    fprintf(stderr, "%s\n", talc_last_error_message());
    return 1;
  }
  void* greeting = NULL;
  talc_array grid;
  const uint64_t shape[2] = {3, 4};
  int status = 0;
  if (talc_named_find_or_allocate(heap, "greeting", 100, 0, &greeting) != TALC_OK ||
      talc_named_array_make(heap, "grid", "<f8", 8, 2, shape, &grid) != TALC_OK) {
    fprintf(stderr, "%s\n", talc_last_error_message());
    status = 1;
  } else {
    memcpy(greeting, "hello", 6);
  }
  talc_close(heap);
  return status;
}
