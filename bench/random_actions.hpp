// The Rust talc's "random actions" workload, as a pre-generated operation sequence so that
// every allocator under comparison replays exactly the same requests.
//
// About 300 blocks are kept live; a request's size is uniform in [4, uniform in [16, max]];
// its alignment is the machine word shifted left by half the trailing zeros of a random
// 16-bit number (mostly 8, sometimes 16, 32, ...). Each step allocates while fewer than 300
// are live and frees a random block otherwise, with a one-in-four chance of the other choice
// so that the count wanders around the target.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace talc_bench {

struct Action {
  bool allocate;
  std::uint32_t size;
  std::uint32_t align;
  std::uint32_t pick;  // which live block a free takes: pick % live
};

inline std::vector<Action> random_actions(std::size_t n, std::uint32_t max_size,
                                          std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  std::vector<Action> actions;
  actions.reserve(n);
  std::size_t live = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool want_more = live < 300;
    const bool allocate = live == 0 || (uniform(0, 3) != 0 ? want_more : !want_more);
    Action a{allocate, 0, 0, static_cast<std::uint32_t>(rng())};
    if (allocate) {
      a.size = static_cast<std::uint32_t>(uniform(4, uniform(16, max_size)));
      a.align = 8u << (std::countr_zero(static_cast<std::uint32_t>(uniform(1, 0xffff))) / 2);
      ++live;
    } else {
      --live;
    }
    actions.push_back(a);
  }
  return actions;
}

// Replays `actions` on an allocator given as two callables; returns the successful operations.
template <class Alloc, class Free>
std::size_t replay(const std::vector<Action>& actions, Alloc&& alloc, Free&& free_block) {
  std::vector<void*> live;
  live.reserve(1024);
  std::size_t done = 0;
  for (const Action& a : actions) {
    if (a.allocate) {
      if (void* p = alloc(a.size, a.align)) {
        live.push_back(p);
        ++done;
      }
    } else if (!live.empty()) {
      const std::size_t k = a.pick % live.size();
      free_block(live[k]);
      live[k] = live.back();
      live.pop_back();
      ++done;
    }
  }
  for (void* p : live) free_block(p);
  return done;
}

}  // namespace talc_bench
