// The process-local records of lanes (lane_local.hpp): the registry of open heaps, the
// thread-exit hook and the fork handlers.
#include "talc/lanes/lane_local.hpp"

#include <pthread.h>

#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "talc/sync/region_lock.hpp"

namespace talc::lanes_local {

thread_local constinit ThreadLanes tls{};

namespace {

constexpr std::uint32_t kRetry = 1024;  // calls of a thread without a lane between two asks

struct Open {
  std::uint64_t refs = 0;
  GiveBack give_back = nullptr;
};

struct Registry {
  std::mutex mu;
  std::map<const void*, Open> open;
  std::set<ThreadLanes*> threads;  // the threads that hold a lane of some heap
};

// Never destroyed: a thread may end after static destructors ran.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

// Gives back the lanes `t` holds (those of `only`, or all), registry locked. A record of
// another process's lock word came with a fork: its lane is the parent's, left alone.
void give_back(Registry& r, ThreadLanes& t, const void* only) noexcept {
  const std::uint64_t me = RegionLock::self();
  for (Held& h : t.held) {
    if (h.key == nullptr || (only != nullptr && h.key != only)) continue;
    if (h.owner.lane != nullptr && h.self == me) {
      const auto it = r.open.find(h.key);
      if (it != r.open.end()) it->second.give_back(const_cast<void*>(h.key), h.index);
    }
    h = Held{};
  }
}

struct ExitHook {
  bool armed = false;
  ~ExitHook() {
    if (!armed) return;
    Registry& r = registry();
    const std::lock_guard<std::mutex> g(r.mu);
    give_back(r, tls, nullptr);
    r.threads.erase(&tls);
  }
};
thread_local ExitHook exit_hook;

// A fork's child has one thread, and none of its parent's lanes.
void before_fork() {
  registry().mu.lock();
}
void after_fork_parent() {
  registry().mu.unlock();
}
void after_fork_child() {
  registry().threads.clear();
  registry().mu.unlock();
}
[[maybe_unused]] const int registered =
    ::pthread_atfork(before_fork, after_fork_parent, after_fork_child);

}  // namespace

void open(void* heap, GiveBack give_back) {
  Registry& r = registry();
  const std::lock_guard<std::mutex> g(r.mu);
  Open& o = r.open[heap];
  ++o.refs;
  o.give_back = give_back;
}

void close(const void* heap) noexcept {
  Registry& r = registry();
  const std::lock_guard<std::mutex> g(r.mu);
  const auto it = r.open.find(heap);
  if (it == r.open.end() || --it->second.refs != 0) return;
  for (ThreadLanes* t : r.threads) give_back(r, *t, heap);
  r.open.erase(it);
}

LaneOwner* acquire(const LaneSource& src) noexcept {
  Registry& r = registry();
  const std::lock_guard<std::mutex> g(r.mu);
  if (r.open.find(src.heap) == r.open.end()) return nullptr;
  const std::uint64_t me = RegionLock::self();
  for (Held& h : tls.held)
    if (h.key != nullptr && h.self != me) h = Held{};  // a fork's leftovers
  Held* spare = nullptr;
  for (Held& h : tls.held) {
    if (h.key == src.heap) {
      if (h.owner.lane != nullptr) {
        std::swap(h, tls.held[0]);
        return &tls.held[0].owner;
      }
      if (h.retry != 0) {
        --h.retry;
        return nullptr;
      }
      h = Held{};
    }
    if (h.key == nullptr && spare == nullptr) spare = &h;
  }
  if (spare == nullptr) return nullptr;  // lanes of kHeld other heaps held already
  for (int pass = 0; pass < 2; ++pass)
    for (std::uint64_t i = 0; i < src.lanes; ++i) {
      if (!src.own_lane(src.heap, i, pass == 1)) continue;
      *spare = Held{src.heap, me, i, src.view(src.heap, i), 0};
      std::swap(*spare, tls.held[0]);
      r.threads.insert(&tls);
      exit_hook.armed = true;
      return &tls.held[0].owner;
    }
  *spare = Held{src.heap, me, 0, LaneOwner{}, kRetry};
  return nullptr;
}

}  // namespace talc::lanes_local
