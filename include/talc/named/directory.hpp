// named/ — objects found by name in a shared heap, above the face.
//
// `NamedDirectory` is how processes that share a heap find each other's objects: one calls
// `find_or_construct<Queue>("jobs", args...)` and whichever process gets there first builds the
// Queue in the heap; every other gets the same object, at its own address. `find`, `destroy`
// and `list` complete it. Talc's members of the same names delegate here.
//
// Where it lives. The directory is a chain of heap blocks (segments) of fixed-size entries,
// rooted in a word of the region's header (Header::directory). It is made on first use, not
// when the heap is built, so heaps that never name anything pay nothing and keep their exact
// census.
//
// Why it survives a process killed at any instant:
//  - Every block the directory owns is named by exactly one word at every instant. Object
//    blocks and extra segments are allocated with Talc::try_allocate_into straight into their
//    entry's (or the previous segment's) word, and freed with deallocate_from, which nulls it:
//    the heap's journal makes each of these one atomic step.
//  - The first segment cannot be allocated "into" anything: the header word is outside the
//    heap. Its creator first claims the word with a compare-and-swap (a claim carries the
//    creator's pid and a nonce; other callers wait for it), then, in one critical section of
//    the heap's lock, allocates the block with that claim as its first word in one atomic heap
//    operation (TalcMeta::allocate_marked), builds it and publishes its offset with a second
//    compare-and-swap. A process that finds a claim whose creator is dead walks the heap, under
//    the same lock, for a block marked with that claim, frees it and clears the word: the
//    one-time cost of a creator killed at exactly that moment.
//  - Entries change only under the directory's own lock, a RegionLock in the first segment.
//    It is not the heap's lock: a constructor run under it may allocate from the heap, and the
//    heap's lock is not recursive. An entry is `constructing` from before its block is
//    allocated until its constructor has returned, and `destroying` from before its destructor
//    runs until its block is freed. When a process dies holding the lock, the next holder is
//    told (LockOutcome::owner_died) and, before anything else, frees the block of every entry
//    in either state and empties it; a segment whose initialisation was cut short is
//    initialised. Nobody else can have seen those entries: every reader takes the lock. What
//    a half-run constructor or destructor allocated itself (a container's nodes) is the
//    object's business and is not recovered.
//
// Every offset read from the directory is checked (in the region, aligned, and for objects a
// live block of the recorded size) before it becomes an address. Types are told apart by a
// key hashed from the compiler's name for the type, with its size and alignment recorded
// beside it: a find<U> on an object built as T is refused, never cast. The key is stable for
// every program built by one compiler; two compilers may spell a type differently.
//
// Costs and limits: one lock for the whole directory, held while a constructor runs (keep
// constructors short); lookups are linear in the number of entries. A constructor or
// destructor run by the directory must not call it again on the same heap
// (Errc::directory_reentered, instead of a deadlock).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "talc/core/errors.hpp"
#include "talc/face/talc.hpp"
#include "talc/region/header.hpp"
#include "talc/sync/process.hpp"
#include "talc/sync/region_lock.hpp"

namespace talc {

/// The compiler's name for T, taken from inside __PRETTY_FUNCTION__ ("... [with T = Foo; ...]"
/// from g++, "... [T = Foo]" from clang).
template <class T>
constexpr std::string_view type_name() noexcept {
  std::string_view f = __PRETTY_FUNCTION__;
  const std::size_t at = f.find("T = ");
  if (at == std::string_view::npos) return f;
  f.remove_prefix(at + 4);
  std::size_t end = f.find(';');
  if (end == std::string_view::npos) end = f.rfind(']');
  return f.substr(0, end);
}

/// FNV-1a over the type's name: the same in every process and every run of one build.
template <class T>
constexpr std::uint64_t type_key() noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : type_name<std::remove_cv_t<T>>()) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

namespace named_detail {
/// What a named block of raw bytes is recorded as (find_or_allocate_bytes): a type of its own, so
/// that a typed find on it, or a find of bytes on a typed object, is refused.
struct Bytes;
/// What a named array is recorded as (named/array.hpp): raw bytes too, but not found as Bytes.
struct Array;
}  // namespace named_detail

