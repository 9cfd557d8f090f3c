// `talc info REGION [--json]`: what a heap holds, read from a private copy of its region
// (no lock taken, nothing written).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "inspect.hpp"
#include "tool_error.hpp"

namespace talc_tool {

namespace {

nlohmann::json to_json(const RegionSpec& spec, const HeapFacts& f) {
  nlohmann::json bins = nlohmann::json::array();
  for (const BinCount& b : f.free_bins)
    bins.push_back({{"bin", b.bin}, {"lower_bound", b.lower_bound}, {"count", b.count}});
  nlohmann::json locks = nlohmann::json::array();
  for (const LockFacts& l : f.locks)
    locks.push_back({{"name", l.name},
                     {"offset", l.offset},
                     {"word", l.word},
                     {"state", l.state},
                     {"damaged", l.damaged}});
  nlohmann::json lanes = nlohmann::json::array();
  for (const LaneFacts& l : f.lanes)
    lanes.push_back({{"index", l.index},
                     {"owner_pid", l.owner_pid},
                     {"state", l.state},
                     {"thread", l.thread},
                     {"pages", l.pages},
                     {"held", l.held}});
  // Every field of talc::HeapStats (heap_stats_table.h), and the fragmentation they give.
  nlohmann::json stats = {{"fragmentation", f.stats.fragmentation()}};
#define TALC_STATS_ITEM(name) stats[#name] = f.stats.name;
  TALC_HEAP_STATS(TALC_STATS_ITEM)
#undef TALC_STATS_ITEM
  nlohmann::json names = nlohmann::json::array();
  for (const talc::NamedInfo& n : f.names)
    names.push_back({{"name", n.name},
                     {"kind", talc::kind_name(n.kind())},
                     {"offset", n.offset},
                     {"size", n.size},
                     {"type", n.type}});
  char fp[19];
  std::snprintf(fp, sizeof fp, "%#018llx", static_cast<unsigned long long>(f.fingerprint));
  return {
      {"region", spec.display()},
      {"format_version", f.format_version},
      {"fingerprint", fp},
      {"bin_config",
       {{"linear_stages", f.linear_stages},
        {"bytes_per_linear", f.bytes_per_linear},
        {"log_divs", f.log_divs},
        {"bins", f.bin_count}}},
      {"region_size", f.region_size},
      {"max_size", f.max_size},
      {"current_size", f.current_size},
      {"mapped_size", f.mapped_size},
      {"init_state", f.init_state},
      {"capacity", f.capacity},
      {"live_bytes", f.census.live_bytes},
      {"live_chunks", f.census.live_chunks},
      {"free_bytes", f.census.free_bytes},
      {"free_chunks", f.census.free_chunks},
      {"largest_free", f.census.largest_free},
      {"fragmentation", f.fragmentation},
      {"cached_chunks", f.census.cached_chunks},
      {"cached_bytes", f.census.cached_bytes},
      {"lane_count", f.lane_count},
      {"lane_table_bytes", f.lane_table_bytes},
      {"page_bytes", f.page_bytes},
      {"pages", f.pages},
      {"page_table_bytes", f.page_table_bytes},
      {"page_overhead_bytes", f.page_overhead_bytes},
      {"lanes", lanes},
      {"stats", stats},
      {"recoveries", f.stats.recoveries},
      {"rollbacks", f.stats.rollbacks},
      {"journal_words", f.journal_words},
      {"boot_current", f.boot_current},
      {"locks", locks},
      {"free_bins", bins},
      {"names_state", f.names_state},
      {"names", names},
  };
}

void print_text(const RegionSpec& spec, const HeapFacts& f) {
  const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("region          %s\n", spec.display().c_str());
  std::printf("format version  %u\n", f.format_version);
  std::printf("fingerprint     %#018llx\n", u(f.fingerprint));
  std::printf("bin config      LinearStages=%llu BytesPerLinear=%llu LogDivs=%llu (%llu bins)\n",
              u(f.linear_stages), u(f.bytes_per_linear), u(f.log_divs), u(f.bin_count));
  std::printf("region size     %llu bytes now, built with %llu, may grow to %llu (%llu mapped)\n",
              u(f.current_size), u(f.region_size), u(f.max_size), u(f.mapped_size));
  std::printf("init state      %s\n", f.init_state.c_str());
  std::printf("capacity        %llu bytes\n", u(f.capacity));
  const talc::Census& c = f.census;
  std::printf("live            %llu bytes in %llu chunks\n", u(c.live_bytes), u(c.live_chunks));
  std::printf("free            %llu bytes in %llu chunks\n", u(c.free_bytes), u(c.free_chunks));
  std::printf("cached          %llu bytes in %llu blocks, free in pages\n", u(c.cached_bytes),
              u(c.cached_chunks));
  std::printf("largest free    %llu bytes\n", u(c.largest_free));
  std::printf("fragmentation   %.4f\n", f.fragmentation);
  const talc::HeapStats& s = f.stats;
  std::printf("usable live     %llu bytes (peak %llu), overhead %llu bytes\n", u(s.live_bytes),
              u(s.peak_live_bytes), u(s.overhead_bytes));
  std::printf(
      "operations      %llu allocations, %llu frees, %llu reallocations, %llu refused "
      "for want of memory, %llu growths\n",
      u(s.allocations), u(s.deallocations), u(s.reallocations), u(s.failures), u(s.growths));
  std::printf("recoveries      %llu (%llu with a roll-back)\n", u(s.recoveries), u(s.rollbacks));
  std::printf("journal         %llu words%s\n", u(f.journal_words),
              f.journal_words != 0 ? " (an operation was interrupted; `talc check` rolls it "
                                     "back on a private copy)"
                                   : "");
  for (const LockFacts& l : f.locks)
    std::printf("%-15s %s (word 0x%016llx at offset %llu)\n", (l.name + " lock").c_str(),
                l.state.c_str(), u(l.word), u(l.offset));
  if (f.lane_count == 0)
    std::printf("lanes           none (built without)\n");
  else
    std::printf("lanes           %llu; %zu owned or with pages\n", u(f.lane_count), f.lanes.size());
  if (f.page_bytes != 0)
    std::printf(
        "pages           %llu of up to %llu bytes; table %llu bytes, headers and tails %llu\n",
        u(f.pages), u(f.page_bytes), u(f.page_table_bytes), u(f.page_overhead_bytes));
  for (const LaneFacts& l : f.lanes)
    std::printf("  lane %3llu  %s (pid %llu, thread %llu): %llu pages, %llu blocks held\n",
                u(l.index), l.state.c_str(), u(l.owner_pid), u(l.thread), u(l.pages), u(l.held));
  std::printf("locks' boot     %s\n",
              f.boot_current ? "this one" : "another (the next opener re-initialises them)");
  if (f.names_state == "listed")
    std::printf("names           %zu\n", f.names.size());
  else
    std::printf("names           %s\n", f.names_state.c_str());
  for (const talc::NamedInfo& n : f.names)
    std::printf("  %-6s offset %-12llu size %-10llu %s\n", talc::kind_name(n.kind()), u(n.offset),
                u(n.size), n.name.c_str());
  std::printf("free chunks by bin:\n");
  if (f.free_bins.empty()) std::printf("  (none)\n");
  for (const BinCount& b : f.free_bins)
    std::printf("  bin %3llu  >= %12llu bytes  %llu\n", u(b.bin), u(b.lower_bound), u(b.count));
}

}  // namespace

int cmd_info(const std::string& region, bool json) {
  const RegionSpec spec = parse_region(region);
  Snapshot snap(spec, std::chrono::milliseconds(100));
  if (!snap.valid()) throw ToolError(spec.display() + ": " + snap.refusal());
  const HeapFacts facts = gather_facts(snap);
  if (json)
    // Names are bytes another process chose: invalid UTF-8 is shown replaced, not refused.
    std::cout << to_json(spec, facts).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << '\n';
  else
    print_text(spec, facts);
  return kExitOk;
}

}  // namespace talc_tool
