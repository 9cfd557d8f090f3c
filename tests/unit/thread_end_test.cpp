// A thread gives back what it holds, whatever order its end runs in (lane_local.hpp): a last
// call from a pthread key destructor or a thread_local destructor, a first call made there,
// pthread_exit, detached and cancelled threads, two heaps, a heap closed under threads that hold
// its lanes, and the end of the whole process through exit and quick_exit.
//
// After each, no lane is held by a thread that ended, a fresh thread gets a lane and serves
// pairs from it without the central heap, and the heap closes, reopens and closes clean.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "support/files.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using Heap = talc::MapTalc<>;

constexpr int kThreads = 100;
constexpr std::size_t kHeap = 64 << 20;

// Key destructors are plain callbacks: they find the heap here and count what went wrong.
Heap* g_heap = nullptr;
std::atomic<int> g_refused{0};
std::atomic<int> g_freed{0};

void Free(void* p) {
  if (g_heap->deallocate(p) != Errc::ok) ++g_refused;
  ++g_freed;
}
void AllocateAndFree(void* p) {
  const auto m = g_heap->try_allocate(64);
  if (!m || g_heap->deallocate(m->ptr()) != Errc::ok) ++g_refused;
  Free(p);
}
// `p` is no block: the thread's first call to the heap is made here.
void FirstCallHere(void*) {
  const auto m = g_heap->try_allocate(64);
  if (!m)
    ++g_refused;
  else
    Free(m->ptr());
}

// A key whose destructor is `dtor`, as language runtimes keep their per-thread state.
class Key {
 public:
  explicit Key(void (*dtor)(void*)) { EXPECT_EQ(::pthread_key_create(&key_, dtor), 0); }
  ~Key() { ::pthread_key_delete(key_); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  void set(void* v) const { EXPECT_EQ(::pthread_setspecific(key_, v), 0); }

 private:
  pthread_key_t key_{};
};

void* Block() {
  const auto m = g_heap->try_allocate(64);
  if (!m) {
    ++g_refused;
    return nullptr;
  }
  return m->ptr();
}

// Runs `body` in each of n threads, started and joined as std::thread does (a return).
template <class F>
void InThreads(int n, F body) {
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) ts.emplace_back(body);
  for (std::thread& t : ts) t.join();
}

// Runs `body` in each of n raw pthreads, joined.
void InPthreads(int n, void* (*body)(void*), void* arg = nullptr) {
  std::vector<pthread_t> ts(n);
  for (pthread_t& t : ts) ASSERT_EQ(::pthread_create(&t, nullptr, body, arg), 0);
  for (pthread_t& t : ts) ASSERT_EQ(::pthread_join(t, nullptr), 0);
}

// Waits, at most 10 s, for `done`.
template <class F>
bool Eventually(F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class ThreadEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    g_refused = 0;
    g_freed = 0;
    heap_.emplace(Heap::create_file(path_, kHeap));
    g_heap = &*heap_;
    ASSERT_GT(heap_->stats().lanes, 0u);
  }
  void TearDown() override {
    g_heap = nullptr;
    heap_.reset();
  }

  std::uint64_t LanesOwned() { return heap_->stats().lanes_owned; }

  // What every ending must leave: nothing refused, no lane held (this thread never claimed
  // one), a fresh thread served from a lane of its own, and a heap that closes, reopens and
  // closes clean with nothing owned.
  void ExpectAllGivenBack() {
    EXPECT_EQ(g_refused.load(), 0);
    EXPECT_EQ(LanesOwned(), 0u) << "lanes still held by threads that ended";
    EXPECT_TRUE(heap_->check().ok());

    const std::uint64_t central = heap_->stats().allocations;
    bool served = false;
    std::thread fresh([&] {
      served = heap_->heap().thread_lane() != nullptr;
      for (int i = 0; i < 100000; ++i) {
        const auto m = heap_->try_allocate(64);
        if (!m || heap_->deallocate(m->ptr()) != Errc::ok) ++g_refused;
      }
    });
    fresh.join();
    EXPECT_TRUE(served) << "a fresh thread found no lane";
    // One page for its lane, then every pair from the page.
    EXPECT_LE(heap_->stats().allocations - central, 1u);
    EXPECT_EQ(g_refused.load(), 0);
    EXPECT_EQ(LanesOwned(), 0u);

    heap_.reset();
    g_heap = nullptr;
    Heap again = Heap::open_file(path_);
    EXPECT_EQ(again.stats().lanes_owned, 0u);
    EXPECT_TRUE(again.check().ok());
  }

  talc_test::TempDir dir_{"thread-end"};
  std::string path_ = (dir_ / "heap").string();
  std::optional<Heap> heap_;
};

