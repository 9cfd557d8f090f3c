// The tool's commands, one function each (one file each: cmd_<name>.cpp). main.cpp parses the
// command line and calls them. Each returns the exit code, or throws UsageError / ToolError
// (see tool_error.hpp); each writes its report on stdout.
#pragma once

#include <string>

namespace talc_tool {

struct StressOptions {
  unsigned procs = 4;
  double seconds = 2;
  std::size_t max_block = 4096;  // largest block a worker asks for, in bytes
  bool keep = false;             // leave the workers' last blocks allocated
};

// `max` empty: the region never grows. `mode`: octal permission bits.
int cmd_create(const std::string& region, const std::string& size, const std::string& max,
               const std::string& mode);
int cmd_info(const std::string& region, bool json);
int cmd_check(const std::string& region, bool json);
int cmd_rm(const std::string& region);
int cmd_repair(const std::string& region);
int cmd_stress(const std::string& region, const StressOptions& opts);

}  // namespace talc_tool