/// What a name holds, from its type key: raw bytes, an array (named/array.hpp), or an object
/// that find_or_construct<T> built.
enum class NamedKind { bytes, array, object };
constexpr NamedKind named_kind(std::uint64_t type) noexcept {
  if (type == type_key<named_detail::Bytes>()) return NamedKind::bytes;
  if (type == type_key<named_detail::Array>()) return NamedKind::array;
  return NamedKind::object;
}

/// One named object, as list() reports it. `offset` is from the region's base.
struct NamedInfo {
  std::string name;
  std::uint64_t type = 0;  // type_key of the type it was built as
  std::uint64_t size = 0;
  std::uint64_t align = 0;
  std::uint64_t offset = 0;

  NamedKind kind() const noexcept { return named_kind(type); }
};

/// "bytes", "array" or "object": how listings (the C API, Python, `talc info`) spell a kind.
constexpr const char* kind_name(NamedKind k) noexcept {
  switch (k) {
    case NamedKind::bytes:
      return "bytes";
    case NamedKind::array:
      return "array";
    case NamedKind::object:
      return "object";
  }
  return "object";
}

namespace named_detail {

inline constexpr std::uint64_t kNull = ~std::uint64_t{0};
inline constexpr std::uint64_t kSegmentMagic = 0x3147455345'4d414eULL;  // "NAMESEG1"
inline constexpr std::size_t kMaxName = 88;
inline constexpr std::size_t kEntries = 15;

enum class State : std::uint32_t { empty = 0, constructing = 1, live = 2, destroying = 3 };

struct Entry {
  std::uint64_t object;  // region offset of the object's block, or kNull: an allocate_into slot
  std::uint64_t type;
  std::uint64_t size;
  std::uint32_t align;
  std::uint32_t state;
  std::uint32_t name_len;
  std::uint32_t reserved;
  char name[kMaxName];
};
static_assert(sizeof(Entry) == 128);

struct Segment {
  std::uint64_t claim;  // the first segment's creation claim, which marked its block; else 0
  std::uint64_t magic;  // kSegmentMagic once initialised
  std::uint64_t next;   // region offset of the next segment, or kNull: an allocate_into slot
  std::uint64_t entries;
  std::uint64_t reserved[4];
  RegionLock lock;  // used in the first segment only
  std::byte pad[128 - 64 - sizeof(RegionLock)];
  Entry entry[kEntries];
};
static_assert(sizeof(Segment) == 128 + kEntries * sizeof(Entry));
static_assert(offsetof(Segment, entry) % kWord == 0 && offsetof(Entry, object) == 0);

inline constexpr std::size_t kSegmentBytes = sizeof(Segment);
inline constexpr std::size_t kSegmentAlign = 64;

/// A store that a process dying right after it must have made, in program order with what
/// comes before and after: the release keeps earlier stores before it, the fence keeps the
/// compiler from hoisting later ones (a destructor's, say) above it.
inline void publish(std::uint32_t& word, State s) noexcept {
  std::atomic_ref<std::uint32_t>(word).store(static_cast<std::uint32_t>(s),
                                             std::memory_order_release);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

/// The claim word: bit 63 set (no region offset has it, and it is not the null offset), a
/// 30-bit nonce so that a later claim by a process with a reused pid differs, and the pid.
constexpr std::uint64_t claim_word(std::uint32_t pid, std::uint32_t nonce) noexcept {
  return (std::uint64_t{1} << 63) | (std::uint64_t{nonce & 0x3fffffffu} << 32) | pid;
}
constexpr bool is_claim(std::uint64_t w) noexcept {
  return w != kNull && (w >> 63) != 0;
}
constexpr std::uint32_t claim_pid(std::uint64_t w) noexcept {
  return static_cast<std::uint32_t>(w);
}
inline std::uint32_t fresh_nonce() noexcept {
  static std::atomic<std::uint32_t> counter{0};
  const auto t =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return static_cast<std::uint32_t>(t ^ (t >> 32)) + counter.fetch_add(0x9e3779b9u);
}

/// The directories this thread holds the lock of (their claims identify them across mappings):
/// a nested call on one of them is refused instead of deadlocking.
inline thread_local std::uint64_t held[4] = {};

/// Where a segment at region offset `off` would be, in a region of `size` bytes: null unless it
/// lies wholly inside, aligned as segments are. Offsets come from the region: never trusted.
inline Segment* segment_in(std::byte* base, std::uint64_t size, std::uint64_t off) noexcept {
  if (off >= size || off % kSegmentAlign != 0 || size - off < kSegmentBytes) return nullptr;
  return std::launder(reinterpret_cast<Segment*>(base + off));
}

/// The live entries of the directory whose first segment is at `root`, in directory order, read
/// from a region of `size` bytes at `base`. Every offset, count and length is checked: a
/// segment out of the region or not initialised, a chain longer than the region holds (a cycle)
/// or a name longer than an entry is Errc::corrupted. It takes no lock: the directory's list()
/// calls it holding one, and `talc info` on a private copy of the region that nobody writes.
inline Result<std::vector<NamedInfo>> read_entries(std::byte* base, std::uint64_t size,
                                                   std::uint64_t root) {
  std::vector<NamedInfo> out;
  std::uint64_t off = root;
  for (std::uint64_t n = 0; n <= size / kSegmentBytes; ++n) {
    const Segment* s = segment_in(base, size, off);
    if (s == nullptr || s->magic != kSegmentMagic || s->entries != kEntries) return Errc::corrupted;
    for (const Entry& en : s->entry) {
      if (en.state != static_cast<std::uint32_t>(State::live)) continue;
      if (en.name_len > kMaxName) return Errc::corrupted;  // it would be read past its entry
      out.push_back(
          NamedInfo{std::string(en.name, en.name_len), en.type, en.size, en.align, en.object});
    }
    if (s->next == kNull) return out;
    off = s->next;
  }
  return Errc::corrupted;
}

}  // namespace named_detail

template <class Bins>
class NamedDirectory {
 public:
  static constexpr std::size_t kMaxName = named_detail::kMaxName;
  static constexpr std::size_t kEntriesPerSegment = named_detail::kEntries;
  /// How long a caller waits for another process that is creating the directory.
  static constexpr std::chrono::milliseconds kCreateWait{5000};