TEST_F(ThreadEnd, LastFreeInAKeyDestructor) {
  const Key key(Free);
  InThreads(kThreads, [&] { key.set(Block()); });
  EXPECT_EQ(g_freed.load(), kThreads);
  ExpectAllGivenBack();
}

TEST_F(ThreadEnd, KeyDestructorThatAllocatesToo) {
  const Key key(AllocateAndFree);
  InThreads(kThreads, [&] { key.set(Block()); });
  EXPECT_EQ(g_freed.load(), kThreads);
  ExpectAllGivenBack();
}

TEST_F(ThreadEnd, FirstCallInAKeyDestructor) {
  const Key key(FirstCallHere);
  static int marker;
  InThreads(kThreads, [&] { key.set(&marker); });
  EXPECT_EQ(g_freed.load(), kThreads);
  ExpectAllGivenBack();
}

// A thread whose only call is a free claims no lane: the C library frees what it kept for other
// threads as a thread ends, after every destructor that could give a lane back.
TEST_F(ThreadEnd, AFreeNeverMakesTheFirstClaim) {
  void* block = nullptr;
  std::thread([&] { block = Block(); }).join();  // its lane given back as it ended
  ASSERT_EQ(LanesOwned(), 0u);
  std::uint64_t owned_meanwhile = 1;
  std::thread([&] {
    Free(block);  // this thread's only call
    owned_meanwhile = LanesOwned();
  }).join();
  EXPECT_EQ(owned_meanwhile, 0u);
  EXPECT_EQ(g_freed.load(), 1);
  ExpectAllGivenBack();
}

// A thread's first claim made in the last pass of key destructors: no destructor runs after it,
// so the lane stays claimed by a thread that is gone, until lanes run short: then the registry
// finds the thread gone and gives its lane back.
int g_passes_left = 0;
Key* g_repeat = nullptr;
void RepeatThenAllocate(void* v) {
  if (--g_passes_left > 0) {
    g_repeat->set(v);  // another pass
    return;
  }
  FirstCallHere(nullptr);
}

