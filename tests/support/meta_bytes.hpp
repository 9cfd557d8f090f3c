// The bytes of a core heap, for comparing two heap states.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "talc/core/talc_meta.hpp"

namespace talc_test {

// The first `len` bytes from the heap base. The journal's entries outlive their operation and
// the counters are statistics (check() proves the ones that follow from the chunks): neither is
// heap state, and both read as zeros.
template <class Heap>
std::vector<std::byte> HeapBytes(const Heap& h, std::uint64_t len) {
  const auto* m = static_cast<const std::byte*>(h.address_of(0));
  const std::uint64_t counters = Heap::counters_offset();
  const std::uint64_t length = Heap::journal_offset();
  const std::uint64_t entries = length + talc::kWord;
  const std::uint64_t after = entries + talc::Journal::kCapacity * sizeof(talc::JournalEntry);
  static_assert(Heap::counters_offset() + sizeof(talc::HeapCounters) == Heap::journal_offset());
  std::vector<std::byte> bytes(len);
  std::memcpy(bytes.data(), m, counters);
  std::memcpy(bytes.data() + length, m + length, talc::kWord);
  std::memcpy(bytes.data() + after, m + after, bytes.size() - after);
  return bytes;
}

// The metadata: fields, journal length, bitmap and bins.
template <class Heap>
std::vector<std::byte> MetaBytes(const Heap& h) {
  return HeapBytes(h, h.heap_start());
}

}  // namespace talc_test