  explicit NamedDirectory(Talc<Bins>& heap) noexcept : t_(&heap) {}

  /// The object named `name`, of type T, built with `args` by the first caller. Exceptions of
  /// T's constructor propagate, after its block is freed and the name removed.
  template <class T, class... Args>
  Result<T*> find_or_construct(std::string_view name, Args&&... args) {
    return make<T>(name, true, std::forward<Args>(args)...);
  }
  /// The same, but an existing object of that name is refused (Errc::already_exists).
  template <class T, class... Args>
  Result<T*> construct(std::string_view name, Args&&... args) {
    return make<T>(name, false, std::forward<Args>(args)...);
  }

  template <class T>
  Result<T*> find(std::string_view name) {
    return with_entry<Result<T*>>(name, [&](const Place& at) { return object_of<T>(*at.entry); });
  }

  /// A named block of `size` raw bytes aligned to `align`, zeroed by the caller that creates it:
  /// for programs that share no C++ type (the C API, the Python package). A block of that name
  /// with another size or alignment is refused (size_mismatch), a typed object (type_mismatch).
  Result<Meta> find_or_allocate_bytes(std::string_view name, std::size_t size, std::size_t align) {
    return find_or_allocate_raw<named_detail::Bytes>(
        name, size, align, [](const Meta& m) { std::memset(m.ptr(), 0, m.size); });
  }
  /// The named block of bytes, whatever its size (Meta::size is the size it was made with).
  Result<Meta> find_bytes(std::string_view name) { return find_raw<named_detail::Bytes>(name); }

