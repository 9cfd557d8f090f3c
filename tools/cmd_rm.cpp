// `talc rm REGION`: removes a shared memory object's name, or a file.
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "commands.hpp"
#include "region_spec.hpp"
#include "talc/talc.hpp"
#include "tool_error.hpp"

namespace talc_tool {

int cmd_rm(const std::string& region) {
  const RegionSpec spec = parse_region(region);
  if (spec.kind == RegionSpec::Kind::shm) {
    bool removed = false;
    try {
      removed = talc::MapTalc<>::remove_shm(spec.name);
    } catch (const std::exception& e) {
      throw ToolError("cannot remove " + spec.display() + ": " + e.what());
    }
    if (!removed) throw ToolError(spec.display() + " does not exist");
  } else {
    std::error_code ec;
    const auto status = std::filesystem::symlink_status(spec.name, ec);
    if (!std::filesystem::exists(status)) throw ToolError(spec.display() + " does not exist");
    if (std::filesystem::is_directory(status))
      throw ToolError(spec.display() + " is a directory, not a heap file");
    if (!std::filesystem::remove(spec.name, ec) || ec)
      throw ToolError("cannot remove " + spec.display() + ": " + ec.message());
  }
  std::printf("removed %s\n", spec.display().c_str());
  return kExitOk;
}

}  // namespace talc_tool