TEST_F(ThreadEnd, AClaimInTheLastKeyPassIsReclaimedWhenLanesRunShort) {
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
  // ThreadSanitizer finishes a thread in the last key pass itself; a call made after that
  // crashes its runtime, not the heap.
  GTEST_SKIP() << "no call can follow ThreadSanitizer's own end of a thread";
#endif
#endif
  Key repeat(RepeatThenAllocate);
  g_repeat = &repeat;
  static int marker;
  g_passes_left = PTHREAD_DESTRUCTOR_ITERATIONS;
  std::thread([&] { repeat.set(&marker); }).join();
  ASSERT_EQ(g_freed.load(), 1);
  ASSERT_EQ(LanesOwned(), 1u) << "the claim of the last pass outlives its thread";

  // Every other lane taken by a live thread; one more thread still gets a lane.
  const std::uint64_t lanes = heap_->stats().lanes;
  std::atomic<std::uint64_t> served{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> ts;
  for (std::uint64_t i = 0; i < lanes; ++i)
    ts.emplace_back([&] {
      if (heap_->heap().thread_lane() != nullptr) ++served;
      while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  EXPECT_TRUE(Eventually([&] { return served.load() == lanes; }))
      << served.load() << " of " << lanes << " live threads got a lane";
  EXPECT_EQ(LanesOwned(), lanes);
  done = true;
  for (std::thread& t : ts) t.join();
  ExpectAllGivenBack();
}

// Built before the thread's first call, so destroyed after anything the first call registers.
struct HeldUntilThreadEnds {
  void* block = nullptr;
  ~HeldUntilThreadEnds() {
    if (block != nullptr) Free(block);
  }
};
thread_local HeldUntilThreadEnds held_until_end;

TEST_F(ThreadEnd, LastFreeInAThreadLocalBuiltBeforeTheFirstCall) {
  InThreads(kThreads, [] {
    HeldUntilThreadEnds* h = &held_until_end;  // constructed here
    h->block = Block();
  });
  EXPECT_EQ(g_freed.load(), kThreads);
  ExpectAllGivenBack();
}

Key* g_key = nullptr;

[[noreturn]] void ExitFromDeepInside(int depth) {
  if (depth == 0) ::pthread_exit(nullptr);
  ExitFromDeepInside(depth - 1);
}

TEST_F(ThreadEnd, PthreadExit) {
  Key key(Free);
  g_key = &key;
  InPthreads(kThreads, [](void*) -> void* {
    g_key->set(Block());
    ExitFromDeepInside(3);
  });
  EXPECT_EQ(g_freed.load(), kThreads);
  ExpectAllGivenBack();
}

TEST_F(ThreadEnd, DetachedThreads) {
  Key key(Free);
  g_key = &key;
  for (int i = 0; i < kThreads; ++i) {
    pthread_t t;
    ASSERT_EQ(::pthread_create(
                  &t, nullptr,
                  [](void*) -> void* {
                    g_key->set(Block());
                    return nullptr;
                  },
                  nullptr),
              0);
    ASSERT_EQ(::pthread_detach(t), 0);
  }
  // A detached thread cannot be joined: its end is seen in what it gives back.
  EXPECT_TRUE(Eventually([&] { return g_freed.load() == kThreads && LanesOwned() == 0; }));
  ExpectAllGivenBack();
}

TEST_F(ThreadEnd, ThreadsCancelledAtACancellationPoint) {
  Key key(Free);
  g_key = &key;
  int never[2];
  ASSERT_EQ(::pipe(never), 0);
  std::atomic<int> waiting{0};
  // What the threads read into lies outside their frames: a cancellation unwinds them without
  // their epilogues, which would leave AddressSanitizer's marks around a local behind.
  struct Arg {
    int fd;
    std::atomic<int>* waiting;
    char byte;
  } arg{never[0], &waiting, 0};
  std::vector<pthread_t> ts(kThreads);
  for (pthread_t& t : ts)
    ASSERT_EQ(::pthread_create(
                  &t, nullptr,
                  [](void* a) -> void* {
                    auto* self = static_cast<Arg*>(a);
                    g_key->set(Block());
                    ++*self->waiting;
                    [[maybe_unused]] auto n = ::read(self->fd, &self->byte, 1);  // cancelled
                    return nullptr;
                  },
                  &arg),
              0);
  ASSERT_TRUE(Eventually([&] { return waiting.load() == kThreads; }));
  for (pthread_t& t : ts) ASSERT_EQ(::pthread_cancel(t), 0);
  for (pthread_t& t : ts) {
    void* result = nullptr;
    ASSERT_EQ(::pthread_join(t, &result), 0);
    EXPECT_EQ(result, PTHREAD_CANCELED);
  }
  ::close(never[0]);
  ::close(never[1]);
  EXPECT_EQ(g_freed.load(), kThreads);
  ExpectAllGivenBack();
}

TEST_F(ThreadEnd, TwoHeapsOpen) {
  talc_test::TempDir other_dir("thread-end-other");
  auto other = std::make_unique<Heap>(Heap::create_file((other_dir / "heap").string(), kHeap));
  static Heap* second;
  second = other.get();
  const Key key(Free);
  const Key key2([](void* p) {
    if (second->deallocate(p) != Errc::ok) ++g_refused;
  });
  InThreads(kThreads, [&] {
    key.set(Block());
    key2.set(second->allocate(64).ptr());
  });
  EXPECT_EQ(second->stats().lanes_owned, 0u);
  EXPECT_EQ(g_freed.load(), kThreads);

  // Closing one heap under live threads leaves their lanes of the other theirs: they go on
  // serving pairs there without the lock, and are given back when the threads end.
  constexpr int kLive = 8;
  std::atomic<int> stage{0};
  std::atomic<std::uint64_t> locks_after_close{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kLive; ++i)
    ts.emplace_back([&] {
      second->deallocate(second->allocate(64));
      heap_->deallocate(heap_->allocate(64));
      ++stage;
      while (stage.load() < kLive + 1) std::this_thread::yield();
      const std::uint64_t before = talc::RegionLock::taken_by_this_thread();
      for (int k = 0; k < 10000; ++k) heap_->deallocate(heap_->allocate(64));
      locks_after_close += talc::RegionLock::taken_by_this_thread() - before;
    });
  ASSERT_TRUE(Eventually([&] { return stage.load() == kLive; }));
  EXPECT_EQ(LanesOwned(), static_cast<std::uint64_t>(kLive));
  other.reset();
  ++stage;
  for (std::thread& t : ts) t.join();
  EXPECT_EQ(locks_after_close.load(), 0u) << "pairs after the other heap closed took the lock";
  ExpectAllGivenBack();
}

// Closing gives back the lanes of threads still alive, from a thread that never used the heap;
// those threads then end without touching the heap that is gone.
TEST_F(ThreadEnd, CloseWhileThreadsHoldLanes) {
  std::atomic<int> claimed{0};
  std::atomic<bool> closed{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      if (Block() != nullptr) ++claimed;
      while (!closed.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  ASSERT_TRUE(Eventually([&] { return claimed.load() == 8; }));
  EXPECT_EQ(LanesOwned(), 8u);
  std::thread([&] { heap_.reset(); }).join();
  g_heap = nullptr;
  closed = true;
  for (std::thread& t : ts) t.join();
  Heap again = Heap::open_file(path_);
  EXPECT_EQ(again.stats().lanes_owned, 0u);
  EXPECT_TRUE(again.check().ok());
}

// The whole process ends with threads that hold lanes still running: exit() gives back the
// calling thread's lane (the other threads may still be inside a call, so theirs stay, as a dead
// process's, for the next process that looks); quick_exit() runs no destructor and gives back
// nothing. Either way the survivor reclaims them and finds the heap consistent. (The survivor
// keeps the heap open meanwhile: a process that opens a region alone resets every lane.)
void ProcessEnds(Heap& survivor, const std::string& path, bool quick, std::uint64_t expect_owned) {
  const pid_t pid = talc_test::Spawn([&] {
    Heap h = Heap::open_file(path);
    g_heap = &h;
    std::atomic<int> claimed{0};
    for (int i = 0; i < 4; ++i)
      std::thread([&] {
        if (Block() != nullptr) ++claimed;
        for (;;) ::pause();
      }).detach();
    while (claimed.load() != 4) std::this_thread::yield();
    (void)Block();  // this thread's lane too
    if (quick) std::quick_exit(0);
    std::exit(0);  // as main returning while other threads run
    return 1;
  });
  ASSERT_EQ(talc_test::Wait(pid), 0);
  EXPECT_EQ(survivor.stats().lanes_owned, expect_owned);
  EXPECT_TRUE(survivor.check().ok());  // reclaims a dead process's lanes
  EXPECT_EQ(survivor.stats().lanes_owned, 0u);
}

TEST_F(ThreadEnd, ProcessExitsWithThreadsRunning) {
  ProcessEnds(*heap_, path_, false, 4);
  ExpectAllGivenBack();
}

TEST_F(ThreadEnd, ProcessQuickExitsWithThreadsRunning) {
  ProcessEnds(*heap_, path_, true, 5);
  ExpectAllGivenBack();
}

}  // namespace