  /// A raw block recorded under the type key of `Key` (named_detail::Bytes, or Array for
  /// named/array.hpp), made by `build(Meta)` under the directory's lock: no other caller sees it
  /// before `build` returns, and a process killed inside leaves neither block nor name.
  template <class Key, class F>
  Result<Meta> find_or_allocate_raw(std::string_view name, std::size_t size, std::size_t align,
                                    F&& build) {
    if (size == 0) return Errc::size_overflow;
    if (!is_power_of_two(align)) return Errc::bad_alignment;
    if (align > kRegionAlign) return Errc::alignment_too_large;
    align = std::max<std::size_t>(align, kGranule);
    return make_block(name, true, Kind{type_key<Key>(), size, align}, std::forward<F>(build));
  }
  template <class Key>
  Result<Meta> find_raw(std::string_view name) {
    return with_entry<Result<Meta>>(name, [&](const Place& at) {
      return block_of(*at.entry, Kind{type_key<Key>(), 0, 0});
    });
  }

  /// Frees the named block of bytes, or named array, and removes its name.
  Errc destroy_bytes(std::string_view name) {
    return with_entry<Errc>(name, [&](const Place& at) {
      const std::uint64_t array = type_key<named_detail::Array>();
      const Result<Meta> b = block_of(
          *at.entry, Kind{at.entry->type == array ? array : type_key<named_detail::Bytes>(), 0, 0});
      if (!b) return b.error();
      named_detail::publish(at.entry->state, named_detail::State::destroying);
      const Errc e = empty_entry(at.segment, *at.entry);
      // A refused free (the heap's lock held past the wait) leaves the block whole and named:
      // nothing was torn down, so the entry is live again rather than left for a repair.
      if (e != Errc::ok) named_detail::publish(at.entry->state, named_detail::State::live);
      return e;
    });
  }

  /// Runs ~T on the object named `name` and frees its block.
  template <class T>
  Errc destroy(std::string_view name) {
    return with_entry<Errc>(name, [&](const Place& at) {
      const Result<T*> obj = object_of<T>(*at.entry);
      if (!obj) return obj.error();
      named_detail::publish(at.entry->state, named_detail::State::destroying);
      (*obj)->~T();
      return empty_entry(at.segment, *at.entry);
    });
  }

  /// Every named object, in directory order.
  Result<std::vector<NamedInfo>> list() {
    Result<Meta> root = open_root(false);
    if (!root) {
      if (root.error() == Errc::not_found) return std::vector<NamedInfo>{};
      return root.error();
    }
    Guard g(*this, *root);
    if (g.error != Errc::ok) return g.error;
    return named_detail::read_entries(t_->base(), t_->size(), root->offset);
  }

  /// For a process that knows no other one uses the region (Talc::fresh_start): a creator's
  /// claim is stale and reclaimed, and the directory's lock, when held or damaged, is left for
  /// its next locker to repair.
  Errc fresh_start() {
    const std::uint64_t w = header().directory();
    if (named_detail::is_claim(w)) return reclaim(w);
    const Result<Meta> root = open_root(false);
    if (!root) return root.error() == Errc::not_found ? Errc::ok : root.error();
    segment_at(*root)->lock.abandon();
    return Errc::ok;
  }

  /// The word a creator stores in Header::directory while it builds the first segment. Public
  /// so that tests can stage a creator that died at that moment.
  static constexpr std::uint64_t claim_word(std::uint32_t pid, std::uint32_t nonce) noexcept {
    return named_detail::claim_word(pid, nonce);
  }

 private:
  using Segment = named_detail::Segment;
  using Entry = named_detail::Entry;
  using State = named_detail::State;

  struct Place {
    Meta segment;            // the segment holding `entry`
    Entry* entry = nullptr;  // the live entry of that name, or null
    Meta free_segment;       // where a new entry may go, when `free_entry` is not null
    Entry* free_entry = nullptr;
    Meta last;  // the last segment, to grow from
  };

