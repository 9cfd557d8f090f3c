// Layer 6 — the header: what a region holds, and who builds it.
//
// `Header<T>` is the first thing in a region: a magic word, the format version, a fingerprint
// of everything that fixes the byte layout (bin configuration, word size, byte order, the
// sizes of the header, lock and metadata), the region size, a root offset for the user, and
// the init state machine. T (a LaneHeap) follows at kBodyOffset and runs to the region's end.
//
// The init protocol. A fresh region is all zeros: state `uninitialised`. The process that
// builds the heap claims the state word with a compare-and-swap (uninitialised ->
// initialising, with its pid and start tag in the upper bits), builds, and publishes `initialised`
// with release ordering; every other opener sees `initialising` and waits, a bounded time, for the
// release. If the builder dies half-way (its pid gone, or now another process's): an opener that
// may create takes the build over with another compare-and-swap (nothing was published, so nobody
// uses the half-built heap), and one that may only attach is told so (init_abandoned). A heap found
// inconsistent is marked `corrupted` and refused from then on.
//
// Every opener checks magic, version, fingerprint and size before touching T, and reports a
// mismatch with both sides named. An opener that only attaches writes nothing here; the face
// may then re-initialise the locks (a region of a previous boot, or one nobody else has open).
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <thread>

#include "talc/core/errors.hpp"
#include "talc/core/fingerprint.hpp"
#include "talc/core/talc_meta.hpp"
#include "talc/sync/process.hpp"
#include "talc/sync/region_lock.hpp"

namespace talc {

enum class InitState : std::uint8_t {
  uninitialised = 0,
  initialising = 1,
  initialised = 2,
  corrupted = 3,
};

/// What an opener may do with the region it maps.
enum class OpenRole : std::uint8_t {
  create,  // build a heap; refuse if one is there
  attach,  // use the heap that is there; never build one
  either,  // attach if there is one, build it otherwise
};

/// What an opener asks of a region's header (Header::open).
struct HeaderRequest {
  void* base = nullptr;  // where the region is mapped; 64-aligned
  std::size_t len = 0;   // the region's bytes at `base` now
  OpenRole role = OpenRole::either;
  ClaimOptions claim{};                  // for a builder: how the heap is made
  std::chrono::milliseconds wait{2000};  // how long to wait for another process still building
  std::size_t max_size = 0;              // for a builder: the size the region may grow to
};

/// What Header::open answers: the header and whether this open built the heap, or the error and
/// one line saying why (empty when the error says it all).
template <class H>
struct HeaderOpened {
  Errc error = Errc::ok;
  H* header = nullptr;
  bool built = false;
  std::string why;
  explicit operator bool() const noexcept { return error == Errc::ok; }
};

template <class T>
class alignas(64) Header {
 public:
  static constexpr std::uint64_t kMagic = 0x5041454843'4c4154ULL;  // "TALCHEAP", little-endian
  /// 2: statistics counters in the core heap, a longer journal, the maximum size, the
  /// named-object directory word. 3: locks of our own (sync/region_lock.hpp) and the boot record.
  /// 4: lanes (lane_heap.hpp) before the synchronised heap. 5: a holder's tag is its start
  /// time alone (process.hpp), so a process of version 4 would call every holder of 5 dead.
  static constexpr std::uint32_t kVersion = 5;
  static constexpr std::size_t kBodyOffset = 128;

  static constexpr std::uint64_t fingerprint() noexcept {
    return fingerprint_of({kVersion, sizeof(Header), kBodyOffset, T::layout_fingerprint(),
                           sizeof(void*), std::endian::native == std::endian::little ? 1u : 2u});
  }

  Header(const Header&) = delete;
  Header& operator=(const Header&) = delete;

  static constexpr std::size_t min_region_size() noexcept {
    return kBodyOffset + T::min_claim_size();
  }

  /// Opens the heap in [request.base, request.base + request.len) as the request's role
  /// allows: builds it, attaches to it, or says why not (one line naming what differed).
  static HeaderOpened<Header> open(const HeaderRequest& request) noexcept;

