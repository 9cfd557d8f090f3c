// libFuzzer target: the core heap driven by operation sequences taken from the input.
//
// Input format. Byte 0: heap size, 1 KiB * (1 + b % 256) on top of the minimum. Byte 1: the
// buffer's misalignment (b % 64) and, in bit 7, ClaimOptions::checked. Then a stream of
// operations, one opcode byte each, operands following:
//   0-3  allocate: 2 bytes of size (log-spread: the high nibble of the first picks a scale),
//        1 byte of alignment exponent (% 18)
//   4-5  free the live block chosen by the next byte
//   6    free a wrong pointer: kind and block from the next 2 bytes (interior of a live block,
//        a block freed just before, outside the heap, null)
//   7    an invalid request from the next byte (bad alignment, huge size, huge alignment)
//   8    rewrite a live block's pattern (chosen by the next byte)
//   9    check() now
// A shadow model of the live blocks checks alignment, bounds, non-overlap, patterns, the exact
// error of each refusal, and, at the end, that freeing everything gives back one free chunk.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "talc/talc.hpp"

namespace {

using Heap = talc::TalcMeta<>;

[[noreturn]] void fail(const char* what, std::uint64_t a = 0, std::uint64_t b = 0) {
  std::fprintf(stderr, "talc_meta_fuzz: %s (%llu, %llu)\n", what,
               static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
  std::abort();
}

struct Input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() { return n == 0 ? 0 : (--n, *p++); }
  bool empty() const { return n == 0; }
};

struct Block {
  std::size_t size;
  std::uint8_t fill;
};

class Driver {
 public:
  Driver(std::byte* buf, std::size_t len, bool checked) {
    const auto r = Heap::claim(buf, len, talc::ClaimOptions{.checked = checked});
    if (!r) fail("claim refused a buffer of the documented minimum or more", len);
    heap_ = *r;
    lo_ = reinterpret_cast<std::uintptr_t>(heap_) + heap_->heap_start();
    hi_ = reinterpret_cast<std::uintptr_t>(heap_) + heap_->heap_end();
  }

  void allocate(std::size_t size, std::size_t align, std::uint8_t fill) {
    const auto r = heap_->allocate(size, align);
    if (!r) {
      if (r.error() != talc::Errc::out_of_memory) fail("allocate refused a valid request");
      return;
    }
    const auto p = reinterpret_cast<std::uintptr_t>(*r);
    if (p % align != 0) fail("misaligned block", p, align);
    if (p < lo_ || p + size > hi_) fail("block outside the heap", p, size);
    const auto next = live_.lower_bound(p);
    if (next != live_.end() && next->first < p + size + talc::kTagSize) fail("overlap above", p);
    if (next != live_.begin()) {
      const auto prev = std::prev(next);
      if (prev->first + prev->second.size + talc::kTagSize > p) fail("overlap below", p);
    }
    std::memset(*r, fill, size);
    live_[p] = Block{size, fill};
  }

  void verify(std::uintptr_t p, const Block& b) const {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(p);
    for (std::size_t i = 0; i < b.size; ++i)
      if (bytes[i] != b.fill) fail("a live block's byte changed", p, i);
  }

  void free_nth(std::size_t k) {
    if (live_.empty()) return;
    auto it = std::next(live_.begin(), static_cast<long>(k % live_.size()));
    verify(it->first, it->second);
    if (heap_->deallocate(reinterpret_cast<void*>(it->first)) != talc::Errc::ok)
      fail("a valid free was refused", it->first);
    last_freed_ = it->first;
    live_.erase(it);
  }

