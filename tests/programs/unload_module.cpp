// A library that uses a heap, for unload_main.cpp to load with dlopen and unload with dlclose
// while threads that used it live on (lane_local.hpp: what an unloaded library gives back).
#include <string>

#include "talc/talc.hpp"

namespace {
// A pointer, not an object with a static destructor: module_close closes it, and a module
// unloaded without that call leaves it open, as a library that leaks its heap does.
talc::MapTalc<>* heap = nullptr;
}  // namespace

extern "C" {

// Creates (or opens) the heap file at `path`; 0 on success.
int module_open(const char* path, int create) {
  try {
    heap = new talc::MapTalc<>(create != 0 ? talc::MapTalc<>::create_file(path, 16 << 20)
                                           : talc::MapTalc<>::open_file(path));
    return 0;
  } catch (const std::exception&) {
    return 1;
  }
}

// One 64-byte pair from the calling thread: it claims a lane. 0 on success.
int module_pair() {
  const auto m = heap->try_allocate(64);
  return m && heap->deallocate(m->ptr()) == talc::Errc::ok ? 0 : 1;
}

long module_lanes_owned() {
  return static_cast<long>(heap->stats().lanes_owned);
}
int module_check() {
  return heap->check().ok() ? 0 : 1;
}
void module_close() {
  delete heap;
  heap = nullptr;
}
}