  /// Runs f(place) on the live entry named `name`, under the directory's lock. Every refusal on
  /// the way (a bad name, no directory, a damaged one, no such entry) becomes f's result type R.
  template <class R, class F>
  R with_entry(std::string_view name, F&& f) {
    if (const Errc e = check_name(name); e != Errc::ok) return e;
    Result<Meta> root = open_root(false);
    if (!root) return root.error();
    Guard g(*this, *root);
    if (g.error != Errc::ok) return g.error;
    Result<Place> at = locate(*root, name);
    if (!at) return at.error();
    if (at->entry == nullptr) return Errc::not_found;
    return f(*at);
  }

  /// Holds the directory's lock for a scope; repairs first when the last holder died.
  struct Guard {
    Guard(NamedDirectory& d, const Meta& root) : seg(d.segment_at(root)) {
      const std::uint64_t id = seg->claim;
      for (std::uint64_t h : named_detail::held)
        if (h == id) {
          error = Errc::directory_reentered;
          return;
        }
      for (std::uint64_t& h : named_detail::held)
        if (h == 0) {
          slot = &h;
          break;
        }
      switch (seg->lock.lock(d.t_->lock_wait())) {
        case LockOutcome::acquired:
          break;
        case LockOutcome::damaged:
          error = Errc::lock_damaged;
          return;
        case LockOutcome::timed_out:
          error = Errc::lock_timeout;
          return;
        case LockOutcome::no_identity:
          error = Errc::identity_unknown;
          return;
        case LockOutcome::owner_died:
          if (const Errc e = d.repair(root); e != Errc::ok) {
            seg->lock.abandon();  // left for the next locker to repair again (or refuse)
            error = e;
            return;
          }
          break;
      }
      locked = true;
      if (slot != nullptr) *slot = id;
    }
    ~Guard() {
      if (!locked) return;
      if (slot != nullptr) *slot = 0;
      seg->lock.unlock();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

    Segment* seg;
    std::uint64_t* slot = nullptr;
    bool locked = false;
    Errc error = Errc::ok;
  };

  static Errc check_name(std::string_view name) noexcept {
    if (name.empty()) return Errc::empty_name;
    if (name.size() > kMaxName) return Errc::name_too_long;
    return Errc::ok;
  }

  Segment* segment_at(const Meta& m) const noexcept {
    return std::launder(reinterpret_cast<Segment*>(m.ptr()));
  }
  Header<LaneHeap<Bins>>& header() const noexcept { return t_->header(); }

  /// A segment's offset, read from the region, checked before it becomes an address.
  Result<Meta> segment_meta(std::uint64_t off) const noexcept {
    if (named_detail::segment_in(t_->base(), t_->size(), off) == nullptr) return Errc::corrupted;
    return Meta{t_->base(), off, named_detail::kSegmentBytes};
  }