  T& body() noexcept {
    return *std::launder(reinterpret_cast<T*>(reinterpret_cast<std::byte*>(this) + kBodyOffset));
  }
  const T& body() const noexcept {
    return *std::launder(
        reinterpret_cast<const T*>(reinterpret_cast<const std::byte*>(this) + kBodyOffset));
  }

  InitState state() const noexcept {
    return static_cast<InitState>(state_.load(std::memory_order_acquire) & 0xff);
  }
  void mark_corrupted() noexcept {
    state_.store(static_cast<std::uint64_t>(InitState::corrupted), std::memory_order_release);
  }
  /// The size the region was built with, and the size it may grow to.
  std::uint64_t region_size() const noexcept { return region_size_; }
  std::uint64_t max_size() const noexcept { return max_size_; }

  /// One offset the user may publish for other processes to find (a queue, a directory).
  std::uint64_t root() const noexcept { return root_.load(std::memory_order_acquire); }
  void set_root(std::uint64_t off) noexcept { root_.store(off, std::memory_order_release); }
  /// Sets the root only if it is still `expected`; the way to publish exactly once.
  bool exchange_root(std::uint64_t expected, std::uint64_t off) noexcept {
    return root_.compare_exchange_strong(expected, off, std::memory_order_acq_rel);
  }

  /// The named-object directory's word (named/directory.hpp): the null offset until first use, then
  /// a creator's claim, then the directory's offset. Heaps built before this word existed hold 0
  /// here (the header's padding), which is never a block's offset, so readers take it as null.
  std::uint64_t directory() const noexcept { return directory_.load(std::memory_order_acquire); }
  bool exchange_directory(std::uint64_t expected, std::uint64_t off) noexcept {
    return directory_.compare_exchange_strong(expected, off, std::memory_order_acq_rel);
  }

  /// Which boot of the machine the region's locks belong to (boot_hash() of the process that
  /// last re-initialised them), and the claim of a process re-initialising them now (its lock
  /// word, RegionLock::self(); 0 when none). See Talc::follow_boot.
  std::uint64_t boot() const noexcept { return boot_.load(std::memory_order_acquire); }
  void set_boot(std::uint64_t b) noexcept { boot_.store(b, std::memory_order_release); }
  std::uint64_t boot_claim() const noexcept { return boot_claim_.load(std::memory_order_acquire); }
  bool exchange_boot_claim(std::uint64_t expected, std::uint64_t claim) noexcept {
    return boot_claim_.compare_exchange_strong(expected, claim, std::memory_order_acq_rel);
  }
  /// The PID and time namespaces of the builder (namespace_id(); 0 when it could not tell): the
  /// process ids and start times that name lock holders mean the same processes only there.
  std::uint64_t namespace_record() const noexcept { return namespace_; }

 private:
  /// The open protocol itself: the init state machine, building or attaching.
  static Result<Header*> open_or_build(const HeaderRequest& request, std::string* why,
                                       bool* created) noexcept;
  /// The state word names its builder as a lock word does (RegionLock::self(): pid and start
  /// tag), so that a builder's pid reused by another process is not taken for the builder:
  /// the state in bits 0-7, the pid in bits 8-31, the tag in bits 32-63.
  static constexpr std::uint64_t word(InitState s, std::uint64_t holder) noexcept {
    return static_cast<std::uint64_t>(s) | ((holder & RegionLock::kPidMask) << 8) |
           (holder & ~std::uint64_t{0xffffffff});
  }
  static constexpr std::uint64_t builder_pid(std::uint64_t s) noexcept {
    return (s >> 8) & 0xffffff;
  }
  static constexpr std::uint64_t builder(std::uint64_t s) noexcept {
    return builder_pid(s) | (s & ~std::uint64_t{0xffffffff});
  }
  template <class... A>
  static void say(std::string* why, const char* fmt, A... args) noexcept;
  Errc build(std::size_t len, ClaimOptions opts, std::uint64_t claimed,
             std::size_t max_size) noexcept;
  Errc validate(std::size_t len, std::string* why) noexcept;

