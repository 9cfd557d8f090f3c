// The standard multi-worker workloads of the papers on shared-memory and persistent allocators
// (Ralloc, LRMalloc, Cxlalloc), on workers.hpp's threads or forked processes:
//
// - threadtest (Hoard's): each worker allocates a batch of kThreadtestBatch 64-byte blocks and
//   then frees them all, round after round.
// - larson (Larson and Krishnan's server simulation): each worker keeps kLarsonSlots live blocks
//   of 16 to 1000 bytes, and at each step frees a random one and allocates a new one in its
//   place. Every kLarsonSlots steps the arrays move on to the next worker, as the original hands
//   a thread's array to a new thread: most blocks are freed by another worker than the one that
//   allocated them. Between processes only a shared heap can do that: on the private heaps of
//   the process-local mallocs each process keeps its own array. Run with every worker keeping
//   its own (`keep`), it shows what the allocator's scaling is where blocks never change
//   workers: a handed-over block's lines (its word, the user's bytes, the allocator's record of
//   it) are the last worker's, and a 2-core machine spends on moving them what it gains.
// - producer_consumer: the IPC pattern. Workers in pairs: the producer allocates blocks of 64 to
//   1000 bytes, writes a word into each and passes it through a single-producer,
//   single-consumer ring in shared memory (talc::OffsetRing); the consumer reads the word and
//   frees the block. Every block is allocated by one worker and freed by another, the pattern in
//   which a cache that only grows on the freeing side fails. Between processes only a shared
//   heap can run it: the driver leaves the private heaps out there.
//
// An operation is one allocation or one free; throughput counts every worker's successful ones
// from the common start to the last worker's end. Each block's first word is written, as the
// originals construct an object in it. Sizes come from one seeded generator per worker (its
// index is the seed), drawn before the common start: every peer gets the same requests.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "peer.hpp"
#include "random_actions.hpp"
#include "talc/offset_ring.hpp"
#include "workers.hpp"

