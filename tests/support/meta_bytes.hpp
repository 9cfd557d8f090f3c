// The bytes of a core heap, for comparing two heap states.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "talc/talc_meta.hpp"

namespace talc_test {

// The first `len` bytes from the heap base. The journal's entries outlive their operation and
// are not heap state: they read as zeros.
template <class Heap>
std::vector<std::byte> HeapBytes(const Heap& h, std::uint64_t len) {
  const auto* m = static_cast<const std::byte*>(h.address_of(0));
  const std::uint64_t entries = Heap::journal_offset() + talc::kWord;
  const std::uint64_t after = entries + talc::Journal::kCapacity * sizeof(talc::JournalEntry);
  std::vector<std::byte> bytes(len);
  std::memcpy(bytes.data(), m, entries);
  std::memcpy(bytes.data() + after, m + after, bytes.size() - after);
  return bytes;
}

// The metadata: fields, journal length, bitmap and bins.
template <class Heap>
std::vector<std::byte> MetaBytes(const Heap& h) {
  return HeapBytes(h, h.heap_start());
}

}  // namespace talc_test
