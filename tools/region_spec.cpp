// Parsing of region specifications and sizes; see region_spec.hpp.
#include "region_spec.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>

#include "tool_error.hpp"

namespace talc_tool {

namespace {

constexpr std::size_t kMaxShmName = 255;  // NAME_MAX, without including OS headers

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string RegionSpec::display() const {
  std::string out(kind == Kind::shm ? "shm:" : "file:");
  out.append(name);
  return out;
}

RegionSpec parse_region(std::string_view text) {
  RegionSpec spec;
  if (starts_with(text, "shm:")) {
    std::string_view name = text.substr(4);
    if (!name.empty() && name.front() == '/') name.remove_prefix(1);
    if (name.empty())
      throw UsageError("region '" + std::string(text) + "' names no shared memory object");
    if (name.find('/') != std::string_view::npos)
      throw UsageError("shared memory name '" + std::string(name) + "' must not contain '/'");
    if (name.size() + 1 > kMaxShmName)
      throw UsageError("shared memory name '" + std::string(name) + "' is too long");
    spec.kind = RegionSpec::Kind::shm;
    spec.name.assign(1, '/');
    spec.name.append(name);
    return spec;
  }
  if (starts_with(text, "file:")) {
    const std::string_view path = text.substr(5);
    if (path.empty()) throw UsageError("region '" + std::string(text) + "' names no file");
    spec.kind = RegionSpec::Kind::file;
    spec.name = std::string(path);
    return spec;
  }
  throw UsageError("region '" + std::string(text) + "' is neither shm:NAME nor file:PATH");
}

std::size_t parse_size(std::string_view text) {
  const auto bad = [&](const char* why) {
    return UsageError("size '" + std::string(text) + "': " + why +
                      " (expected bytes with an optional K, M, G or T suffix, e.g. 64M)");
  };
  std::uint64_t value = 0;
  const char* const first = text.data();
  const char* const last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range) throw bad("too large");
  if (ec != std::errc() || end == first) throw bad("not a number");
  std::string_view suffix(end, static_cast<std::size_t>(last - end));
  unsigned shift = 0;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix.front()))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        throw bad("unknown suffix");
    }
    suffix.remove_prefix(1);
    if (!suffix.empty() && suffix != "iB" && suffix != "B") throw bad("unknown suffix");
  }
  if (value == 0) throw bad("must be more than zero");
  const std::uint64_t limit = std::numeric_limits<std::size_t>::max();
  if (value > (limit >> shift)) throw bad("too large");
  return static_cast<std::size_t>(value << shift);
}

unsigned parse_mode(std::string_view text) {
  unsigned value = 0;
  const char* const last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, value, 8);
  if (ec != std::errc() || end != last || value > 0777)
    throw UsageError("mode '" + std::string(text) +
                     "': expected permission bits in octal, at most 0777 (e.g. 0660)");
  return value;
}

}  // namespace talc_tool
