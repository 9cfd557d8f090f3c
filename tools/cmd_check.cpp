// `talc check REGION [--json]`: the full integrity check, on a private copy of the region, so
// that it can neither hang on a damaged lock nor change a byte of what it checks.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "inspect.hpp"
#include "tool_error.hpp"

namespace talc_tool {

int cmd_check(const std::string& region, bool json) {
  const RegionSpec spec = parse_region(region);
  const CheckOutcome out = check_region(spec, std::chrono::milliseconds(100));
  if (json) {
    nlohmann::json j = {
        {"region", spec.display()},
        {"consistent", out.consistent},
        {"stage", out.stage},
        {"what", out.what},
        {"journal_words", out.journal_words},
        {"rolled_back_words", out.rolled_back_words},
    };
    if (out.has_offset) {
      j["offset"] = out.offset;
      j["detail"] = out.detail;
    }
    std::cout << j.dump(2) << '\n';
  } else {
    if (out.journal_words != 0)
      std::printf(
          "%s: an operation was interrupted (%llu journal words); rolled back %llu words "
          "on a private copy\n",
          spec.display().c_str(), static_cast<unsigned long long>(out.journal_words),
          static_cast<unsigned long long>(out.rolled_back_words));
    if (out.consistent)
      std::printf("%s: consistent\n", spec.display().c_str());
    else if (out.stage == "lock")
      std::fprintf(stderr, "talc: %s: %s (offset %llu, word 0x%016llx); `talc repair` resets it\n",
                   spec.display().c_str(), out.what.c_str(),
                   static_cast<unsigned long long>(out.offset),
                   static_cast<unsigned long long>(out.detail));
    else if (out.has_offset)
      std::fprintf(stderr, "talc: %s: inconsistent at offset %#llx: %s (value %llu)\n",
                   spec.display().c_str(), static_cast<unsigned long long>(out.offset),
                   out.what.c_str(), static_cast<unsigned long long>(out.detail));
    else if (out.stage == "open")
      std::fprintf(stderr, "talc: %s\n", out.what.c_str());
    else
      std::fprintf(stderr, "talc: %s: %s%s\n", spec.display().c_str(),
                   out.stage == "header" ? "not a usable heap: " : "", out.what.c_str());
  }
  return out.consistent ? kExitOk : kExitFailed;
}

}  // namespace talc_tool