  std::uint64_t magic_;
  std::uint32_t version_;
  std::uint32_t header_size_;
  std::uint64_t fingerprint_;
  std::uint64_t region_size_;
  std::uint64_t max_size_;
  std::atomic<std::uint64_t> state_;  // InitState in bits 0-7, the builder's pid above
  std::atomic<std::uint64_t> root_;
  std::atomic<std::uint64_t> directory_;
  std::atomic<std::uint64_t> boot_;
  std::atomic<std::uint64_t> boot_claim_;
  std::uint64_t namespace_;
};

// ---- implementation -------------------------------------------------------------------------

template <class T>
template <class... A>
void Header<T>::say(std::string* why, const char* fmt, A... args) noexcept {
  if (why == nullptr) return;
  try {
    if constexpr (sizeof...(A) == 0) {
      *why = fmt;
    } else {
      char line[200];
      std::snprintf(line, sizeof line, fmt, static_cast<unsigned long long>(args)...);
      *why = line;
    }
  } catch (...) {  // no memory for the message: the error code still says what happened
  }
}

template <class T>
Errc Header<T>::build(std::size_t len, ClaimOptions opts, std::uint64_t claimed,
                      std::size_t max_size) noexcept {
  if (max_size > kMaxSpan) {
    state_.store(0, std::memory_order_release);
    return Errc::region_too_large;
  }
  auto body_ok =
      T::claim(reinterpret_cast<std::byte*>(this) + kBodyOffset, len - kBodyOffset, opts);
  if (!body_ok) {
    state_.store(0, std::memory_order_release);  // back to fresh: nothing was published
    return body_ok.error();
  }
  magic_ = kMagic;
  version_ = kVersion;
  header_size_ = sizeof(Header);
  fingerprint_ = fingerprint();
  region_size_ = len;
  max_size_ = max_size > len ? max_size : len;
  root_.store(~std::uint64_t{0}, std::memory_order_relaxed);
  directory_.store(~std::uint64_t{0}, std::memory_order_relaxed);
  boot_.store(boot_hash(), std::memory_order_relaxed);
  boot_claim_.store(0, std::memory_order_relaxed);
  namespace_ = namespace_id();
  std::uint64_t expected = claimed;
  /// Publishes everything above; fails only if another opener declared us dead meanwhile.
  if (!state_.compare_exchange_strong(expected, word(InitState::initialised, 0),
                                      std::memory_order_release))
    return Errc::init_abandoned;
  return Errc::ok;
}

template <class T>
Errc Header<T>::validate(std::size_t len, std::string* why) noexcept {
  if (magic_ != kMagic) {
    say(why, "not a talc heap (magic %#llx)", magic_);
    return Errc::not_a_heap;
  }
  if (version_ != kVersion) {
    say(why, "talc heap format version %llu; this build reads version %llu", version_, kVersion);
    return Errc::version_mismatch;
  }
  if (fingerprint_ != fingerprint()) {
    say(why, "talc heap of configuration %#llx; this build's configuration is %#llx", fingerprint_,
        fingerprint());
    return Errc::config_mismatch;
  }
  if (region_size_ < min_region_size()) {
    say(why, "the heap's header says %llu bytes, fewer than any heap needs (%llu)", region_size_,
        min_region_size());
    return Errc::corrupted;
  }
  if (max_size_ < region_size_ || max_size_ > kMaxSpan) {
    say(why, "the heap's maximum size %llu is out of range", max_size_);
    return Errc::corrupted;
  }
  if (region_size_ > len) {
    say(why, "the heap's header says %llu bytes; only %llu are there", region_size_, len);
    return Errc::region_truncated;
  }
  /// A heap that grew spans more than it was built with: what must be there is what it spans now,
  /// never more than its maximum.
  const std::size_t present = len < max_size_ ? len : max_size_;
  if (const Errc e =
          T::attach(reinterpret_cast<std::byte*>(this) + kBodyOffset, present - kBodyOffset)
              .error();
      e != Errc::ok) {
    if (e == Errc::region_too_small) {
      say(why, "the heap has grown past the %llu bytes that are there", present);
      return Errc::region_truncated;
    }
    say(why, "the heap's metadata is out of range");
    return Errc::corrupted;
  }
  if (body().corrupted()) {
    say(why, "the heap was found inconsistent after a process died holding its lock");
    return Errc::corrupted;
  }
  return Errc::ok;
}

template <class T>
HeaderOpened<Header<T>> Header<T>::open(const HeaderRequest& request) noexcept {
  HeaderOpened<Header> out;
  const Result<Header*> h = open_or_build(request, &out.why, &out.built);
  if (h) {
    out.header = *h;
  } else {
    out.error = h.error();
  }
  return out;
}

template <class T>
Result<Header<T>*> Header<T>::open_or_build(const HeaderRequest& request, std::string* why,
                                            bool* created) noexcept {
  void* const base = request.base;
  const std::size_t len = request.len, max_size = request.max_size;
  const OpenRole role = request.role;
  const ClaimOptions& opts = request.claim;
  if (base == nullptr) return Errc::null_region;
  if (reinterpret_cast<std::uintptr_t>(base) % alignof(Header) != 0) return Errc::corrupted;
  if (created != nullptr) *created = false;
  if (len < sizeof(Header)) {
    say(why, "a region of %llu bytes cannot hold a heap (at least %llu)", len, min_region_size());
    return role == OpenRole::attach ? Errc::region_truncated : Errc::region_too_small;
  }
  auto* h = std::launder(reinterpret_cast<Header*>(base));
  const std::uint64_t me = RegionLock::self();
  if (!RegionLock::has_identity(me)) {
    say(why,
        "this process cannot read /proc/self/stat: no other process could tell it from a "
        "later one with its pid");
    return Errc::identity_unknown;
  }
  const auto deadline = std::chrono::steady_clock::now() + request.wait;
  for (;;) {
    std::uint64_t s = h->state_.load(std::memory_order_acquire);
    const auto state = static_cast<InitState>(s & 0xff);
    const bool fresh = s == 0 && h->magic_ == 0;
    if (fresh && role != OpenRole::attach) {
      if (len < min_region_size()) {
        say(why, "a region of %llu bytes cannot hold a heap (at least %llu)", len,
            min_region_size());
        return Errc::region_too_small;
      }
      const std::uint64_t mine = word(InitState::initialising, me);
      if (!h->state_.compare_exchange_strong(s, mine, std::memory_order_acquire)) continue;
      const Errc e = h->build(len, opts, mine, max_size);
      if (e != Errc::ok) return e;
      if (created != nullptr) *created = true;
      return h;
    }
    if (state == InitState::initialising && h->magic_ != 0 && h->magic_ != kMagic) {
      say(why, "not a talc heap (magic %#llx)", h->magic_);
      return Errc::not_a_heap;
    }
    if (state == InitState::initialising && RegionLock::holder_dead(builder(s))) {
      if (role == OpenRole::attach) {
        say(why, "process %llu died while building this heap", builder_pid(s));
        return Errc::init_abandoned;
      }
      // Take the build over: the dead builder published nothing.
      const std::uint64_t mine = word(InitState::initialising, me);
      if (!h->state_.compare_exchange_strong(s, mine, std::memory_order_acquire)) continue;
      h->magic_ = 0;
      const Errc e = h->build(len, opts, mine, max_size);
      if (e != Errc::ok) return e;
      if (created != nullptr) *created = true;
      return h;
    }
    if (fresh || state == InitState::initialising) {
      if (std::chrono::steady_clock::now() >= deadline) {
        say(why,
            fresh ? "no heap was built in this region" : "process %llu is still building this heap",
            builder_pid(s));
        return fresh ? Errc::not_initialised : Errc::init_timeout;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (state == InitState::corrupted && h->magic_ == kMagic) {
      say(why, "the heap was marked corrupted");
      return Errc::corrupted;
    }
    if (state != InitState::initialised) {
      say(why, "not a talc heap (state word %#llx, magic %#llx)", s, h->magic_);
      return Errc::not_a_heap;
    }
    if (role == OpenRole::create) {
      say(why, "the region already holds a heap");
      return Errc::already_initialised;
    }
    const Errc e = h->validate(len, why);
    if (e != Errc::ok) return e;
    return h;
  }
}

}  // namespace talc
