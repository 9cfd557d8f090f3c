// The process-local records of lanes (lane_local.hpp): the registry of open heaps and of what
// each thread claimed, the thread-end key and the fork handlers.
#include "talc/lanes/lane_local.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <new>
#include <utility>

namespace talc::lanes_local {

thread_local constinit ThreadLanes tls{};
std::atomic<std::uint64_t> stamp_now{1};

namespace {

constexpr std::uint32_t kRetry = 1024;  // calls of a thread without a lane between two asks

// Nodes of the registry come from pages of their own, never from malloc: a claim happens inside
// an allocation, of a heap that may be the process's malloc, and an unloaded library leaves
// nothing of the registry on the C++ heap. Pages are never given back: a thread may end after
// static destructors ran. take() is null when no page can be had.
template <class T>
class Pool {
 public:
  T* take() noexcept {
    if (spare_ == nullptr) {
      constexpr std::size_t kPage = 64 * 1024;
      void* m = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) return nullptr;
      for (std::size_t i = 0; i < kPage / sizeof(T); ++i) put(::new (static_cast<T*>(m) + i) T);
    }
    T* t = spare_;
    spare_ = t->next;
    t->reset();
    return t;
  }
  void put(T* t) noexcept {
    t->next = spare_;
    spare_ = t;
  }

 private:
  T* spare_ = nullptr;
};

// A heap open in this process: how many Talc hold it, and how its lanes are given back.
struct Open {
  const void* heap = nullptr;
  std::uint64_t refs = 0;
  GiveBack give_back = nullptr;
  Open* next = nullptr;
  void reset() noexcept { refs = 0; }
};

// What one thread claimed, as the registry knows it. Written under the mutex; the thread itself
// reads its own without it (confirm), hence atomic words.
struct Record {
  struct Entry {
    std::atomic<const void*> key{nullptr};  // null: unused
    std::atomic<std::uint64_t> index{0};
    void set(const void* k, std::uint64_t i) noexcept {
      index.store(i, std::memory_order_relaxed);
      key.store(k, std::memory_order_relaxed);
    }
    void clear() noexcept { key.store(nullptr, std::memory_order_relaxed); }
  } claims[kHeld];
  pid_t tid = 0;  // the thread's id: a record whose thread is gone can be told (sweep_ended)
  Record* prev = nullptr;
  Record* next = nullptr;
  void reset() noexcept {
    for (Entry& c : claims) c.clear();
    tid = 0;
    prev = next = nullptr;
  }
  bool holds_any() const noexcept {
    for (const Entry& c : claims)
      if (c.key.load(std::memory_order_relaxed) != nullptr) return true;
    return false;
  }
};

struct Registry {
  std::mutex mu;
  Open* open = nullptr;       // the heaps open in this process
  Record* threads = nullptr;  // one record per thread that claimed a lane and has not ended
  Pool<Open> opens;
  Pool<Record> records;
  pthread_key_t key{};
  // False once the code is being unloaded: no more claims. Read by confirm() without the mutex.
  std::atomic<bool> has_key{false};

