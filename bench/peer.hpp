// The one interface every allocator under comparison is driven through, so that the workloads
// are written once and run identically on each.
//
// A peer is built on an arena size (the region allocators use it; the process-local mallocs
// ignore it) and answers allocate / deallocate / reallocate without throwing: null is a refusal,
// and a refused reallocation leaves the old block as it was. Its traits say which workloads
// make sense for it.
#pragma once

#include <concepts>
#include <cstddef>
#include <string_view>

namespace talc_bench {

struct PeerInfo {
  const char* name;  // a CSV column value: no spaces, no commas
  bool region;       // works in a bounded arena: heap efficiency applies
  bool threads;      // may be called from several threads at once
  bool shared;       // one heap serves every process forked after it was built
};

template <class P>
concept Peer = requires(P& p, void* q, std::size_t n) {
  { P::kInfo } -> std::convertible_to<PeerInfo>;
  { p.allocate(n, n) }
  noexcept->std::same_as<void*>;
  { p.deallocate(q, n, n) }
  noexcept;
  { p.reallocate(q, n, n, n) }
  noexcept->std::same_as<void*>;
};

// The peer every ratio is taken against whenever it runs: this project's heap, through its face.
inline constexpr std::string_view kReference = "talc";

// The alignment every peer gives without being asked (malloc's, on x86-64 and AArch64 Linux).
inline constexpr std::size_t kNaturalAlign = 16;

}  // namespace talc_bench
