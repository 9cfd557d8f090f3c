// A read-only look at a heap: a private copy-on-write snapshot of its region, and the facts
// and the integrity verdict drawn from it.
//
// The snapshot maps the region with MapLayout::private_copy, so nothing done here reaches the
// region: the lock is never taken (a damaged or held lock cannot make the tool hang), and the
// roll-back of an interrupted operation that `check` performs lands in this process's copy
// only. Every value read from the region is treated as hostile input.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "region_spec.hpp"
#include "talc/core/errors.hpp"
#include "talc/lanes/lane_heap.hpp"
#include "talc/named/directory.hpp"
#include "talc/region/header.hpp"
#include "talc/region/mapping.hpp"

namespace talc_tool {

using Heap = talc::LaneHeap<>;
using HeapHeader = talc::Header<Heap>;
using Bins = Heap::Core::BinConfigType;

// Offset of the core heap's metadata in the region: CheckReport offsets count from there.
inline constexpr std::uint64_t kCoreOffset = HeapHeader::kBodyOffset + Heap::kMetaOffset;

class Snapshot {
 public:
  // Maps the region (throws ToolError when it cannot) and validates its header, waiting at
  // most `wait` for a builder that is still at work.
  Snapshot(const RegionSpec& spec, std::chrono::milliseconds wait);

  // Whether the header was accepted; when not, refusal() says why.
  bool valid() const noexcept { return header_ != nullptr; }
  const std::string& refusal() const noexcept { return refusal_; }
  talc::Errc error() const noexcept { return error_; }

  HeapHeader& header() noexcept { return *header_; }
  Heap& heap() noexcept { return header_->body(); }
  const RegionSpec& spec() const noexcept { return spec_; }
  std::size_t mapped_size() const noexcept { return region_.size(); }

 private:
  RegionSpec spec_;
  talc::MappedRegion region_;
  HeapHeader* header_ = nullptr;
  talc::Errc error_ = talc::Errc::ok;
  std::string refusal_;
};

// A lock word of the region, as `info` shows it and `check` judges it.
struct LockFacts {
  std::string name;          // "heap" or "directory"
  std::uint64_t offset = 0;  // of the word, from the region's start
  std::uint64_t word = 0;
  std::string state;     // free, held by pid N (alive | dead), abandoned, damaged
  bool damaged = false;  // a value no holder writes
};

// The lock words the region holds: the heap's, and the named directory's when it has one.
std::vector<LockFacts> lock_facts(Snapshot& snap);

struct BinCount {
  std::uint64_t bin = 0;
  std::uint64_t lower_bound = 0;  // the smallest chunk size in this bin, in bytes
  std::uint64_t count = 0;
};

// A lane that is owned or has pages (lane_heap.hpp).
struct LaneFacts {
  std::uint64_t index = 0;
  std::uint64_t owner_pid = 0;  // 0: no owner
  std::string state;            // free, owned by a live process, owned by a dead one
  std::uint64_t thread = 0;
  std::uint64_t pages = 0;  // the pages on its lists
  std::uint64_t held = 0;   // the blocks handed out from them and not given back
};

struct HeapFacts {
  std::uint32_t format_version = 0;
  std::uint64_t fingerprint = 0;
  std::uint64_t linear_stages = 0;
  std::uint64_t bytes_per_linear = 0;
  std::uint64_t log_divs = 0;
  std::uint64_t bin_count = 0;
  std::uint64_t region_size = 0;   // as the header records it: the size it was built with
  std::uint64_t max_size = 0;      // the size it may grow to
  std::uint64_t current_size = 0;  // what the heap spans now
  std::uint64_t mapped_size = 0;   // as the region is now
  std::string init_state;
  std::uint64_t capacity = 0;
  talc::Census census;       // the core's walk, the pages' free blocks taken out as cached
  double fragmentation = 0;  // the walk's: 1 - largest_free / free_bytes; 0 with no free bytes
  talc::HeapStats stats;     // the heap's own counters, recoveries and rollbacks included
  std::uint64_t journal_words = 0;  // non-zero: an operation was interrupted
  bool boot_current = false;        // the locks belong to this boot of the machine
  std::vector<LockFacts> locks;
  std::uint64_t lane_count = 0;        // 0: a heap built without lanes (and pages)
  std::uint64_t lane_table_bytes = 0;  // the chunk of the lane table: overhead
  std::uint64_t page_bytes = 0;        // the largest pages' size; 0: a heap built without lanes
  std::uint64_t pages = 0;
  std::uint64_t page_table_bytes = 0;     // the chunk of the page table: overhead
  std::uint64_t page_overhead_bytes = 0;  // the pages' headers, maps and unused tails
  std::vector<LaneFacts> lanes;           // the owned ones and those with pages
  std::vector<BinCount> free_bins;        // non-empty bins only, in bin order
  std::vector<talc::NamedInfo> names;     // the named directory's live entries, in its order
  std::string names_state;  // "none", "listed", "being created" or why the list was refused
};

// Facts of a snapshot whose header is valid. The chunk walk stops at the first tag that cannot
// be right, so on a damaged heap the counts describe the part before the damage.
HeapFacts gather_facts(Snapshot& snap);

struct CheckOutcome {
  bool consistent = false;
  std::string
      stage;         // "open", "header", "lock", "rollback" or "check": where the verdict came from
  std::string what;  // the first problem, or "consistent"
  bool has_offset = false;
  std::uint64_t offset = 0;  // from the region's start
  std::uint64_t detail = 0;  // a value that disagreed, when the check names one
  std::uint64_t journal_words = 0;
  std::uint64_t rolled_back_words = 0;
};

// The full integrity check of a region, on a private copy: header validation, the lock words
// (one that no holder writes makes every call fail: `talc repair` resets it), the roll-back of
// an interrupted operation (as the next lock holder would do it), then TalcMeta::check() and
// the lanes' check (LaneHeap::check_lanes, on the copy as it is: nobody works its lanes).
// Never throws; a region that cannot be mapped is reported at stage "open".
CheckOutcome check_region(const RegionSpec& spec, std::chrono::milliseconds wait) noexcept;

const char* state_name(talc::InitState s) noexcept;

}  // namespace talc_tool