  Registry();
  Open* find(const void* heap) const noexcept {
    for (Open* o = open; o != nullptr; o = o->next)
      if (o->heap == heap) return o;
    return nullptr;
  }
  void forget(Open* gone) noexcept {
    for (Open** o = &open; *o != nullptr; o = &(*o)->next)
      if (*o == gone) {
        *o = gone->next;
        opens.put(gone);
        return;
      }
  }
  // A record for the calling thread, linked among the threads'; null when none can be had.
  Record* take_record() noexcept {
    Record* rec = records.take();
    if (rec == nullptr) return nullptr;
    rec->tid = ::gettid();
    rec->next = threads;
    if (threads != nullptr) threads->prev = rec;
    threads = rec;
    return rec;
  }
  // Unlinks `rec` from the threads and keeps it for another.
  void recycle(Record* rec) noexcept {
    if (rec->prev != nullptr) rec->prev->next = rec->next;
    if (rec->next != nullptr) rec->next->prev = rec->prev;
    if (threads == rec) threads = rec->next;
    records.put(rec);
  }
  // Gives back everything `rec` claimed, and keeps the record for another thread.
  void release(Record* rec) noexcept {
    give_back(*rec, nullptr);
    recycle(rec);
  }
  // Gives back what threads that are gone still hold: a thread whose first claim came after its
  // key destructors ran (the last pass, or a call made by the C library as the thread ends).
  // The kernel tells a thread id that names no thread of the process; an id reused by a new
  // thread leaves the record alone, which errs on the side of keeping. One system call per
  // record that holds a lane; run when lanes run short and when the process exits.
  void sweep_ended() noexcept {
    const pid_t me = ::getpid();
    for (Record* rec = threads; rec != nullptr;) {
      Record* next = rec->next;
      if (rec->holds_any() && ::tgkill(me, rec->tid, 0) != 0 && errno == ESRCH) release(rec);
      rec = next;
    }
  }
  // Gives back the lanes `rec` claimed (those of `only`, or all), mutex held.
  void give_back(Record& rec, const void* only) noexcept {
    for (Record::Entry& c : rec.claims) {
      const void* k = c.key.load(std::memory_order_relaxed);
      if (k == nullptr || (only != nullptr && k != only)) continue;
      if (const Open* o = find(k))
        o->give_back(const_cast<void*>(k), c.index.load(std::memory_order_relaxed));
      c.clear();
    }
  }
};

std::atomic<Registry*> made{nullptr};

// In static storage and never destroyed: a thread may end after static destructors ran.
Registry& registry() {
  alignas(Registry) static unsigned char storage[sizeof(Registry)];
  static Registry* r = ::new (storage) Registry;
  return *r;
}

// Marks the thread inside the registry for a scope: an allocation made there (by
// pthread_setspecific, or by a callback of a heap's lock) that reaches a heap with lanes must not
// try to claim, and lock the mutex a second time.
class Busy {
 public:
  Busy() noexcept : was_(tls.busy) { tls.busy = true; }
  ~Busy() { tls.busy = was_; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  bool was_;
};

// The calling thread has given back what it claimed: its later calls are served through the
// lock and claim nothing.
void stop_claiming() noexcept {
  tls.ending = true;
  for (Held& h : tls.held) h = Held::unused(h.front);
}

// The key's destructor: runs after the thread's thread_local destructors, in a pass of the key
// destructors, and gives back everything the thread claimed.
void thread_ends(void* value) noexcept {
  stop_claiming();  // first: nothing done on the way may use a lane being given back
  Registry& r = registry();
  const Busy b;
  const std::lock_guard<std::mutex> g(r.mu);
  r.release(static_cast<Record*>(value));
}

Registry::Registry() {
  has_key = ::pthread_key_create(&key, thread_ends) == 0;
  made.store(this, std::memory_order_release);
}

// A fork's child has one thread, and none of its parent's lanes. Between the handlers the
// forking thread holds the mutex: a handler registered beside these that calls a heap must not
// ask for it again.
void before_fork() {
  registry().mu.lock();
  tls.busy = true;
}
void after_fork_parent() {
  tls.busy = false;
  registry().mu.unlock();
}
void after_fork_child() {
  Registry& r = registry();
  Record* mine = r.has_key ? static_cast<Record*>(::pthread_getspecific(r.key)) : nullptr;
  for (Record* rec = r.threads; rec != nullptr;) {
    Record* next = rec->next;
    if (rec != mine) r.recycle(rec);
    rec = next;
  }
  if (mine != nullptr) {
    for (Record::Entry& c : mine->claims) c.clear();
    mine->tid = ::gettid();
  }
  stamp_now.fetch_add(1, std::memory_order_relaxed);
  tls.busy = false;
  r.mu.unlock();
}
[[maybe_unused]] const int registered =
    ::pthread_atfork(before_fork, after_fork_parent, after_fork_child);

// Runs when this code is unloaded (dlclose) or the process exits (main returned, or exit()):
// threads that live on must not find a destructor in code that is gone. The calling thread gives
// back what it holds, as if it ended, and so does every thread already gone. The others' lanes
// stay theirs: at exit they may still be inside a call, and a lane given back under a working
// owner would have two. (A thread that ends while the library is being unloaded may still be
// inside the key's destructor: unload it while none of its threads ends.)
struct Unload {
  ~Unload() {
    Registry* r = made.load(std::memory_order_acquire);
    if (r == nullptr) return;
    stop_claiming();
    const Busy b;
    const std::lock_guard<std::mutex> g(r->mu);
    if (!r->has_key) return;
    if (auto* rec = static_cast<Record*>(::pthread_getspecific(r->key))) r->release(rec);
    r->sweep_ended();
    ::pthread_key_delete(r->key);
    r->has_key = false;
  }
} unload;

// Makes `h` the record of lane `index` of `heap` (of none: owner.lane null), its page caches
// emptied: what they held was another lane's.
void remake(Held& h, const void* heap, std::uint64_t now, std::uint64_t index, LaneOwner owner,
            std::uint32_t retry) noexcept {
  PageFronts& f = tls.fronts[h.front];
  f = PageFronts{};
  owner.front = f.cls;
  h = Held{heap, now, index, owner, retry, h.front};
}

// Puts `h` first, where the fast path looks.
LaneOwner* first(Held& h) noexcept {
  std::swap(h, tls.held[0]);
  return &tls.held[0].owner;
}

// A place in the thread's cache for the record of `heap`: the one it has, else an unused one or
// one of another stamp (a cache: the registry still knows what that named). Null when kHeld other
// heaps' records are current.
Held* slot_for(const void* heap, std::uint64_t now) noexcept {
  for (Held& h : tls.held)
    if (h.key == heap) return &h;
  for (Held& h : tls.held)
    if (h.key == nullptr || h.stamp != now) return &h;
  return nullptr;
}

// The lane `rec` says this thread holds in the heap of `src`, cached in `slot` and put first;
// null when it holds none there.
LaneOwner* from_record(const Record* rec, const LaneSource& src, Held& slot,
                       std::uint64_t now) noexcept {
  if (rec == nullptr) return nullptr;
  for (const Record::Entry& c : rec->claims)
    if (c.key.load(std::memory_order_relaxed) == src.heap) {
      const std::uint64_t i = c.index.load(std::memory_order_relaxed);
      remake(slot, src.heap, now, i, src.view(src.heap, i), 0);
      return first(slot);
    }
  return nullptr;
}

}  // namespace

bool open(void* heap, GiveBack give_back) noexcept {
  Registry& r = registry();
  const Busy b;
  const std::lock_guard<std::mutex> g(r.mu);
  Open* o = r.find(heap);
  if (o == nullptr) {
    o = r.opens.take();
    if (o == nullptr) return false;
    o->heap = heap;
    o->next = r.open;
    r.open = o;
  }
  ++o->refs;
  o->give_back = give_back;
  return true;
}

void close(const void* heap) noexcept {
  Registry& r = registry();
  const Busy b;
  const std::lock_guard<std::mutex> g(r.mu);
  Open* o = r.find(heap);
  if (o == nullptr || --o->refs != 0) return;
  for (Record* rec = r.threads; rec != nullptr; rec = rec->next) r.give_back(*rec, heap);
  r.forget(o);
  // Every thread's cached records are checked again: none names this heap any more.
  stamp_now.fetch_add(1, std::memory_order_relaxed);
}

LaneOwner* acquire(const LaneSource& src) noexcept {
  if (tls.ending || tls.busy) return nullptr;
  Registry& r = registry();
  const Busy b;
  const std::lock_guard<std::mutex> g(r.mu);
  if (!r.has_key || r.find(src.heap) == nullptr) return nullptr;
  const std::uint64_t now = stamp();
  Held* slot = slot_for(src.heap, now);
  if (slot == nullptr) return nullptr;  // lanes of kHeld other heaps in use already
  if (slot->key == src.heap && slot->stamp == now) {
    if (slot->owner.lane != nullptr) return first(*slot);
    if (slot->retry != 0) {
      --slot->retry;
      return nullptr;
    }
  }
  auto* rec = static_cast<Record*>(::pthread_getspecific(r.key));
  if (LaneOwner* o = from_record(rec, src, *slot, now)) return o;

  Record::Entry* claim = nullptr;
  if (rec != nullptr)
    for (Record::Entry& c : rec->claims)
      if (claim == nullptr && c.key.load(std::memory_order_relaxed) == nullptr) claim = &c;
  remake(*slot, src.heap, now, 0, LaneOwner{}, kRetry);
  if (rec != nullptr && claim == nullptr) return nullptr;  // lanes of kHeld heaps held
  // Free lanes first; then, once threads that are gone gave theirs back, free lanes again; then
  // the lanes of dead processes.
  for (int pass = 0; pass < 3; ++pass) {
    if (pass == 1) r.sweep_ended();
    for (std::uint64_t i = 0; i < src.lanes; ++i) {
      if (!src.own_lane(src.heap, i, pass == 2)) continue;
      if (rec == nullptr) {
        // The key is what gives the lane back when the thread ends: without it, no lane.
        rec = r.take_record();
        if (rec == nullptr || ::pthread_setspecific(r.key, rec) != 0) {
          if (rec != nullptr) r.recycle(rec);
          src.give_back(src.heap, i);
          return nullptr;
        }
        claim = &rec->claims[0];
      }
      claim->set(src.heap, i);
      remake(*slot, src.heap, now, i, src.view(src.heap, i), 0);
      return first(*slot);
    }
  }
  return nullptr;
}

LaneOwner* confirm(const LaneSource& src) noexcept {
  if (tls.ending) return nullptr;
  Registry* r = made.load(std::memory_order_acquire);
  if (r == nullptr || !r->has_key.load(std::memory_order_relaxed)) return nullptr;
  // Entries of this thread's record are added by this thread alone, and removed by another only
  // when the heap is closed, which no call on it may overlap: read without the mutex.
  const auto* rec = static_cast<const Record*>(::pthread_getspecific(r->key));
  const std::uint64_t now = stamp();
  Held* slot = slot_for(src.heap, now);
  return slot != nullptr ? from_record(rec, src, *slot, now) : nullptr;
}

}  // namespace talc::lanes_local
