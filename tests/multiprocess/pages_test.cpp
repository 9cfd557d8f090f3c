// Pages between real processes: a producer allocates messages in a small shared heap and sends
// their offsets through a ring in the heap to a consumer, which checks each and frees it; the
// consumer answers every few messages with a small block of its own, which the producer frees.
// Each side's small blocks therefore die in the other process, given back to pages that process
// does not own, without the lock. Neither side may ever fail an allocation: what the other gave
// back must come back to it, in a heap of 1 MiB, about three times the bytes full rings hold.
// At the end the heap checks, nothing is live but the rings, and each side has taken the lock for
// a small share of its calls, which the test bounds for the sizes pages serve.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "support/process.hpp"
#include "talc/offset_ring.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TALC_PAGES_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TALC_PAGES_TEST_SANITIZED 1
#endif
#endif
#if defined(TALC_PAGES_TEST_SANITIZED)
constexpr std::uint64_t kMessages = 200'000;  // a sanitized run is ten times slower
#else
constexpr std::uint64_t kMessages = 1'000'000;
#endif
constexpr std::size_t kHeap = 1 << 20;
constexpr std::uint64_t kReplyEvery = 4;

// What one side did, in calls of the face and acquisitions of the heap's lock made during them,
// for the sizes pages serve (small) and the others (large).
struct Tally {
  std::atomic<std::uint64_t> small_calls{0}, small_locks{0}, large_calls{0}, large_locks{0};
  std::atomic<std::uint64_t> failed{0}, damaged{0}, refused{0};
  std::atomic<std::uint64_t> first_failure{0};  // the failed allocation's size, + 1
};

struct Wire {
  talc::OffsetRing<256> messages;  // producer to consumer
  talc::OffsetRing<256> replies;   // consumer to producer
  Tally producer, consumer;
  std::atomic<std::uint32_t> abort{0};  // a side failed: the other stops waiting for it
};

// Counts one call of the face: which kind, and whether it reached a lock.
class Counter {
 public:
  explicit Counter(Tally& t) : t_(t) {}
  template <class F>
  auto operator()(bool small, F&& f) {
    const std::uint64_t before = talc::RegionLock::taken_by_this_thread();
    auto r = f();
    const std::uint64_t locks = talc::RegionLock::taken_by_this_thread() - before;
    (small ? small_calls_ : large_calls_) += 1;
    (small ? small_locks_ : large_locks_) += locks;
    return r;
  }
  ~Counter() {
    t_.small_calls += small_calls_;
    t_.small_locks += small_locks_;
    t_.large_calls += large_calls_;
    t_.large_locks += large_locks_;
  }
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

 private:
  Tally& t_;
  std::uint64_t small_calls_ = 0, small_locks_ = 0, large_calls_ = 0, large_locks_ = 0;
};

// The largest request the test heap's pages serve (its pages' size sets it).
std::size_t max_page_request = 0;
bool Small(std::size_t size) {
  return size <= max_page_request;
}

// A message's bytes: its sequence number, its size, then words that depend on both.
std::uint64_t Word(std::uint64_t seq, std::size_t i) {
  return (seq * 0x9e3779b97f4a7c15u) ^ (i * 0xbf58476d1ce4e5b9u);
}
void Fill(void* p, std::uint64_t seq, std::size_t size) {
  auto* b = static_cast<unsigned char*>(p);
  std::memcpy(b, &seq, 8);
  std::memcpy(b + 8, &size, 8);
  std::size_t i = 16;
  for (; i + 8 <= size; i += 8) {
    const std::uint64_t w = Word(seq, i);
    std::memcpy(b + i, &w, 8);
  }
  for (; i < size; ++i) b[i] = static_cast<unsigned char>(Word(seq, i));
}
bool Intact(const void* p, std::uint64_t seq, std::size_t size) {
  const auto* b = static_cast<const unsigned char*>(p);
  std::uint64_t s = 0, n = 0;
  std::memcpy(&s, b, 8);
  std::memcpy(&n, b + 8, 8);
  if (s != seq || n != size) return false;
  std::size_t i = 16;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, b + i, 8);
    if (w != Word(seq, i)) return false;
  }
  for (; i < size; ++i)
    if (b[i] != static_cast<unsigned char>(Word(seq, i))) return false;
  return true;
}

