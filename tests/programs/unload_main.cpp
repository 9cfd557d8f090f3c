// A library that used a heap is unloaded (dlclose) while threads that used it live on; they end
// afterwards, and nothing of the library may run then (lane_local.hpp). Not linked with talc: all
// of it comes from the loaded module, as Python loads a C library.
//
//   unload_main MODULE DIR
//
// Two rounds: the heap closed before the unload gives back every lane; one left open keeps the
// live threads' lanes (the process still owns them) until the process ends. Prints one line per
// round and exits 0 when every expectation held.
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Module {
  void* so = nullptr;
  int (*open)(const char*, int) = nullptr;
  int (*pair)() = nullptr;
  long (*lanes_owned)() = nullptr;
  int (*check)() = nullptr;
  void (*close)() = nullptr;

  explicit Module(const char* path) : so(::dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
    if (so == nullptr) return;
    open = reinterpret_cast<int (*)(const char*, int)>(::dlsym(so, "module_open"));
    pair = reinterpret_cast<int (*)()>(::dlsym(so, "module_pair"));
    lanes_owned = reinterpret_cast<long (*)()>(::dlsym(so, "module_lanes_owned"));
    check = reinterpret_cast<int (*)()>(::dlsym(so, "module_check"));
    close = reinterpret_cast<void (*)()>(::dlsym(so, "module_close"));
  }
  bool ok() const { return so && open && pair && lanes_owned && check && close; }
  // Unloads the module, and says whether it is gone (glibc keeps some objects loaded).
  bool unload(const char* path) {
    ::dlclose(so);
    so = ::dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    const bool gone = so == nullptr;
    if (!gone) ::dlclose(so);
    so = nullptr;
    return gone;
  }
};

int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

// Eight threads use the heap through the module, then wait; the module is unloaded (after the
// heap is closed when `close_first`); then the threads end. Returns the lanes a fresh load of the
// module finds owned.
long round(const char* module, const std::string& heap, bool close_first) {
  Module m(module);
  expect(m.ok(), "the module loads");
  if (!m.ok()) return -1;
  expect(m.open(heap.c_str(), 1) == 0, "the heap is created");
  std::atomic<int> used{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, pair = m.pair] {
      expect(pair() == 0, "a pair through the module");
      ++used;
      while (!go.load()) std::this_thread::yield();
    });
  while (used.load() != 8) std::this_thread::yield();
  expect(m.lanes_owned() == 8, "each thread holds a lane");
  if (close_first) m.close();
  expect(m.unload(module), "the module is unloaded");
  go = true;
  for (std::thread& t : ts) t.join();  // their ends must not call into the unloaded module

  Module again(module);
  expect(again.ok(), "the module loads again");
  if (!again.ok()) return -1;
  expect(again.open(heap.c_str(), 0) == 0, "the heap opens again");
  expect(again.check() == 0, "the heap is consistent");
  const long owned = again.lanes_owned();
  again.close();
  again.unload(module);
  return owned;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: unload_main MODULE DIR\n");
    return 2;
  }
  const std::string dir = argv[2];
  std::remove((dir + "/closed.heap").c_str());
  std::remove((dir + "/open.heap").c_str());
  const long closed = round(argv[1], dir + "/closed.heap", true);
  std::printf("closed before unload: lanes owned %ld/8 after the threads ended\n", closed);
  expect(closed == 0, "a heap closed before the unload gives back every lane");
  const long left_open = round(argv[1], dir + "/open.heap", false);
  std::printf("left open at unload: lanes owned %ld/8 after the threads ended\n", left_open);
  expect(left_open == 8, "a heap left open keeps the ended threads' lanes while the process lives");
  std::remove((dir + "/closed.heap").c_str());
  std::remove((dir + "/open.heap").c_str());
  return failures == 0 ? 0 : 1;
}
