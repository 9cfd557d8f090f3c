// The Rust talc's workloads as pre-generated operation sequences, so that every allocator under
// comparison replays exactly the same requests from one seeded generator.
//
// Random actions: about 300 blocks are kept live; a request's size is uniform in
// [4, uniform in [16, max]]; its alignment is the machine word shifted left by half the
// trailing zeros of a random nonzero 16-bit number (mostly 8, sometimes 16, 32, ...). Each step
// allocates while fewer than 300 are live and frees a random block otherwise, with a one-in-four
// chance of the other choice so that the count wanders around the target. With reallocation,
// one step in three instead resizes a random live block to a new size from the same
// distribution (its alignment stays the one it was allocated with).
//
// Heap efficiency: a sequence that only fills the heap (allocations of up to `max`, resizes of
// up to ten times that, a few frees), cut where the requested bytes alone exceed the arena, so
// that every allocator has failed before it ends. The replay stops at the first failure.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace talc_bench {

enum class Op : std::uint8_t { allocate, free, reallocate };

struct Action {
  Op op;
  std::uint32_t size;   // allocate, reallocate: the bytes asked for
  std::uint32_t align;  // allocate: the alignment asked for
  std::uint32_t pick;   // free, reallocate: which live block, pick % live
};

// The generator's draws, shared by every sequence below.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : rng_(seed) {}
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng_);
  }
  std::uint32_t size(std::uint32_t max) {
    return static_cast<std::uint32_t>(uniform(4, uniform(16, max)));
  }
  std::uint32_t align() {
    return 8u << (std::countr_zero(static_cast<std::uint32_t>(uniform(1, 0xffff))) / 2);
  }
  std::uint32_t pick() { return static_cast<std::uint32_t>(rng_()); }

 private:
  std::mt19937_64 rng_;
};

inline std::vector<Action> random_actions(std::size_t n, std::uint32_t max_size, std::uint64_t seed,
                                          bool with_realloc = false) {
  Draw d(seed);
  std::vector<Action> actions;
  actions.reserve(n);
  std::size_t live = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (with_realloc && live != 0 && d.uniform(0, 2) == 0) {
      actions.push_back({Op::reallocate, d.size(max_size), 0, d.pick()});
      continue;
    }
    const bool want_more = live < 300;
    const bool allocate = live == 0 || (d.uniform(0, 3) != 0 ? want_more : !want_more);
    // The pick is drawn first, as the sequence was before reallocation was added, so that
    // figures measured on the old sequence stay comparable.
    Action a{allocate ? Op::allocate : Op::free, 0, 0, d.pick()};
    if (allocate) {
      a.size = d.size(max_size);
      a.align = d.align();
      ++live;
    } else {
      --live;
    }
    actions.push_back(a);
  }
  return actions;
}

// One round of the heap-efficiency workload: half the steps allocate (up to `max_size`), three
// in ten resize a live block (up to ten times `max_size`), two in ten free one. The live count
// grows by three per ten steps, so the heap fills; the sequence ends once the live blocks'
// requested bytes exceed `arena`, which no allocator can hold.
inline std::vector<Action> efficiency_round(std::size_t arena, std::uint32_t max_size,
                                            std::uint64_t seed) {
  Draw d(seed);
  std::vector<Action> actions;
  std::vector<std::uint32_t> sizes;  // the model's live blocks, to know when to stop
  std::uint64_t requested = 0;
  while (requested <= arena) {
    const std::uint64_t r = d.uniform(0, 9);
    if (sizes.empty() || r < 5) {
      const std::uint32_t size = d.size(max_size);
      actions.push_back({Op::allocate, size, d.align(), d.pick()});
      sizes.push_back(size);
      requested += size;
    } else if (r < 8) {
      const Action a{Op::reallocate, d.size(max_size * 10), 0, d.pick()};
      std::uint32_t& s = sizes[a.pick % sizes.size()];
      requested = requested - s + a.size;
      s = a.size;
      actions.push_back(a);
    } else {
      const Action a{Op::free, 0, 0, d.pick()};
      const std::size_t k = a.pick % sizes.size();
      requested -= sizes[k];
      sizes[k] = sizes.back();
      sizes.pop_back();
      actions.push_back(a);
    }
  }
  return actions;
}

// A live block as the replay keeps it: what the allocator gave, and what was asked for.
struct Live {
  void* p;
  std::uint32_t size;
  std::uint32_t align;
};

// Replays `actions` on an allocator given as callables: alloc(size, align) -> void* or null,
// free_block(p, size, align), and realloc_block(p, old_size, new_size, align) -> the new
// address or null (the old block then stays). Returns the successful operations. Stops at the
// first failure when `stop_on_failure`, leaving the live blocks in `live` for the caller to
// measure and free; otherwise frees them itself.
template <class Alloc, class Free, class Realloc>
std::size_t replay(const std::vector<Action>& actions, Alloc&& alloc, Free&& free_block,
                   Realloc&& realloc_block, std::vector<Live>& live, bool stop_on_failure = false) {
  live.clear();
  std::size_t done = 0;
  for (const Action& a : actions) {
    switch (a.op) {
      case Op::allocate:
        if (void* p = alloc(a.size, a.align)) {
          live.push_back({p, a.size, a.align});
          ++done;
        } else if (stop_on_failure) {
          return done;
        }
        break;
      case Op::free:
        if (!live.empty()) {
          const std::size_t k = a.pick % live.size();
          free_block(live[k].p, live[k].size, live[k].align);
          live[k] = live.back();
          live.pop_back();
          ++done;
        }
        break;
      case Op::reallocate:
        if (!live.empty()) {
          Live& b = live[a.pick % live.size()];
          if (void* p = realloc_block(b.p, b.size, a.size, b.align)) {
            b.p = p;
            b.size = a.size;
            ++done;
          } else if (stop_on_failure) {
            return done;
          }
        }
        break;
    }
  }
  if (!stop_on_failure) {
    for (const Live& b : live) free_block(b.p, b.size, b.align);
    live.clear();
  }
  return done;
}

// The allocate/free-only form, for sequences without reallocation.
template <class Alloc, class Free>
std::size_t replay(const std::vector<Action>& actions, Alloc&& alloc, Free&& free_block) {
  std::vector<Live> live;
  live.reserve(1024);
  return replay(
      actions, alloc, [&](void* p, std::size_t, std::size_t) { free_block(p); },
      [](void*, std::size_t, std::size_t, std::size_t) -> void* { return nullptr; }, live);
}

}  // namespace talc_bench