  void free_wrong(std::uint8_t kind, std::uint8_t k) {
    const talc::Census before = heap_->census();
    talc::Errc e = talc::Errc::ok;
    switch (kind % 4) {
      case 0: {  // interior of a live block
        if (live_.empty()) return;
        auto it = std::next(live_.begin(), static_cast<long>(k % live_.size()));
        if (it->second.size < 32) return;
        const std::size_t off = 16 * (1 + k % (it->second.size / 16 - 1));
        e = heap_->deallocate(reinterpret_cast<void*>(it->first + off));
        // The block's own bytes may look like anything: only "refused" is certain.
        if (e == talc::Errc::ok) fail("a pointer into a block's middle was freed", it->first, off);
        break;
      }
      case 1:  // double free
        if (last_freed_ == 0 || live_.count(last_freed_) != 0) return;
        e = heap_->deallocate(reinterpret_cast<void*>(last_freed_));
        if (e != talc::Errc::not_allocated && e != talc::Errc::foreign_pointer)
          fail("a double free was not refused", last_freed_, static_cast<int>(e));
        break;
      case 2: {  // outside the heap
        e = heap_->deallocate(reinterpret_cast<void*>(hi_ + 16 * (1 + k)));
        if (e != talc::Errc::foreign_pointer) fail("a pointer outside the heap was not refused");
        break;
      }
      default:
        if (heap_->deallocate(nullptr) != talc::Errc::null_pointer) fail("null was not refused");
    }
    const talc::Census after = heap_->census();
    if (after.live_chunks != before.live_chunks || after.free_bytes != before.free_bytes)
      fail("a refused free changed the heap");
  }

  void invalid_request(std::uint8_t k) {
    struct Bad {
      std::size_t size, align;
      talc::Errc want;
    };
    static constexpr Bad kBad[] = {
        {8, 0, talc::Errc::bad_alignment},
        {8, 3, talc::Errc::bad_alignment},
        {8, 24, talc::Errc::bad_alignment},
        {8, Heap::kMaxAlign * 2, talc::Errc::alignment_too_large},
        {~std::size_t{0}, 16, talc::Errc::size_overflow},
        {Heap::kMaxRequest + 1, 16, talc::Errc::size_overflow},
    };
    const Bad& b = kBad[k % (sizeof kBad / sizeof kBad[0])];
    if (heap_->allocate(b.size, b.align).error() != b.want) fail("wrong error", b.size, b.align);
  }

  void rewrite(std::uint8_t k, std::uint8_t fill) {
    if (live_.empty()) return;
    auto it = std::next(live_.begin(), static_cast<long>(k % live_.size()));
    verify(it->first, it->second);
    std::memset(reinterpret_cast<void*>(it->first), fill, it->second.size);
    it->second.fill = fill;
  }

  void check() const {
    const talc::CheckReport rep = heap_->check();
    if (!rep.ok()) {
      std::fprintf(stderr, "check: %s at %llu (%llu)\n", rep.what,
                   static_cast<unsigned long long>(rep.offset),
                   static_cast<unsigned long long>(rep.detail));
      std::abort();
    }
    const talc::Census c = heap_->census();
    if (c.live_bytes + c.free_bytes != heap_->capacity()) fail("census does not add up");
    if (c.live_chunks != live_.size())
      fail("census and model disagree", c.live_chunks, live_.size());
  }

  void finish() {
    check();
    while (!live_.empty()) free_nth(0);
    check();
    const talc::Census c = heap_->census();
    if (c.free_chunks != 1 || c.free_bytes != heap_->capacity()) fail("not back to one chunk");
  }

 private:
  Heap* heap_ = nullptr;
  std::uintptr_t lo_ = 0, hi_ = 0, last_freed_ = 0;
  std::map<std::uintptr_t, Block> live_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::vector<std::byte> buffer(Heap::min_claim_size() + (256 << 10) + 64);
  Input in{data, size};
  const std::size_t len = Heap::min_claim_size() + (std::size_t{1} + in.byte()) * 1024;
  const std::uint8_t b1 = in.byte();
  Driver d(buffer.data() + b1 % 64, len, (b1 & 0x80) != 0);

  for (int ops = 0; ops < 4096 && !in.empty(); ++ops) {
    const std::uint8_t op = in.byte() % 10;
    if (op <= 3) {
      const std::uint8_t s0 = in.byte(), s1 = in.byte();
      const std::size_t request = (static_cast<std::size_t>(s0 & 0x0f) << 8 | s1)
                                  << ((s0 >> 4) % 6);
      d.allocate(request, std::size_t{1} << (in.byte() % 18), static_cast<std::uint8_t>(ops));
    } else if (op <= 5) {
      d.free_nth(in.byte());
    } else if (op == 6) {
      const std::uint8_t kind = in.byte();
      d.free_wrong(kind, in.byte());
    } else if (op == 7) {
      d.invalid_request(in.byte());
    } else if (op == 8) {
      const std::uint8_t k = in.byte();
      d.rewrite(k, in.byte());
    } else {
      d.check();
    }
  }
  d.finish();
  return 0;
}
