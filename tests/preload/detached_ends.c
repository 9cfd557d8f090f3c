/* Detached threads that never call malloc: as each ends, after its key destructors, the C library
 * trims its cache of stacks and frees what it kept for threads that ended before (their thread
 * descriptors' tables), from a thread that holds no lane. Those frees must not claim one. Prints
 * how many threads ended. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_barrier_t all_started;
static int ended = 0;

static void* body(void* arg) {
  (void)arg;
  pthread_barrier_wait(&all_started);
  __atomic_add_fetch(&ended, 1, __ATOMIC_RELEASE);
  return NULL;
}

int main(void) {
  enum { kThreads = 100 };
  pthread_barrier_init(&all_started, NULL, kThreads + 1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 16 << 20); /* stacks too large for the cache to keep */
  for (int i = 0; i < kThreads; ++i) {
    pthread_t t;
    if (pthread_create(&t, &attr, body, NULL) != 0) return 1;
  }
  pthread_barrier_wait(&all_started);
  while (__atomic_load_n(&ended, __ATOMIC_ACQUIRE) != kThreads) usleep(1000);
  usleep(200000); /* a detached thread still runs its end after the count */
  printf("threads ended: %d\n", kThreads);
  return 0;
}
