// A C++ program that exchanges blocks with Python through a ring in a shared heap, for the
// Python package's tests (test_cpp_peer.py): it proves that both sides agree on the region, the
// ring's type and the meaning of an offset.
//
//   cpp_peer NAME produce RING COUNT SIZE   allocates COUNT blocks of SIZE bytes (a multiple
//                                           of 4), fills block i with the pattern, pushes them,
//                                           and closes the ring: the end of the stream
//   cpp_peer NAME consume RING COUNT        pops, adopts, verifies and frees blocks until the
//                                           end of the stream, which must come after COUNT
//
// The pattern: 32-bit word j of block i holds i * 1000003 + j (modulo 2^32). Blocks travel in
// order, so the consumer knows each one's i. Exit status 0 when every block passed.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "talc/offset_ring.hpp"
#include "talc/talc.hpp"

namespace {

using Ring = talc::NamedRing;                         // the ring heap.ring(name) opens
constexpr auto kPatience = std::chrono::seconds(20);  // for each block

std::uint32_t word(std::uint64_t i, std::uint64_t j) {
  return static_cast<std::uint32_t>(i * 1000003u + j);
}

int produce(talc::MapTalc<>& heap, Ring& ring, std::uint64_t count, std::uint64_t size) {
  for (std::uint64_t i = 0; i < count; ++i) {
    const talc::Meta m = heap.allocate(size);
    for (std::uint64_t j = 0; j < size / 4; ++j) {
      const std::uint32_t w = word(i, j);
      std::memcpy(m.as<std::byte>() + j * 4, &w, 4);
    }
    if (const talc::Errc e = ring.push(m.rel(), kPatience); e != talc::Errc::ok)
      return std::printf("push %llu: %s\n", (unsigned long long)i, talc::describe(e)), 1;
  }
  ring.close(talc::RingEnd::producer);
  std::printf("produced %llu\n", static_cast<unsigned long long>(count));
  return 0;
}

int consume(talc::MapTalc<>& heap, Ring& ring, std::uint64_t count) {
  std::uint64_t i = 0;
  for (;; ++i) {
    const talc::Result<talc::RelMeta> r = ring.pop(kPatience);
    if (r.error() == talc::Errc::ring_closed) break;
    if (!r)
      return std::printf("pop %llu: %s\n", (unsigned long long)i, talc::describe(r.error())), 1;
    const talc::Result<talc::Meta> m = heap.adopt(*r);
    if (!m)
      return std::printf("block %llu refused: %s\n", (unsigned long long)i,
                         talc::describe(m.error())),
             1;
    for (std::uint64_t j = 0; j < m->size / 4; ++j) {
      std::uint32_t w;
      std::memcpy(&w, m->as<std::byte>() + j * 4, 4);
      if (w != word(i, j))
        return std::printf("block %llu differs at word %llu\n", (unsigned long long)i,
                           (unsigned long long)j),
               1;
    }
    if (const talc::Errc e = heap.deallocate(*m); e != talc::Errc::ok)
      return std::printf("block %llu not freed: %s\n", (unsigned long long)i, talc::describe(e)), 1;
  }
  if (i != count) return std::printf("the stream ended after %llu\n", (unsigned long long)i), 1;
  std::printf("verified %llu\n", static_cast<unsigned long long>(count));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return std::puts("usage: cpp_peer NAME produce|consume RING COUNT [SIZE]"), 2;
  const std::string mode = argv[2];
  const std::uint64_t count = std::strtoull(argv[4], nullptr, 10);
  try {
    auto heap = talc::MapTalc<>::open_shm(argv[1]);
    const talc::Result<Ring*> ring = heap.find_or_construct<Ring>(argv[3]);
    if (!ring) return std::printf("no ring: %s\n", talc::describe(ring.error())), 1;
    if (mode == "produce" && argc == 6)
      return produce(heap, **ring, count, std::strtoull(argv[5], nullptr, 10));
    if (mode == "consume") return consume(heap, **ring, count);
  } catch (const std::exception& e) {
    std::printf("failed: %s\n", e.what());
    return 1;
  }
  return std::puts("usage: cpp_peer NAME produce|consume RING COUNT [SIZE]"), 2;
}
