// Snapshots, facts and the integrity check; see inspect.hpp.
#include "inspect.hpp"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <new>
#include <utility>

#include "talc/named/directory.hpp"
#include "talc/sync/process.hpp"
#include "tool_error.hpp"

namespace talc_tool {

namespace {

talc::MappedRegion map_private(const RegionSpec& spec) {
  const talc::MapLayout layout{.private_copy = true};
  try {
    return spec.kind == RegionSpec::Kind::shm
               ? talc::MappedRegion::shm(spec.name, talc::OpenMode::open_only, layout)
               : talc::MappedRegion::file(spec.name, talc::OpenMode::open_only, layout);
  } catch (const std::exception& e) {
    throw ToolError("cannot map " + spec.display() + ": " + e.what());
  }
}

}  // namespace

Snapshot::Snapshot(const RegionSpec& spec, std::chrono::milliseconds wait)
    : spec_(spec), region_(map_private(spec)) {
  const auto h = HeapHeader::open({.base = region_.base(),
                                   .len = region_.size(),
                                   .role = talc::OpenRole::attach,
                                   .wait = wait});
  if (!h) {
    error_ = h.error;
    refusal_ = h.why.empty() ? talc::describe(h.error) : h.why;
    return;
  }
  header_ = h.header;  // the header has checked its size against the bytes mapped
}

const char* state_name(talc::InitState s) noexcept {
  switch (s) {
    case talc::InitState::uninitialised:
      return "uninitialised";
    case talc::InitState::initialising:
      return "initialising";
    case talc::InitState::initialised:
      return "initialised";
    case talc::InitState::corrupted:
      return "corrupted";
  }
  return "unknown";
}

namespace {

LockFacts describe_lock(std::string name, std::uint64_t offset, std::uint64_t word) {
  using talc::RegionLock;
  LockFacts l{std::move(name), offset, word, "free", false};
  const std::uint64_t v = word & ~RegionLock::kWaiters;
  if (!RegionLock::plausible(word)) {
    l.state = "damaged: a value no holder writes (talc repair resets it)";
    l.damaged = true;
  } else if (v == RegionLock::kAbandoned) {
    l.state = "abandoned: its next locker repairs what it protects";
  } else if (v != 0) {
    l.state = "held by pid " + std::to_string(v & RegionLock::kPidMask) +
              (RegionLock::holder_dead(v) ? " (dead: its next locker takes it over)" : " (alive)");
  }
  return l;
}

}  // namespace

namespace {

// Region offsets count from here: the header is the region's first byte.
std::byte* region_base(Snapshot& snap) noexcept {
  return reinterpret_cast<std::byte*>(&snap.header());
}

}  // namespace

std::vector<LockFacts> lock_facts(Snapshot& snap) {
  std::vector<LockFacts> out;
  out.push_back(describe_lock("heap", HeapHeader::kBodyOffset + Heap::kSyncOffset,
                              snap.heap().lock().word()));
  // The directory's first segment, when its offset leaves room for it in what is mapped.
  const std::uint64_t dir = snap.header().directory();
  constexpr std::uint64_t kLockAt = offsetof(talc::named_detail::Segment, lock);
  const auto* seg = talc::named_detail::segment_in(region_base(snap), snap.mapped_size(), dir);
  if (seg != nullptr && seg->magic == talc::named_detail::kSegmentMagic)
    out.push_back(describe_lock("directory", dir + kLockAt, seg->lock.word()));
  return out;
}

namespace {

// The named directory's entries, read from the snapshot's bytes with every offset checked.
void gather_names(Snapshot& snap, std::uint64_t span, HeapFacts& f) {
  const std::uint64_t dir = snap.header().directory();
  if (dir == talc::named_detail::kNull || dir == 0) {
    f.names_state = "none";
    return;
  }
  if (talc::named_detail::is_claim(dir)) {
    f.names_state = "being created";
    return;
  }
  const auto r = talc::named_detail::read_entries(region_base(snap), span, dir);
  if (!r) {
    f.names_state = std::string("refused: ") + talc::describe(r.error());
    return;
  }
  f.names = *r;
  f.names_state = "listed";
}

}  // namespace

HeapFacts gather_facts(Snapshot& snap) {
  HeapFacts f;
  f.format_version = HeapHeader::kVersion;  // validated: the header holds exactly these
  f.fingerprint = HeapHeader::fingerprint();
  f.linear_stages = Bins::kLinearStages;
  f.bytes_per_linear = Bins::kBytesPerLinear;
  f.log_divs = Bins::kLogDivs;
  f.bin_count = Bins::kBins;
  f.region_size = snap.header().region_size();
  f.max_size = snap.header().max_size();
  f.mapped_size = snap.mapped_size();
  f.init_state = state_name(snap.header().state());

  const Heap& heap = snap.heap();
  const auto& core = heap.meta();
  f.capacity = core.capacity();
  f.current_size = kCoreOffset + core.span();
  f.stats = core.stats();
  heap.subtract_lanes(f.stats);
  f.stats.recoveries = heap.recoveries();
  f.stats.rollbacks = heap.rollbacks();
  f.journal_words = core.journal_size();
  f.boot_current = snap.header().boot() == talc::boot_hash();
  f.locks = lock_facts(snap);
  gather_names(snap, std::min(f.current_size, f.mapped_size), f);

  Heap::Core::BinCounts free_by_bin;
  f.census = core.census(&free_by_bin);
  heap.subtract_lanes(f.census);  // a page's free blocks are cached, the tables overhead
  f.lane_count = heap.lane_count();
  f.lane_table_bytes = heap.table_chunk();
  std::vector<LaneFacts> lanes(heap.lane_count());
  if (heap.has_lanes()) {
    // What the pages' chunks hold besides blocks: every byte of the capacity is then live,
    // free, cached, a table or this.
    auto* base = const_cast<std::byte*>(reinterpret_cast<const std::byte*>(&core));
    const talc::PageTable& pt = heap.pages();
    const talc::PageTable::Counts pc = pt.counts(base, core.heap_end());
    f.page_bytes = pt.max_bytes();
    f.pages = pc.pages;
    f.page_table_bytes = heap.page_table_chunk();
    f.page_overhead_bytes =
        pc.chunk_bytes - (pc.held_bytes + pc.held * talc::kTagSize) - pc.free_bytes;
    // Each page names its lane (index + 1) in its header.
    for (std::uint64_t i = 0; i < pt.cap; ++i) {
      const std::uint64_t u = pt.page_at(base, core.heap_end(), i);
      if (u == talc::PageTable::kNull) continue;
      const std::uint64_t lane = talc::page_word(base, u + offsetof(talc::PageHeader, lane)).load(),
                          cls = talc::page_word(base, u + offsetof(talc::PageHeader, cls)).load();
      if (lane == 0 || lane > lanes.size() || cls >= talc::PageConfig::kClasses) continue;
      const talc::Page p{base, u, pt.geometry().layout(cls)};
      ++lanes[lane - 1].pages;
      lanes[lane - 1].held += p.held();
    }
  }
  for (std::uint64_t i = 0; i < heap.lane_count(); ++i) {
    const talc::Lane& l = heap.lane(i);
    LaneFacts& lf = lanes[i];
    lf.index = i;
    const std::uint64_t owner = talc::lane_load(l.owner);
    lf.owner_pid = owner & talc::RegionLock::kPidMask;
    lf.state = owner == 0                             ? "free"
               : talc::RegionLock::holder_dead(owner) ? "owned by a dead process"
                                                      : "owned by a live process";
    lf.thread = talc::lane_load(l.thread);
    if (owner != 0 || lf.pages != 0) f.lanes.push_back(lf);
  }
  const talc::Census& c = f.census;
  f.fragmentation = c.free_bytes == 0 ? 0.0
                                      : 1.0 - static_cast<double>(c.largest_free) /
                                                  static_cast<double>(c.free_bytes);
  for (std::uint64_t b = 0; b < Bins::kBins; ++b)
    if (free_by_bin[b] != 0) f.free_bins.push_back({b, Bins::lower_bound(b), free_by_bin[b]});
  return f;
}

CheckOutcome check_region(const RegionSpec& spec, std::chrono::milliseconds wait) noexcept {
  CheckOutcome out;
  try {
    Snapshot snap(spec, wait);
    if (!snap.valid()) {
      out.stage = "header";
      out.what = snap.refusal();
      return out;
    }
    for (const LockFacts& l : lock_facts(snap))
      if (l.damaged) {
        out.stage = "lock";
        out.what = "the " + l.name + " lock word holds a value no holder writes";
        out.has_offset = true;
        out.offset = l.offset;
        out.detail = l.word;
        return out;
      }
    auto& core = snap.heap().meta();
    out.journal_words = core.journal_size();
    if (out.journal_words != 0) {
      const talc::Result<std::uint64_t> undone = core.roll_back();  // private copy only
      if (!undone) {
        out.stage = "rollback";
        out.what = "the journal of the interrupted operation is not believable";
        return out;
      }
      out.rolled_back_words = *undone;
    }
    talc::CheckReport rep = core.check();
    if (rep.ok()) rep = snap.heap().check_lanes(core, false);
    out.stage = "check";
    out.what = rep.what;
    out.consistent = rep.ok();
    if (!rep.ok()) {
      out.has_offset = true;
      out.offset = rep.offset + kCoreOffset;
      out.detail = rep.detail;
    }
  } catch (const ToolError& e) {
    out = CheckOutcome{};
    out.stage = "open";
    out.what = e.what();
  } catch (const std::bad_alloc&) {
    out.consistent = false;
    out.what = "not enough memory to check the heap";
  } catch (const std::exception& e) {
    out.consistent = false;
    out.what = e.what();
  }
  return out;
}

}  // namespace talc_tool