  /// The first segment, created when `create` and there is none (else Errc::not_found).
  Result<Meta> open_root(bool create) {
    const auto deadline = std::chrono::steady_clock::now() + kCreateWait;
    for (;;) {
      const std::uint64_t w = header().directory();
      if (w == named_detail::kNull || w == 0) {
        if (!create) return Errc::not_found;
        const std::uint64_t claim =
            named_detail::claim_word(current_process_id(), named_detail::fresh_nonce());
        if (!header().exchange_directory(w, claim)) continue;
        const Result<Meta> made = build_root(claim);
        if (made || made.error() != Errc::init_abandoned) return made;
        continue;
      }
      if (named_detail::is_claim(w)) {
        if (process_alive(named_detail::claim_pid(w))) {
          if (std::chrono::steady_clock::now() >= deadline) return Errc::init_timeout;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        if (const Errc e = reclaim(w); e != Errc::ok) return e;
        continue;
      }
      const Result<Meta> m = segment_meta(w);
      if (!m) return m.error();
      // The published word is trusted only once it names a live block of a segment's size.
      const Result<std::size_t> usable = t_->usable_size(m->ptr());
      if (!usable) return damage_or(usable.error());
      if (*usable < named_detail::kSegmentBytes) return Errc::corrupted;
      const Segment* s = segment_at(*m);
      if (s->magic != named_detail::kSegmentMagic || s->entries != named_detail::kEntries ||
          !named_detail::is_claim(s->claim))
        return Errc::corrupted;
      return *m;
    }
  }

  /// Called holding the claim. Allocation, building and publication run in one critical
  /// section of the heap's lock, the lock reclaim() walks under: a reclaimer that wrongly
  /// believed this process dead can then neither free the block under the builder's hands nor
  /// clear the claim between the check and the allocation.
  Result<Meta> build_root(std::uint64_t claim) {
    Result<void*> r = Errc::corrupted;
    bool published = false;
    const Errc e = t_->with_lock([&](auto& m) {
      if (header().directory() != claim) {
        r = Errc::init_abandoned;
        return;
      }
      r = m.allocate_marked(named_detail::kSegmentBytes, named_detail::kSegmentAlign, claim);
      if (!r) {
        if (r.error() == Errc::corrupted) mark_corrupted();
        return;
      }
      auto* s = static_cast<Segment*>(*r);
      init_segment(*s, claim);
      s->lock.init();
      published = header().exchange_directory(claim, t_->offset_of(s));
    });
    if (e != Errc::ok || !r) {
      if (e != Errc::ok || r.error() != Errc::init_abandoned)
        header().exchange_directory(claim, named_detail::kNull);
      return e != Errc::ok ? e : r.error();
    }
    if (!published) return Errc::corrupted;  // the word changed under the heap's lock
    return Meta{t_->base(), t_->offset_of(*r), named_detail::kSegmentBytes};
  }

  /// A claim whose creator died: free the block it marked (if it got that far), clear the word.
  Errc reclaim(std::uint64_t claim) {
    Errc bad = Errc::ok;
    const Errc e = t_->with_lock([&](auto& m) {
      if (header().directory() != claim) return;  // someone reclaimed it first
      std::uint64_t found = named_detail::kNull;
      m.for_each_chunk([&](Chunk c, bool allocated) {
        if (!allocated || found != named_detail::kNull) return;
        if (c.size - kTagSize < named_detail::kSegmentBytes) return;
        std::uint64_t first;
        std::memcpy(&first, static_cast<const std::byte*>(m.address_of(c.user())), sizeof first);
        if (first == claim) found = c.user();
      });
      if (found != named_detail::kNull) {
        const Errc d = m.deallocate(m.address_of(found));
        if (d != Errc::ok) {
          bad = Errc::corrupted;
          mark_corrupted();
          return;
        }
      }
      header().exchange_directory(claim, named_detail::kNull);
    });
    return e != Errc::ok ? e : bad;
  }

  /// Only the heap's lock holder calls this.
  void mark_corrupted() noexcept {
    t_->heap().mark_corrupted();
    header().mark_corrupted();
  }

  static void init_segment(Segment& s, std::uint64_t claim) noexcept {
    s.magic = 0;
    s.next = named_detail::kNull;
    s.entries = named_detail::kEntries;
    for (std::uint64_t& r : s.reserved) r = 0;
    for (Entry& en : s.entry) {
      en.object = named_detail::kNull;
      en.type = en.size = 0;
      en.align = en.name_len = en.reserved = 0;
      en.state = static_cast<std::uint32_t>(State::empty);
    }
    std::atomic_ref<std::uint64_t>(s.claim).store(claim, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(s.magic).store(named_detail::kSegmentMagic,
                                                  std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }

  /// Calls f(segment meta, segment) for each segment until f returns true. A segment that is
  /// not initialised is damage here (repair() is the only reader that may meet one).
  template <class F>
  Errc for_each_segment(const Meta& root, F&& f, bool repairing = false) {
    Meta m = root;
    // Each segment is a distinct block: more of them than fit in the region means a cycle.
    for (std::size_t n = 0; n <= t_->size() / named_detail::kSegmentBytes; ++n) {
      Segment& s = *segment_at(m);
      if (s.magic != named_detail::kSegmentMagic || s.entries != named_detail::kEntries) {
        if (!repairing) return Errc::corrupted;
        init_segment(s, 0);
      }
      if (f(m, s)) return Errc::ok;
      if (s.next == named_detail::kNull) return Errc::ok;
      const Result<Meta> next = segment_meta(s.next);
      if (!next) return next.error();
      m = *next;
    }
    return Errc::corrupted;
  }

  static std::size_t word_of(const Segment& s, const Entry& en) noexcept {
    return static_cast<std::size_t>(reinterpret_cast<const std::byte*>(&en.object) -
                                    reinterpret_cast<const std::byte*>(&s)) /
           kWord;
  }

  /// Frees an entry's block and empties it (holding the directory's lock).
  Errc empty_entry(const Meta& seg, Entry& en) {
    Errc e = Errc::ok;
    if (en.object != named_detail::kNull) {
      e = t_->deallocate_from(seg, word_of(*segment_at(seg), en));
      if (e == Errc::null_pointer) e = Errc::ok;
    }
    if (e != Errc::ok) return e;
    en.name_len = 0;
    named_detail::publish(en.state, State::empty);
    return Errc::ok;
  }

  /// After a holder died: finish what it left half-done.
  Errc repair(const Meta& root) {
    Errc bad = Errc::ok;
    const Errc e = for_each_segment(
        root,
        [&](const Meta& m, Segment& s) {
          for (Entry& en : s.entry) {
            if (en.state == static_cast<std::uint32_t>(State::empty) ||
                en.state == static_cast<std::uint32_t>(State::live))
              continue;
            if (en.state != static_cast<std::uint32_t>(State::constructing) &&
                en.state != static_cast<std::uint32_t>(State::destroying)) {
              bad = Errc::corrupted;
              return true;
            }
            if (const Errc r = empty_entry(m, en); r != Errc::ok) {
              bad = r;
              return true;
            }
          }
          return false;
        },
        true);
    return e != Errc::ok ? e : bad;
  }

  /// The live entry named `name`, and a free entry for a new one.
  /// An entry of that name left `destroying` by a live process is a destroy whose free the heap
  /// refused (its lock held past the wait) after the destructor ran: its free is finished here,
  /// and the name is free.
  Result<Place> locate(const Meta& root, std::string_view name) {
    Place p;
    Errc finished = Errc::ok;
    const Errc e = for_each_segment(root, [&](const Meta& m, Segment& s) {
      p.last = m;
      for (Entry& en : s.entry) {
        const bool named =
            en.name_len == name.size() && std::memcmp(en.name, name.data(), name.size()) == 0;
        if (named && en.state == static_cast<std::uint32_t>(State::destroying)) {
          finished = empty_entry(m, en);
          if (finished != Errc::ok) return true;
        }
        if (en.state == static_cast<std::uint32_t>(State::empty)) {
          if (p.free_entry == nullptr) {
            p.free_entry = &en;
            p.free_segment = m;
          }
          continue;
        }
        if (named) {
          p.entry = &en;
          p.segment = m;
          return true;
        }
      }
      return false;
    });
    if (e != Errc::ok) return e;
    if (finished != Errc::ok) return finished;
    return p;
  }

  /// The heap's refusal of a block the directory names: no live block there is damage to the
  /// directory; a lock that could not be had (or a heap refused whole) says nothing of it.
  static Errc damage_or(Errc e) noexcept {
    return e == Errc::foreign_pointer || e == Errc::not_allocated || e == Errc::null_pointer
               ? Errc::corrupted
               : e;
  }

  /// What an entry must record to be taken as the block a caller asks for: its type key, and its
  /// size and alignment (0: any, for a find of bytes).
  struct Kind {
    std::uint64_t type, size, align;
  };

  /// The block an entry names, after every check: the kind, then the recorded values (they come
  /// from the region), then that the offset names a live block of the recorded size.
  Result<Meta> block_of(const Entry& en, const Kind& k) {
    if (en.state != static_cast<std::uint32_t>(State::live)) return Errc::corrupted;
    if (en.type != k.type) return Errc::type_mismatch;
    if ((k.size != 0 && en.size != k.size) || (k.align != 0 && en.align != k.align))
      return Errc::size_mismatch;
    const std::uint64_t off = en.object;
    if (en.size == 0 || !is_power_of_two(en.align) || en.align > kRegionAlign ||
        off >= t_->size() || t_->size() - off < en.size || off % en.align != 0)
      return Errc::corrupted;
    const Result<Meta> m = t_->adopt(RelMeta(Rel<std::byte>::from_offset(off), en.size));
    if (!m) return damage_or(m.error());
    return *m;
  }

  /// The object an entry names, as a T, after every check.
  template <class T>
  Result<T*> object_of(const Entry& en) {
    const Result<Meta> m = block_of(en, kind_of<T>());
    if (!m) return m.error();
    return std::launder(m->as<T>());
  }
  template <class T>
  static constexpr Kind kind_of() noexcept {
    return Kind{type_key<T>(), sizeof(T), alignof(T)};
  }

  template <class T, class... Args>
  Result<T*> make(std::string_view name, bool or_find, Args&&... args) {
    static_assert(!std::is_array_v<T>, "named arrays are not supported");
    static_assert(alignof(T) <= kRegionAlign, "an alignment every mapping of a region can keep");
    const Result<Meta> m = make_block(name, or_find, kind_of<T>(), [&](const Meta& b) {
      ::new (b.ptr()) T(std::forward<Args>(args)...);
    });
    if (!m) return m.error();
    return std::launder(m->as<T>());
  }

  /// The block named `name` of kind `k`: the existing one (refused unless `or_find`), or a new
  /// one that `build(Meta)` fills. Exceptions of `build` propagate, after the block is freed and
  /// the name removed.
  template <class F>
  Result<Meta> make_block(std::string_view name, bool or_find, const Kind& k, F&& build) {
    if (const Errc e = check_name(name); e != Errc::ok) return e;
    Result<Meta> root = open_root(true);
    if (!root) return root.error();
    Guard g(*this, *root);
    if (g.error != Errc::ok) return g.error;
    Result<Place> at = locate(*root, name);
    if (!at) return at.error();
    if (at->entry != nullptr) {
      if (!or_find) return Errc::already_exists;
      return block_of(*at->entry, k);
    }
    Meta seg = at->free_segment;
    Entry* en = at->free_entry;
    if (en == nullptr) {
      const Result<Meta> grown = grow(at->last);
      if (!grown) return grown.error();
      seg = *grown;
      en = &segment_at(seg)->entry[0];
    }
    if (en->object != named_detail::kNull) return Errc::corrupted;  // a free entry names nothing
    std::memcpy(en->name, name.data(), name.size());
    en->name_len = static_cast<std::uint32_t>(name.size());
    en->type = k.type;
    en->size = k.size;
    en->align = static_cast<std::uint32_t>(k.align);
    named_detail::publish(en->state, State::constructing);
    const std::size_t word = word_of(*segment_at(seg), *en);
    const Result<Meta> block =
        t_->try_allocate_into(seg, word, k.size, std::max<std::uint64_t>(k.align, kGranule));
    if (!block) {
      en->name_len = 0;
      named_detail::publish(en->state, State::empty);
      return block.error();
    }
    try {
      build(*block);
    } catch (...) {
      (void)empty_entry(seg, *en);
      throw;
    }
    named_detail::publish(en->state, State::live);
    return *block;
  }

  /// A new, empty segment after `last` (holding the directory's lock).
  Result<Meta> grow(const Meta& last) {
    const Result<Meta> m =
        t_->try_allocate_into(last, offsetof(Segment, next) / kWord, named_detail::kSegmentBytes,
                              named_detail::kSegmentAlign);
    if (!m) return m.error();
    init_segment(*segment_at(*m), 0);
    return *m;
  }

  Talc<Bins>* t_;
};

static_assert(sizeof(Header<LaneHeap<>>) <= 128, "the header fits before the heap's body");

}  // namespace talc
