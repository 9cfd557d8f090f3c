// How a region and a size are written on the command line.
//
// A region is `shm:NAME` (a POSIX shared memory object; a leading '/' is added when missing)
// or `file:PATH`. A size is a number of bytes with an optional binary suffix: K, M, G or T
// (each optionally followed by "iB" or "B"), so 64M is 64 MiB. Anything else is refused with
// a UsageError that says what was expected. A mode is permission bits in octal, at most 0777
// (0660, or 660).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace talc_tool {

struct RegionSpec {
  enum class Kind { shm, file };
  Kind kind = Kind::file;
  std::string name;  // the POSIX shm name ("/x") or the file path

  // As the user would write it back: "shm:/x" or "file:path".
  std::string display() const;
};

RegionSpec parse_region(std::string_view text);
std::size_t parse_size(std::string_view text);
unsigned parse_mode(std::string_view text);

}  // namespace talc_tool
