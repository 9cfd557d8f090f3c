// The core heap on a real workload, in one process.
//
// Until the shared-memory layer exists, this is the project's main job: it claims a heap in
// an ordinary buffer and runs the Rust talc's "random actions" pattern on it (keep about 300
// blocks live; allocate sizes uniform in [4, uniform in [16, max]] with word-based
// alignments; free a random block), filling every block with a pattern and verifying it
// before the free. It prints what it did, how fast, how full the heap got, and the verdict
// of the heap's own integrity check. Exit status 0 only if every check passed.
//
//   talc_core_demo [--ops N] [--max-size BYTES] [--heap MIB] [--seed S]
#include <algorithm>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "talc/talc.hpp"

namespace {

struct Options {
  std::uint64_t ops = 2'000'000;
  std::uint64_t max_size = 3000;
  std::uint64_t heap_mib = 128;
  std::uint64_t seed = 42;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    std::uint64_t* target = a == "--ops"        ? &o.ops
                            : a == "--max-size" ? &o.max_size
                            : a == "--heap"     ? &o.heap_mib
                            : a == "--seed"     ? &o.seed
                                                : nullptr;
    if (target == nullptr || i + 1 == argc) {
      std::fprintf(stderr, "usage: %s [--ops N] [--max-size BYTES] [--heap MIB] [--seed S]\n",
                   argv[0]);
      return false;
    }
    char* end = nullptr;
    *target = std::strtoull(argv[++i], &end, 10);
    if (*end != '\0' || *target == 0) {
      std::fprintf(stderr, "%s: %s needs a positive integer, got '%s'\n", argv[0], a.data(),
                   argv[i]);
      return false;
    }
  }
  return true;
}

struct Block {
  unsigned char* p;
  std::size_t size;
  unsigned char fill;
};

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, opt)) return 2;

  std::vector<std::byte> buffer(opt.heap_mib << 20);
  const auto claimed = talc::TalcMeta<>::claim(buffer.data(), buffer.size());
  if (!claimed) {
    std::fprintf(stderr, "claim failed: %s\n", talc::describe(claimed.error()));
    return 1;
  }
  talc::TalcMeta<>& heap = **claimed;

  std::mt19937_64 rng(opt.seed);
  auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  std::vector<Block> live;
  live.reserve(1024);
  std::uint64_t allocs = 0, frees = 0, failures = 0, damaged = 0, live_bytes = 0, peak_bytes = 0;

  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < opt.ops; ++i) {
    if (live.size() < 300 ? uniform(0, 3) != 0 : uniform(0, 3) == 0) {
      const std::size_t size = uniform(4, uniform(16, opt.max_size));
      const std::size_t align = 8u << (std::countr_zero(uniform(1, 0xffff)) / 2);
      const auto r = heap.allocate(size, align);
      if (!r) {
        ++failures;
        continue;
      }
      const auto fill = static_cast<unsigned char>(i);
      std::memset(*r, fill, size);
      live.push_back({static_cast<unsigned char*>(*r), size, fill});
      ++allocs;
      live_bytes += size;
      peak_bytes = std::max(peak_bytes, live_bytes);
    } else if (!live.empty()) {
      const std::size_t k = uniform(0, live.size() - 1);
      const Block b = live[k];
      if (!std::all_of(b.p, b.p + b.size, [&](unsigned char c) { return c == b.fill; })) ++damaged;
      if (heap.deallocate(b.p) != talc::Errc::ok) ++damaged;
      live[k] = live.back();
      live.pop_back();
      live_bytes -= b.size;
      ++frees;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const talc::Census mid = heap.census();
  const talc::CheckReport before_drain = heap.check();
  for (const Block& b : live) heap.deallocate(b.p);
  const talc::CheckReport after_drain = heap.check();
  const talc::Census end = heap.census();

  std::printf("talc core heap: %" PRIu64 " MiB buffer, %" PRIu64 " bytes of capacity\n",
              opt.heap_mib, heap.capacity());
  std::printf("random actions (max size %" PRIu64 " B, ~300 live blocks, seed %" PRIu64 ")\n",
              opt.max_size, opt.seed);
  std::printf("  %" PRIu64 " allocations, %" PRIu64 " frees, %" PRIu64 " refused, in %.3f s\n",
              allocs, frees, failures, secs);
  std::printf("  %.1f M operations per second (every block filled and verified)\n",
              static_cast<double>(allocs + frees) / secs / 1e6);
  std::printf("  at the end: %" PRIu64 " live blocks holding %" PRIu64 " bytes, %" PRIu64
              " free chunks, largest %" PRIu64 " bytes\n",
              mid.live_chunks, mid.live_bytes, mid.free_chunks, mid.largest_free);
  std::printf("  peak requested bytes live: %" PRIu64 " (%.2f%% of capacity)\n", peak_bytes,
              100.0 * static_cast<double>(peak_bytes) / static_cast<double>(heap.capacity()));
  std::printf("  integrity check with blocks live: %s\n", before_drain.what);
  std::printf("  integrity check after freeing all: %s, %" PRIu64 " free chunk(s) of %" PRIu64
              " bytes\n",
              after_drain.what, end.free_chunks, end.free_bytes);
  std::printf("  damaged blocks or refused frees: %" PRIu64 "\n", damaged);

  const bool ok = before_drain.ok() && after_drain.ok() && damaged == 0 && end.free_chunks == 1;
  std::printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
