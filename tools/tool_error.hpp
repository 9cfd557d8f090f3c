// The tool's two kinds of failure and the exit codes they map to.
//
// A command throws UsageError for input it cannot make sense of (exit 2) and ToolError for a
// request it understood but could not carry out (exit 1); main() prints either as one line,
// "talc: <what>", on stderr. Exit 0 means the command did what was asked and found all good.
#pragma once

#include <stdexcept>

namespace talc_tool {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ToolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace talc_tool
