// Layer 4 — the fingerprint of a configuration: one word that tells two layouts apart.
//
// Each layer folds the constants its bytes depend on into the one above's (TalcMeta's bins,
// TalckMeta's lock, LaneHeap's lanes, Header's format), and the header records the result:
// a process built with another configuration is refused before it reads a byte of the heap.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace talc {

// FNV-1a over 64-bit words: stable across compilers and runs, computable at compile time.
constexpr std::uint64_t fingerprint_of(std::initializer_list<std::uint64_t> words) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::uint64_t w : words)
    for (int i = 0; i < 8; ++i) {
      h ^= (w >> (8 * i)) & 0xff;
      h *= 0x100000001b3ULL;
    }
  return h;
}

}  // namespace talc
