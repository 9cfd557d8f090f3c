// `talc repair REGION`: re-initialises a heap's locks (a damaged lock word, one a holder of a
// previous boot left) and checks the heap, in place. Only when no other process has the region
// open: an open that finds itself alone re-initialises the locks (see Talc::fresh_start), and
// this command refuses to go on when it was not alone, writing nothing more.
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "region_spec.hpp"
#include "talc/talc.hpp"
#include "tool_error.hpp"

namespace talc_tool {

int cmd_repair(const std::string& region) {
  const RegionSpec spec = parse_region(region);
  auto open = [&] {
    try {
      return spec.kind == RegionSpec::Kind::shm ? talc::MapTalc<>::open_shm(spec.name)
                                                : talc::MapTalc<>::open_file(spec.name);
    } catch (const std::exception& e) {
      throw ToolError("cannot open " + spec.display() + ": " + e.what());
    }
  };
  talc::MapTalc<> heap = open();
  if (!heap.opened_alone())
    throw ToolError(spec.display() +
                    ": another process has it open (or its source cannot tell); repair only a "
                    "region nobody uses");
  // The directory's lock, left abandoned by the open, is repaired at its first use.
  const auto names = heap.named_objects();
  const talc::CheckReport rep = heap.check();
  if (!names || !rep.ok()) {
    std::fprintf(stderr, "talc: %s: %s\n", spec.display().c_str(),
                 !rep.ok() ? rep.what : talc::describe(names.error()));
    return kExitFailed;
  }
  std::printf("%s: locks re-initialised; consistent (%llu recoveries so far)\n",
              spec.display().c_str(), static_cast<unsigned long long>(heap.recoveries()));
  return kExitOk;
}

}  // namespace talc_tool