namespace talc_bench {

enum class Pattern { threadtest, larson, producer_consumer };

// Also the CSV file's name, in the order of the enumerators.
inline const char* pattern_name(Pattern p) noexcept {
  constexpr const char* kNames[] = {"threadtest", "larson", "producer_consumer"};
  return kNames[static_cast<int>(p)];
}

struct PatternRun {
  Pattern pattern;
  bool processes;
  std::size_t workers;  // producer_consumer: pairs of them; an odd last one idles
  std::size_t ops;      // per worker
  bool keep = false;    // larson: every worker keeps its own array (--larson-keep)
};

// A batch of 1000 blocks of 64 bytes: 64 KiB, which fits in the L2 cache, so the figure is the
// allocator's and not the memory's; and far more than a thread cache of blocks keeps of one size
// (glibc's tcache 7), so every round also goes through such an allocator's central heap, which
// is what threadtest measures as workers are added. talc's lanes serve it from pages, a few per
// worker, made in the untimed round.
inline constexpr std::size_t kThreadtestBatch = 1000;
inline constexpr std::size_t kThreadtestSize = 64;

// Larson's usual setting in those papers: 1000 blocks per worker, 16 to 1000 bytes.
inline constexpr std::size_t kLarsonSlots = 1000;
inline constexpr std::uint32_t kLarsonMin = 16;
inline constexpr std::uint32_t kLarsonMax = 1000;

// Up to 256 messages in flight per pair: enough that neither side waits on every message.
inline constexpr std::size_t kRingSlots = 256;
inline constexpr std::uint32_t kMessageMin = 64;
inline constexpr std::uint32_t kMessageMax = 1000;

inline constexpr std::size_t kPatternAlign = 8;

namespace detail {

inline void write_word(void* q, std::uint64_t v) noexcept {
  *static_cast<std::uint64_t*>(q) = v;
}

template <Peer P>
void threadtest(P& p, std::size_t ops, Worker& w) {
  std::vector<void*> batch(kThreadtestBatch);
  auto round = [&] {
    std::uint64_t done = 0;
    for (void*& q : batch) {
      q = p.allocate(kThreadtestSize, kPatternAlign);
      if (q != nullptr) write_word(q, done++);
    }
    for (void* q : batch)
      if (q != nullptr) p.deallocate(q, kThreadtestSize, kPatternAlign);
    return 2 * done;
  };
  round();  // untimed: the heap's pages touched, its caches filled
  w.start();
  std::uint64_t done = 0;
  for (std::size_t r = std::max<std::size_t>(1, ops / (2 * kThreadtestBatch)); r > 0; --r)
    done += round();
  w.finish(done);
}

struct LarsonBlock {
  void* p;  // in the shared heap, where blocks cross processes: the same address in all
  std::uint32_t size;
};
struct alignas(64) LarsonArray {
  std::atomic<std::uint64_t> turns{0};  // steps of kLarsonSlots done on it, by any worker
  LarsonBlock blocks[kLarsonSlots];
};

template <Peer P>
void larson(P& p, std::size_t ops, bool hand_over, LarsonArray* arrays, std::size_t n, Worker& w) {
  struct Step {
    std::uint32_t slot, size;
  };
  Draw d(9000 + w.index);
  std::vector<Step> steps(std::max<std::size_t>(1, ops / 2));
  for (Step& s : steps)
    s = {static_cast<std::uint32_t>(d.uniform(0, kLarsonSlots - 1)),
         static_cast<std::uint32_t>(d.uniform(kLarsonMin, kLarsonMax))};
  for (LarsonBlock& b : arrays[w.index].blocks) {
    b.size = static_cast<std::uint32_t>(d.uniform(kLarsonMin, kLarsonMax));
    b.p = p.allocate(b.size, kPatternAlign);
  }
  w.start();
  std::uint64_t done = 0;
  LarsonArray* a = nullptr;
  for (std::size_t turn = 0, k = 0; k < steps.size(); ++turn) {
    // At turn t, worker i has array i + t: the one worker i + 1 had at turn t - 1.
    a = &arrays[hand_over ? (w.index + turn) % n : w.index];
    if (hand_over) wait_until([&] { return a->turns.load(std::memory_order_acquire) == turn; });
    for (const std::size_t end = std::min(k + kLarsonSlots, steps.size()); k < end; ++k) {
      LarsonBlock& b = a->blocks[steps[k].slot];
      if (b.p != nullptr) {
        p.deallocate(b.p, b.size, kPatternAlign);
        ++done;
      }
      b.size = steps[k].size;
      b.p = p.allocate(b.size, kPatternAlign);
      if (b.p != nullptr) {
        write_word(b.p, k);
        ++done;
      }
    }
    a->turns.store(turn + 1, std::memory_order_release);
  }
  w.finish(done);
  // Every worker ends holding one array, and no two the same one.
  for (const LarsonBlock& b : a->blocks)
    if (b.p != nullptr) p.deallocate(b.p, b.size, kPatternAlign);
}

using Ring = talc::OffsetRing<kRingSlots>;

// The ring carries offsets. Here they are offsets from address 0, which name the same block in
// every worker, as the shared heap lies at the same address in all of them; a user of talc sends
// offsets from the heap's base instead (Meta::rel), valid at any address.
inline talc::RelMeta to_message(void* q, std::size_t size) noexcept {
  return talc::RelMeta(q != nullptr
                           ? talc::Rel<std::byte>::from_offset(reinterpret_cast<std::uintptr_t>(q))
                           : talc::Rel<std::byte>::null(),
                       size);
}
inline void* from_message(const talc::RelMeta& m) noexcept {
  return m.is_null() ? nullptr : reinterpret_cast<void*>(m.start().offset());
}

template <Peer P>
void produce(P& p, std::size_t ops, Ring& ring, Worker& w) {
  Draw d(11000 + w.index);
  std::vector<std::uint32_t> sizes(ops);
  for (std::uint32_t& s : sizes)
    s = static_cast<std::uint32_t>(d.uniform(kMessageMin, kMessageMax));
  w.start();
  std::uint64_t done = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    void* q = p.allocate(sizes[i], kPatternAlign);
    if (q != nullptr) {
      write_word(q, i);
      ++done;
    }
    const talc::RelMeta m = to_message(q, sizes[i]);  // a refused one goes as null
    wait_until([&] { return ring.try_push(m); });
  }
  w.finish(done);
}

template <Peer P>
void consume(P& p, std::size_t ops, Ring& ring, Worker& w) {
  w.start();
  std::uint64_t done = 0;
  bool in_order = true;
  for (std::size_t i = 0; i < ops; ++i) {
    std::optional<talc::RelMeta> m;
    wait_until([&] { return (m = ring.try_pop()).has_value(); });
    void* q = from_message(*m);
    if (q == nullptr) continue;
    in_order = in_order && *static_cast<const std::uint64_t*>(q) == i;
    p.deallocate(q, m->size(), kPatternAlign);
    ++done;
  }
  w.finish(done, in_order);
}

inline Contention not_run() noexcept {
  Contention c;
  c.ok = false;
  return c;
}

}  // namespace detail

// One run of a pattern on `p`. producer_consumer between processes needs a peer whose heap is
// shared; on another it runs nothing and reports a failed run.
template <Peer P>
Contention run_pattern(P& p, const PatternRun& r) {
  const std::size_t n = r.workers;
  switch (r.pattern) {
    case Pattern::threadtest:
      return run_workers(r.processes, n, [&](Worker& w) { detail::threadtest(p, r.ops, w); });
    case Pattern::larson: {
      SharedArray<detail::LarsonArray> arrays(n);
      const bool hand_over = !r.keep && (!r.processes || P::kInfo.shared);
      return run_workers(r.processes, n, [&](Worker& w) {
        detail::larson(p, r.ops, hand_over, arrays.data(), n, w);
      });
    }
    case Pattern::producer_consumer: {
      if (r.processes && !P::kInfo.shared) return detail::not_run();
      SharedArray<detail::Ring> rings(n / 2);
      return run_workers(r.processes, n, [&](Worker& w) {
        if (w.index / 2 >= n / 2) {
          w.start();
          w.finish(0);
        } else if (w.index % 2 == 0) {
          detail::produce(p, r.ops, rings[w.index / 2], w);
        } else {
          detail::consume(p, r.ops, rings[w.index / 2], w);
        }
      });
    }
  }
  return detail::not_run();
}

}  // namespace talc_bench
