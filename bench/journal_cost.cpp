// What the undo journal costs: the random-actions workload on the core heap with the journal
// and on the same heap built without it, same operation sequence, side by side. Prints
// operations per second for each and the ratio. Never fails on a time.
//
//   talc_journal_cost [--ops N] [--rounds R]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "random_actions.hpp"
#include "talc/core/talc_meta.hpp"

namespace {

template <bool Journaled>
double seconds_for(const std::vector<talc_bench::Action>& actions, std::vector<std::byte>& buf) {
  using Heap = talc::TalcMeta<talc::DefaultBinConfig, Journaled>;
  Heap* heap = *Heap::claim(buf.data(), buf.size());
  const auto t0 = std::chrono::steady_clock::now();
  talc_bench::replay(
      actions,
      [&](std::size_t size, std::size_t align) { return heap->allocate(size, align).value(); },
      [&](void* p) { heap->deallocate(p); });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t ops = 2'000'000, rounds = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--ops") ops = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--rounds") rounds = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::vector<std::byte> buf(128 << 20);
  std::printf("random actions, %zu operations, best of %zu rounds, same sequence for both\n", ops,
              rounds);
  std::printf("%10s %16s %16s %8s\n", "max size", "journal Mops/s", "no journal Mops/s", "cost");
  for (std::uint32_t max : {200u, 1000u, 3000u, 10000u, 30000u}) {
    const auto actions = talc_bench::random_actions(ops, max, max);
    double with = 1e9, without = 1e9;
    for (std::size_t r = 0; r < rounds; ++r) {  // interleaved, so drift hits both alike
      with = std::min(with, seconds_for<true>(actions, buf));
      without = std::min(without, seconds_for<false>(actions, buf));
    }
    std::printf("%10u %16.1f %16.1f %7.1f%%\n", max, ops / with / 1e6, ops / without / 1e6,
                100.0 * (with / without - 1.0));
  }
}
