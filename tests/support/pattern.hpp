// Block contents that identify their owner, for tests that must notice when the heap writes
// into a live block or hands the same bytes out twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace talc_test {

// Derived from the block's id and the word's index only, never from an address, so a block
// keeps its pattern when the heap is copied elsewhere. Bit 2 is set in every byte: no pattern
// word is a well-formed tag, which makes a pointer into a block's middle a foreign pointer by
// construction rather than by luck of the contents.
inline std::uint64_t PatternWord(std::uint64_t id, std::uint64_t index) noexcept {
  std::uint64_t x = (id + 1) * 0x9E3779B97F4A7C15u + index * 0xD1B54A32D192ED03u;
  x ^= x >> 29;
  return x | 0x0404040404040404u;
}

inline void FillPattern(void* p, std::size_t n, std::uint64_t id) noexcept {
  auto* b = static_cast<std::byte*>(p);
  const std::size_t whole = n & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) {
    const std::uint64_t w = PatternWord(id, i / 8);
    std::memcpy(b + i, &w, 8);
  }
  if (whole < n) {
    const std::uint64_t w = PatternWord(id, whole / 8);
    std::memcpy(b + whole, &w, n - whole);
  }
}

// The index of the first byte that differs from the pattern, or n when the block is intact.
inline std::size_t FirstMismatch(const void* p, std::size_t n, std::uint64_t id) noexcept {
  const auto* b = static_cast<const std::byte*>(p);
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t w = PatternWord(id, i / 8);
    const std::size_t len = n - i < 8 ? n - i : 8;
    std::uint64_t got = w;
    std::memcpy(&got, b + i, len);
    if (got != w) {
      const auto* want = reinterpret_cast<const std::byte*>(&w);
      for (std::size_t j = 0; j < len; ++j)
        if (b[i + j] != want[j]) return i + j;
    }
  }
  return n;
}

}  // namespace talc_test
