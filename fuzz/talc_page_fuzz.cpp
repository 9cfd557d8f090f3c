// libFuzzer target for the heap with pages (layer 5b) through the face: each input is a program
// of calls made from a few threads, run against the model of tests/support/page_model.hpp, which
// knows what every answer must be. The first failure aborts with its reason.
//
// Input format. Bytes read past the end of the input are 0, so every input is a program.
//   [0]  the heap: 1 << (20 + b % 3) bytes (1, 2 or 4 MiB: pages of 8, 16 or 32 KiB)
//   [1]  threads: 2 + b % 3
//   Then up to 2048 calls: an opcode byte (% 10), the thread T that makes the call, operands.
//   0-2  allocate    T S A   S: a size (below); A % 8: alignment 16 (0-3), 32, 64, 128 or 256
//   3-4  free        T K     the live block K % live count (K: two bytes)
//   5    free twice  T U K   freed by T, then freed, sized, adopted, resized by thread U
//   6    stale       T K     a block freed lately
//   7    interior    T K H   a pointer into block K: H % 3 picks how (PageModel::Interior)
//   8    look/resize T X K S X even: usable_size and adopt; odd: reallocate to size S
//   9    more        T X     X % 4: trim(), the thread's end, a race of every thread, check()
//   Size S, two bytes s0 s1: s0 >> 6 == 3: (s0 & 63) << 8 | s1, up to 16 KiB (the core's);
//   otherwise s0 << 2 | s1 & 3, up to 1023 bytes (a page's).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/page_model.hpp"

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
  talc_test::PageModel model(heap, 2 + in.byte() % 3);
  std::string e;
  for (int call = 0; call < 2048 && e.empty() && !in.done(); ++call) {
    const std::uint8_t op = in.byte() % 10;
    const std::size_t t = in.byte() % model.threads();
    if (op <= 2) {
      const std::size_t n = in.size();
      const std::uint8_t a = in.byte() % 8;
      e = model.Allocate(t, n, a <= 3 ? 16 : std::size_t{32} << (a - 4));
    } else if (op <= 4) {
      e = model.Free(t, in.two());
    } else if (op == 5) {
      const std::size_t u = in.byte() % model.threads();
      e = model.FreeTwice(t, u, in.two());
    } else if (op == 6) {
      e = model.Stale(t, in.two());
    } else if (op == 7) {
      const std::uint64_t k = in.two();
      e = model.Interior(t, k, in.byte());
    } else if (op == 8) {
      const std::uint8_t x = in.byte();
      const std::uint64_t k = in.two();
      e = x % 2 == 0 ? model.Look(t, k) : model.Reallocate(t, k, in.size());
    } else {
      switch (in.byte() % 4) {
        case 0:
          e = model.Trim(t);
          break;
        case 1:
          e = model.Retire(t);
          break;
        case 2:
          e = model.Race(in.two(), 16);
          break;
        default:
          e = model.Check();
      }
    }
  }
  if (e.empty()) e = model.Check();
  if (e.empty()) e = model.Finish();
  if (!e.empty()) {
    std::fprintf(stderr, "talc_page_fuzz: %s\n", e.c_str());
    std::abort();
  }
  return 0;
}
