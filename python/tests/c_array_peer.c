/* A C program that reads a named array Python wrote, for the Python package's tests
 * (test_arrays.py): it proves that talc_named_array reads the header Heap.named_ndarray stores.
 *
 *   c_array_peer NAME ARRAY   prints the array's type, shape and the sum of its elements (which
 *                             must be "<f8" doubles), then writes element i = i * 0.5 + 1 so that
 *                             Python sees what C wrote; exit status 0 on success.
 *   c_array_peer NAME ARRAY make TYPE D0 [D1 ...]
 *                             makes (or finds) the array with talc_named_array_make and prints
 *                             its shape, for Python to find it by name.
 * A refusal prints the call's message to stderr and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "talc/talc.h"

static int refused(talc_errc e) {
  fprintf(stderr, "%s (%s)\n", talc_last_error_message(), talc_errc_name(e));
  return 1;
}

static void print_shape(const talc_array* a) {
  printf("%s", a->type);
  for (uint32_t i = 0; i < a->ndim; ++i) printf(" %llu", (unsigned long long)a->shape[i]);
  printf("\n");
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: c_array_peer NAME ARRAY [make TYPE D0 ...]\n");
    return 2;
  }
  talc_heap* heap = NULL;
  talc_errc e = talc_open_shm(argv[1], NULL, &heap);
  if (e != TALC_OK) return refused(e);
  talc_array a;
  int status = 0;
  if (argc > 4 && strcmp(argv[3], "make") == 0) {
    uint64_t shape[TALC_ARRAY_MAX_DIMS];
    const uint32_t ndim = (uint32_t)(argc - 5);
    for (uint32_t i = 0; i < ndim && i < TALC_ARRAY_MAX_DIMS; ++i)
      shape[i] = strtoull(argv[5 + i], NULL, 10);
    e = talc_named_array_make(heap, argv[2], argv[4], 8, ndim, shape, &a);
    if (e != TALC_OK) {
      status = refused(e);
    } else {
      double* d = (double*)a.data;
      for (uint64_t i = 0; i < a.data_bytes / a.item_size; ++i) d[i] = (double)i;
      print_shape(&a);
    }
  } else {
    e = talc_named_array(heap, argv[2], &a);
    if (e != TALC_OK) {
      status = refused(e);
    } else if (strcmp(a.type, "<f8") != 0 || a.item_size != sizeof(double) ||
               (uintptr_t)a.data % 64 != 0) {
      fprintf(stderr, "not 64-byte aligned doubles: %s, %llu bytes\n", a.type,
              (unsigned long long)a.item_size);
      status = 1;
    } else {
      double* d = (double*)a.data;
      double sum = 0;
      const uint64_t n = a.data_bytes / a.item_size;
      for (uint64_t i = 0; i < n; ++i) sum += d[i];
      print_shape(&a);
      printf("%.1f\n", sum);
      for (uint64_t i = 0; i < n; ++i) d[i] = (double)i * 0.5 + 1;
    }
  }
  talc_close(heap);
  return status;
}
