// libFuzzer target for the heap with lanes (layer 5b) through the face: each input is a program
// of calls, run against the model of tests/support/lane_model.hpp, which knows which blocks the
// lanes cache and what every answer must be. The first failure aborts with its reason.
//
// Input format. Bytes read past the end of the input are 0, so every input is a program.
//   [0]  the heap: 1 << (20 + b % 3) bytes (1, 2 or 4 MiB; the lanes' bound grows with it)
//   [1]  blocks the other thread's lane caches: b % 64
//   Then up to 2048 calls: an opcode byte (% 8) and its operands.
//   0-2  allocate    S A   S: a size (below); A % 8: alignment 16 (0-4), 32, 64 or 128
//   3-4  free        K     the live block K % live count (K: two bytes)
//   5    stale       T K   T even: a block this thread freed lately, T odd: one the other
//                          thread's lane caches; its free, usable_size and reallocation
//   6    reallocate  K S   live block K to size S
//   7    trim or check T   T even: trim(); odd: check() and the statistics
//   Size S, two bytes s0 s1: s0 >> 6 == 3: (s0 & 63) << 8 | s1, up to 16 KiB (the heap's);
//   otherwise s0 << 2 | s1 & 3, up to 1023 bytes (a lane's).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/lane_model.hpp"

namespace {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint64_t two() { return std::uint64_t{byte()} << 8 | byte(); }
  bool done() const { return at_ >= size_; }
  std::size_t size() {
    const std::uint8_t s0 = byte(), s1 = byte();
    if (s0 >> 6 == 3) return static_cast<std::size_t>((s0 & 63) << 8 | s1);
    return static_cast<std::size_t>(s0 << 2 | (s1 & 3));
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::size_t heap = std::size_t{1} << (20 + in.byte() % 3);
  talc_test::LaneModel model(heap, in.byte() % 64);
  std::string e;
  for (int call = 0; call < 2048 && e.empty() && !in.done(); ++call) {
    const std::uint8_t op = in.byte() % 8;
    if (op <= 2) {
      const std::size_t n = in.size();
      const std::uint8_t a = in.byte() % 8;
      e = model.Allocate(n, a <= 4 ? 16 : std::size_t{32} << (a - 5));
    } else if (op <= 4) {
      e = model.Free(in.two());
    } else if (op == 5) {
      const std::uint8_t t = in.byte();
      e = model.Stale(in.two(), t % 2 == 1);
    } else if (op == 6) {
      const std::uint64_t k = in.two();
      e = model.Reallocate(k, in.size());
    } else {
      e = in.byte() % 2 == 0 ? model.Trim() : model.Check();
    }
  }
  if (e.empty()) e = model.Check();
  if (e.empty()) e = model.Finish();
  if (!e.empty()) {
    std::fprintf(stderr, "talc_lane_fuzz: %s\n", e.c_str());
    std::abort();
  }
  return 0;
}