// Adopts, checks and frees a block the other side sent; false when it was not what was sent.
bool Receive(MapTalc<>& heap, Counter& count, Tally& t, talc::RelMeta r, std::uint64_t seq) {
  const bool small = Small(r.size());
  const talc::Result<talc::Meta> m = count(small, [&] { return heap.adopt(r); });
  if (!m) {
    t.refused += 1;
    return false;
  }
  if (!Intact(m->ptr(), seq, m->size)) t.damaged += 1;
  if (count(small, [&] { return heap.deallocate(*m); }) != Errc::ok) {
    t.refused += 1;
    return false;
  }
  return true;
}

// A new message or reply of `size` bytes, or false when the heap refused it.
bool Send(MapTalc<>& heap, Counter& count, Tally& t, std::size_t size, std::uint64_t seq,
          talc::Meta& out) {
  const talc::Result<talc::Meta> m = count(Small(size), [&] { return heap.try_allocate(size); });
  if (!m) {
    if (t.failed.fetch_add(1) == 0) t.first_failure = size + 1;
    const talc::HeapStats s = heap.stats();
    std::fprintf(stderr,
                 "allocation of %zu failed (%s): live %llu in %llu blocks, free %llu (largest "
                 "%llu), cached %llu, overhead %llu\n",
                 size, talc::describe(m.error()), static_cast<unsigned long long>(s.live_bytes),
                 static_cast<unsigned long long>(s.live_allocations),
                 static_cast<unsigned long long>(s.free_bytes),
                 static_cast<unsigned long long>(s.largest_free),
                 static_cast<unsigned long long>(s.cached_bytes),
                 static_cast<unsigned long long>(s.overhead_bytes));
    return false;
  }
  Fill(m->ptr(), seq, size);
  out = *m;
  return true;
}

// Yields to the other side; false once that side has failed.
bool Pause(const Wire& w) {
  std::this_thread::yield();
  return w.abort.load(std::memory_order_relaxed) == 0;
}

int Produce(MapTalc<>& heap, Wire& w) {
  Counter count(w.producer);
  std::mt19937_64 rng(1);
  std::uint64_t replies = 0;
  bool ended = false;  // the consumer's end mark came
  auto receive = [&] {
    while (const std::optional<talc::RelMeta> r = w.replies.try_pop()) {
      if (r->is_null()) return ended = true;
      if (!Receive(heap, count, w.producer, *r, replies++)) return false;
    }
    return true;
  };
  for (std::uint64_t seq = 0; seq < kMessages; ++seq) {
    // Mixed sizes: four in five for pages, the rest for the core (up to 3064 bytes more).
    const std::size_t size =
        rng() % 5 != 0 ? 16 + rng() % (max_page_request - 15) : max_page_request + 1 + rng() % 3064;
    talc::Meta m;
    if (!Send(heap, count, w.producer, size, seq, m)) return 1;
    while (!w.messages.try_push(m.rel()))
      if (!receive() || !Pause(w)) return 2;
    if (seq % 64 == 0 && !receive()) return 2;
  }
  while (!w.messages.try_push(talc::RelMeta()))
    if (!receive() || !Pause(w)) return 2;
  // Every reply, up to the consumer's end mark.
  while (!ended)
    if (!receive() || !Pause(w)) return 3;
  return replies == kMessages / kReplyEvery ? 0 : 4;
}

int Consume(MapTalc<>& heap, Wire& w) {
  Counter count(w.consumer);
  std::mt19937_64 rng(2);
  std::uint64_t replies = 0;
  for (std::uint64_t seq = 0;;) {
    const std::optional<talc::RelMeta> r = w.messages.try_pop();
    if (!r) {
      if (!Pause(w)) return 3;
      continue;
    }
    if (r->is_null()) break;
    if (!Receive(heap, count, w.consumer, *r, seq)) return 1;
    if (++seq % kReplyEvery != 0) continue;
    talc::Meta m;
    if (!Send(heap, count, w.consumer, 16 + rng() % 241, replies++, m)) return 2;
    while (!w.replies.try_push(m.rel()))
      if (!Pause(w)) return 3;
  }
  while (!w.replies.try_push(talc::RelMeta()))
    if (!Pause(w)) return 3;
  return 0;
}

