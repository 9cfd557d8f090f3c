// A workload for several processes (or threads) on one shared heap: each worker allocates
// patterned blocks, resizes and frees some of its own, and sends others to the next worker through
// an OffsetRing in the heap; the receiver adopts, verifies and frees them. Blocks therefore die in
// another process than the one that made them, and any byte the heap hands out twice or overwrites
// shows up as a damaged pattern.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "support/pattern.hpp"
#include "talc/offset_ring.hpp"
#include "talc/talc.hpp"

namespace talc_test {

inline constexpr unsigned kMaxWorkers = 16;

struct Exchange {
  talc::OffsetRing<256> inbox[kMaxWorkers];
  std::atomic<std::uint64_t> allocated{0}, freed{0}, freed_foreign{0}, damaged{0}, refused{0};
  std::atomic<std::uint32_t> finished{0};
};

// Every block starts with who made it and its id; the rest is the id's pattern.
struct BlockHead {
  std::uint64_t id;
  std::uint64_t size;
};

inline void VerifyAndFree(talc::Talc<>& heap, Exchange& ex, const talc::Meta& m, bool foreign) {
  BlockHead h{};
  std::memcpy(&h, m.ptr(), sizeof h);
  const auto* rest = static_cast<const std::byte*>(m.ptr()) + sizeof h;
  if (h.size != m.size || FirstMismatch(rest, m.size - sizeof h, h.id) != m.size - sizeof h)
    ex.damaged.fetch_add(1);
  if (heap.deallocate(m) != talc::Errc::ok) ex.refused.fetch_add(1);
  ex.freed.fetch_add(1);
  if (foreign) ex.freed_foreign.fetch_add(1);
}

inline void DrainInbox(talc::Talc<>& heap, Exchange& ex, unsigned id) {
  while (auto r = ex.inbox[id].try_pop()) {
    const talc::Result<talc::Meta> m = heap.adopt(*r);
    if (!m) {
      ex.refused.fetch_add(1);
      continue;
    }
    VerifyAndFree(heap, ex, *m, true);
  }
}

// One worker's whole life; `n` workers share `ex`. Returns when every worker has finished
// sending and this worker's inbox is empty.
inline void RunWorker(talc::Talc<>& heap, Exchange& ex, unsigned id, unsigned n, std::uint64_t ops,
                      std::uint64_t seed) {
  std::mt19937_64 rng(seed * kMaxWorkers + id);
  std::vector<talc::Meta> mine;
  for (std::uint64_t op = 0; op < ops; ++op) {
    const unsigned action = static_cast<unsigned>(rng() % 10);
    if (action == 3 && !mine.empty()) {
      // Resized, moved or not: the bytes it keeps must come along; then it is its new size.
      talc::Meta& m = mine[rng() % mine.size()];
      const std::size_t size = sizeof(BlockHead) + rng() % 4096;
      const talc::Result<talc::Meta> r = heap.try_reallocate(m, size);
      if (!r) {
        if (r.error() != talc::Errc::out_of_memory) ex.refused.fetch_add(1);
        continue;
      }
      BlockHead h{};
      std::memcpy(&h, r->ptr(), sizeof h);
      const std::size_t kept = (m.size < size ? m.size : size) - sizeof h;
      auto* rest = static_cast<std::byte*>(r->ptr()) + sizeof h;
      if (h.size != m.size || FirstMismatch(rest, kept, h.id) != kept) ex.damaged.fetch_add(1);
      h.size = size;
      std::memcpy(r->ptr(), &h, sizeof h);
      FillPattern(rest, size - sizeof h, h.id);
      m = *r;
    } else if (action < 4 || mine.empty()) {
      const std::size_t size = sizeof(BlockHead) + rng() % 2048;
      const std::size_t align = std::size_t{1} << (rng() % 8);
      const talc::Result<talc::Meta> m = heap.try_allocate(size, align);
      if (!m) {
        DrainInbox(heap, ex, id);
        continue;
      }
      const BlockHead h{(std::uint64_t{id} << 48) | op, size};
      std::memcpy(m->ptr(), &h, sizeof h);
      FillPattern(static_cast<std::byte*>(m->ptr()) + sizeof h, size - sizeof h, h.id);
      ex.allocated.fetch_add(1);
      mine.push_back(*m);
    } else if (action < 7) {
      const std::size_t k = rng() % mine.size();
      VerifyAndFree(heap, ex, mine[k], false);
      mine[k] = mine.back();
      mine.pop_back();
    } else if (action < 9) {
      const std::size_t k = rng() % mine.size();
      if (ex.inbox[(id + 1) % n].try_push(mine[k].rel())) {
        mine[k] = mine.back();
        mine.pop_back();
      }
    } else {
      DrainInbox(heap, ex, id);
    }
  }
  for (const talc::Meta& m : mine) VerifyAndFree(heap, ex, m, false);
  ex.finished.fetch_add(1);
  while (ex.finished.load() < n) {
    DrainInbox(heap, ex, id);
    std::this_thread::yield();
  }
  DrainInbox(heap, ex, id);
}

}  // namespace talc_test
