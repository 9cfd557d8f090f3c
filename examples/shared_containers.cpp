// Containers in shared memory, across two processes.
//
// The writer creates a heap in a shared memory object, builds a map from strings to vectors in
// it under the name "inventory" (Boost.Container with talc::Allocator: every pointer inside is
// an offset), and starts this same program again as the reader. The reader opens the heap by
// name, at whatever address its kernel picks, finds the map by name and prints it; the writer
// then checks what the reader added, destroys the map and removes the object.
//
//   talc_shared_containers            writer (starts the reader itself)
//   talc_shared_containers read NAME  reader
#include <sys/wait.h>
#include <unistd.h>

#include <boost/container/map.hpp>
#include <boost/container/string.hpp>
#include <boost/container/vector.hpp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>

#include "talc/talc.hpp"

namespace {

template <class T>
using Alloc = talc::Allocator<T>;
using Counts = boost::container::vector<int, Alloc<int>>;
using Name = boost::container::basic_string<char, std::char_traits<char>, Alloc<char>>;
using Inventory =
    boost::container::map<Name, Counts, std::less<Name>, Alloc<std::pair<const Name, Counts>>>;

int Reader(const char* shm) {
  auto heap = talc::MapTalc<>::open_shm(shm);
  const talc::Result<Inventory*> inv = heap.find<Inventory>("inventory");
  if (!inv) {
    std::fprintf(stderr, "reader: %s\n", talc::describe(inv.error()));
    return 1;
  }
  std::printf("reader (heap at %p):\n", static_cast<void*>(heap.base()));
  for (const auto& [name, counts] : **inv) {
    std::printf("  %-8s", name.c_str());
    for (int c : counts) std::printf(" %d", c);
    std::printf("\n");
  }
  // Changes go through the allocator stored in the map: the reader's blocks come from the
  // same heap and the writer sees them.
  const Alloc<int> alloc(heap);
  (*inv)->emplace(Name("pears", alloc), Counts(3, 7, alloc));
  return 0;
}

int Writer(const char* self) {
  const std::string shm = "/talc-containers-" + std::to_string(::getpid());
  auto heap = talc::MapTalc<>::create_shm(shm, 8 << 20);
  const Alloc<int> alloc(heap);
  Inventory* inv = heap.find_or_construct<Inventory>("inventory", alloc).value();
  const char* fruit[] = {"apples", "plums", "cherries"};
  for (int i = 0; i < 3; ++i) {
    Counts c(alloc);
    for (int k = 0; k <= i; ++k) c.push_back(10 * (i + 1) + k);
    inv->emplace(Name(fruit[i], alloc), std::move(c));
  }
  std::printf("writer (heap at %p): %zu entries under \"inventory\"\n",
              static_cast<void*>(heap.base()), inv->size());
  std::fflush(stdout);

  const pid_t pid = ::fork();
  if (pid == 0) {
    // This very program, whatever directory or PATH it was started from.
    ::execl("/proc/self/exe", self, "read", shm.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const bool reader_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const auto pears = inv->find(Name("pears", alloc));
  const bool seen = pears != inv->end() && pears->second.size() == 3;
  std::printf("writer: the reader %s, and its entry is %s\n", reader_ok ? "succeeded" : "failed",
              seen ? "here" : "missing");

  const talc::Errc destroyed = heap.destroy<Inventory>("inventory");
  const talc::CheckReport rep = heap.check();
  std::printf("writer: map destroyed (%s), heap %s, %llu block(s) live (the directory)\n",
              talc::describe(destroyed), rep.ok() ? "consistent" : rep.what,
              static_cast<unsigned long long>(heap.census().live_chunks));
  talc::MapTalc<>::remove_shm(shm);
  return reader_ok && seen && destroyed == talc::Errc::ok && rep.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::strcmp(argv[1], "read") == 0) return Reader(argv[2]);
    if (argc == 1) return Writer(argv[0]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: %s [read SHM_NAME]\n", argv[0]);
  return 2;
}
