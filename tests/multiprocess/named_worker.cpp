// A separate program for the named-object and container tests: it opens a shared heap by name
// (at its own address), finds objects another process built, and reports through its exit
// status: 0 when everything it checked was right.
//
//   talc_named_worker record SHM_NAME     find<Record>("record"): must be Errc::size_mismatch,
//                                         this program's Record being larger
//   talc_named_worker read-map SHM_NAME   find<Map>("table") and check every element, and
//                                         find<FlatMap>("index") likewise
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "support/named_types.hpp"
#include "talc/talc.hpp"

namespace {

using namespace talc_named_test;

int CheckRecord(talc::MapTalc<>& heap) {
  const talc::Result<Record*> r = heap.find<Record>("record");
  if (r.error() != talc::Errc::size_mismatch) {
    std::fprintf(stderr, "record: %s\n", talc::describe(r.error()));
    return 1;
  }
  return 0;
}

int CheckMap(talc::MapTalc<>& heap) {
  const talc::Result<Map*> m = heap.find<Map>("table");
  if (!m) {
    std::fprintf(stderr, "table: %s\n", talc::describe(m.error()));
    return 1;
  }
  const Map& map = **m;
  if (map.size() != static_cast<std::size_t>(kMapKeys)) {
    std::fprintf(stderr, "table: %zu keys\n", map.size());
    return 1;
  }
  int checked = 0;
  for (int i = 0; i < kMapKeys; ++i) {
    const std::string key = KeyOf(i);
    // Look the key up through a string of this process's own heap allocator: the comparison
    // reads the stored keys through their offset pointers.
    const auto it = map.find(String(key.c_str(), map.get_allocator()));
    if (it == map.end() || std::string(it->first.c_str()) != key) {
      std::fprintf(stderr, "table: key %s missing\n", key.c_str());
      return 1;
    }
    const std::vector<int> want = ValuesOf(i);
    if (it->second.size() != want.size() ||
        !std::equal(want.begin(), want.end(), it->second.begin())) {
      std::fprintf(stderr, "table: values of %s differ\n", key.c_str());
      return 1;
    }
    ++checked;
  }
  const talc::Result<FlatMap*> f = heap.find<FlatMap>("index");
  if (!f || (*f)->size() != static_cast<std::size_t>(kMapKeys)) {
    std::fprintf(stderr, "index: %s\n", talc::describe(f.error()));
    return 1;
  }
  for (const auto& [k, v] : **f)
    if (std::string(v.c_str()) != KeyOf(k)) {
      std::fprintf(stderr, "index: %d -> %s\n", k, v.c_str());
      return 1;
    }
  std::printf("checked %d keys\n", checked);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s record|read-map SHM_NAME\n", argv[0]);
    return 2;
  }
  try {
    auto heap = talc::MapTalc<>::open_shm(argv[2]);
    if (std::strcmp(argv[1], "record") == 0) return CheckRecord(heap);
    if (std::strcmp(argv[1], "read-map") == 0) return CheckMap(heap);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: %s\n", e.what());
    return 1;
  }
  return 2;
}
