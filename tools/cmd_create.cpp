// `talc create REGION --size SIZE [--max SIZE] [--mode MODE]`: a new region holding a new,
// empty heap, which may grow up to the maximum, with exactly the permission bits MODE.
#include <cstdio>
#include <system_error>

#include "commands.hpp"
#include "region_spec.hpp"
#include "talc/talc.hpp"
#include "tool_error.hpp"

namespace talc_tool {

int cmd_create(const std::string& region, const std::string& size_text, const std::string& max_text,
               const std::string& mode_text) {
  const RegionSpec spec = parse_region(region);
  const std::size_t size = parse_size(size_text);
  if (size < talc::MapTalc<>::min_region_size())
    throw UsageError("size " + std::to_string(size) + " is too small for a heap (at least " +
                     std::to_string(talc::MapTalc<>::min_region_size()) + " bytes)");
  talc::OpenOptions opts;
  opts.mode = parse_mode(mode_text);
  opts.max_size = max_text.empty() ? size : parse_size(max_text);
  if (opts.max_size < size)
    throw UsageError("--max " + std::to_string(opts.max_size) + " is smaller than --size " +
                     std::to_string(size));
  if (opts.max_size > talc::kMaxSpan)
    throw UsageError("--max " + std::to_string(opts.max_size) + " is larger than a heap can be (" +
                     std::to_string(talc::kMaxSpan) + " bytes)");
  try {
    auto heap = spec.kind == RegionSpec::Kind::shm
                    ? talc::MapTalc<>::create_shm(spec.name, size, opts)
                    : talc::MapTalc<>::create_file(spec.name, size, opts);
    std::printf("created %s: %llu bytes (may grow to %llu), heap capacity %llu bytes\n",
                spec.display().c_str(), static_cast<unsigned long long>(heap.current_size()),
                static_cast<unsigned long long>(heap.max_size()),
                static_cast<unsigned long long>(heap.heap().meta().capacity()));
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::file_exists) throw ToolError(spec.display() + " already exists");
    throw ToolError("cannot create " + spec.display() + ": " + e.what());
  }
  return kExitOk;
}

}  // namespace talc_tool