// One side, in a process of its own with a mapping of its own; a failure stops the other side.
template <class Side>
int RunSide(const std::string& name, Side side) {
  auto heap = MapTalc<>::open_shm(name);
  auto& w = *static_cast<Wire*>(heap.address_of(heap.root()));
  const int rc = side(heap, w);
  if (rc != 0) w.abort.store(1);
  return rc;
}

double Share(std::uint64_t locks, std::uint64_t calls) {
  return calls == 0 ? 0.0 : static_cast<double>(locks) / static_cast<double>(calls);
}

void Report(const char* side, const Tally& t) {
  std::printf(
      "  %s: %llu calls for pages, %llu took the lock (%.4f%%); %llu other calls, %llu "
      "locks (%.1f%%)\n",
      side, static_cast<unsigned long long>(t.small_calls.load()),
      static_cast<unsigned long long>(t.small_locks.load()),
      100 * Share(t.small_locks, t.small_calls),
      static_cast<unsigned long long>(t.large_calls.load()),
      static_cast<unsigned long long>(t.large_locks.load()),
      100 * Share(t.large_locks, t.large_calls));
}

TEST(PagesBetweenProcesses, AMillionMessagesThroughASmallHeapRarelyTakeTheLock) {
  const std::string name = talc_test::UniqueShmName("pages");
  struct Remove {
    std::string name;
    ~Remove() { MapTalc<>::remove_shm(name); }
  } remove{name};
  auto heap = MapTalc<>::create_shm(name, kHeap);
  ASSERT_TRUE(heap.heap().has_lanes());
  max_page_request = heap.heap().pages().geometry().max_request();
  auto* wire = heap.construct<Wire>();
  heap.set_root(heap.offset_of(wire));

  const auto t0 = std::chrono::steady_clock::now();
  const pid_t consumer = talc_test::Spawn([&] { return RunSide(name, Consume); });
  const pid_t producer = talc_test::Spawn([&] { return RunSide(name, Produce); });
  const int produced = talc_test::Wait(producer), consumed = talc_test::Wait(consumer);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  %llu messages in a %zu KiB heap with pages: %.2f s\n",
              static_cast<unsigned long long>(kMessages), kHeap >> 10, secs);
  Report("producer", wire->producer);
  Report("consumer", wire->consumer);

  EXPECT_EQ(produced, 0);
  EXPECT_EQ(consumed, 0);
  for (const Tally* t : {&wire->producer, &wire->consumer}) {
    EXPECT_EQ(t->failed.load(), 0u)
        << "an allocation failed, of " << t->first_failure.load() - 1 << " bytes";
    EXPECT_EQ(t->damaged.load(), 0u);
    EXPECT_EQ(t->refused.load(), 0u);
    // Four messages in five, and every reply, are for pages: a side that stopped early has
    // fewer calls.
    EXPECT_GT(t->small_calls.load(), kMessages);
    EXPECT_LT(Share(t->small_locks, t->small_calls), 0.01) << "the lock, for sizes pages serve";
  }
  const talc::CheckReport rep = heap.check();
  EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset << " (" << rep.detail << ")";
  const talc::HeapStats s = heap.stats();
  EXPECT_EQ(s.live_allocations, 1u) << "the rings alone";
  EXPECT_EQ(s.live_bytes + s.free_bytes + s.cached_bytes + s.overhead_bytes, s.span_bytes);

  EXPECT_EQ(heap.destroy(wire), Errc::ok);
  EXPECT_EQ(heap.trim(), Errc::ok);  // the pages of both sides, both gone, go back
  const talc::Census c = heap.census();
  EXPECT_EQ(c.live_chunks, 0u);
  EXPECT_EQ(c.cached_chunks, 0u);
  EXPECT_EQ(c.free_chunks, 1u);
  EXPECT_TRUE(heap.check().ok());
}

}  // namespace
