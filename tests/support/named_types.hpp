// Types the named-object tests share with their worker program, which is built separately and
// may define them differently on purpose (TALC_WORKER_LAYOUT), the way two versions of one
// program would.
#pragma once

#include <boost/container/flat_map.hpp>
#include <boost/container/map.hpp>
#include <boost/container/string.hpp>
#include <boost/container/vector.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "talc/allocator.hpp"

namespace talc_named_test {

#ifdef TALC_WORKER_LAYOUT
struct Record {
  std::uint64_t a;
  std::uint64_t b;  // a field this version added
};
#else
struct Record {
  std::uint64_t a;
};
#endif

using IntVec = boost::container::vector<int, talc::Allocator<int>>;
using String = boost::container::basic_string<char, std::char_traits<char>, talc::Allocator<char>>;
using Map = boost::container::map<String, IntVec, std::less<String>,
                                  talc::Allocator<std::pair<const String, IntVec>>>;
using FlatMap = boost::container::flat_map<int, String, std::less<int>,
                                           talc::Allocator<std::pair<int, String>>>;

// What the writer puts in the map, and the reader checks: key i is "key-<i>" followed by i
// x's (so some keys exceed any small-string buffer), its vector holds i*i .. i*i + i.
inline constexpr int kMapKeys = 200;
inline std::string KeyOf(int i) {
  return "key-" + std::to_string(i) + std::string(i % 40, 'x');
}
inline std::vector<int> ValuesOf(int i) {
  std::vector<int> v;
  for (int k = 0; k <= i; ++k) v.push_back(i * i + k);
  return v;
}

}  // namespace talc_named_test
