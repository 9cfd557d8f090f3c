/* A call whose out-parameter may be unwritten, its result ignored, must not compile with -Werror
 * (TALC_NODISCARD in talc/talc.h); with USES_RESULT defined it uses the result, and compiles. The
 * test builds it both ways. */
#include <stddef.h>

#include "talc/talc.h"

void* first_block(talc_heap* heap) {
  void* p = NULL;
#ifdef USES_RESULT
  if (talc_allocate(heap, 64, 0, &p) != TALC_OK) return NULL;
#else
  talc_allocate(heap, 64, 0, &p);
#endif
  return p;
}
