// Named objects: built once, found by name in every process, refused under the wrong type or
// a bad name, destroyed with their block; and a directory that stays whole when processes die
// in the middle of a constructor, a destructor or the directory's own creation.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/named_types.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;

// Memory shared with forked children at the same address (the children's heaps are mapped
// elsewhere; this is only the tests' own bookkeeping).
template <class T>
T* SharedScratch() {
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap");
  return ::new (p) T();
}
template <class T>
void FreeScratch(T* p) {
  p->~T();
  ::munmap(p, sizeof(T));
}

// (Not `"c" + std::to_string(i)`: g++ 12 at -O3 warns falsely about that concatenation.)
std::string NameOf(const char* prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

struct Counted {
  explicit Counted(std::atomic<int>* made, int v = 7) : value(v) {
    made->fetch_add(1);
    // A wide window, so that racing processes really do arrive while it is open.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int value;
  std::uint64_t more[3] = {1, 2, 3};
};

struct Point {
  int x = 0, y = 0;
};

// Signals, then waits forever in its constructor (or destructor): a process to kill there.
struct Stuck {
  explicit Stuck(const talc_test::Signal* s) {
    if (s != nullptr) {
      s->Notify();
      for (;;) ::pause();
    }
  }
  ~Stuck() {
    if (stuck_in_destructor != nullptr) {
      stuck_in_destructor->Notify();
      for (;;) ::pause();
    }
  }
  const talc_test::Signal* stuck_in_destructor = nullptr;
  char payload[200] = {};
};

class Named : public ::testing::Test {
 protected:
  void TearDown() override { MapTalc<>::remove_shm(name_); }
  MapTalc<> Create(std::size_t size = 4 << 20) { return MapTalc<>::create_shm(name_, size); }

  static void ExpectSound(MapTalc<>& heap, std::uint64_t live_chunks) {
    const talc::CheckReport rep = heap.check();
    EXPECT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
    EXPECT_EQ(heap.census().live_chunks, live_chunks);
  }

  std::string name_ = talc_test::UniqueShmName("named");
};

TEST(TypeKey, NamesAndKeysOfTypes) {
  EXPECT_EQ(talc::type_name<int>(), "int");
  // Compilers spell the anonymous namespace differently; the type's own name is there.
  const std::string_view point = talc::type_name<Point>();
  EXPECT_TRUE(point.ends_with("::Point")) << point;
  EXPECT_EQ(talc::type_name<std::uint64_t>(), talc::type_name<unsigned long>());
  EXPECT_NE(talc::type_key<int>(), talc::type_key<unsigned>());
  EXPECT_NE(talc::type_key<Point>(), talc::type_key<Counted>());
  EXPECT_EQ(talc::type_key<const Point>(), talc::type_key<Point>());
  static_assert(talc::type_key<int>() == talc::type_key<int>(), "computed at compile time");
}

TEST_F(Named, FindOrConstructBuildsOnceThenFinds) {
  auto heap = Create();
  EXPECT_EQ(heap.find<Counted>("c").error(), Errc::not_found);  // no directory yet: nothing
  EXPECT_EQ(heap.census().live_chunks, 0u) << "a lookup must not create the directory";
  std::atomic<int> made{0};
  const talc::Result<Counted*> a = heap.find_or_construct<Counted>("c", &made, 11);
  ASSERT_TRUE(a.ok()) << talc::describe(a.error());
  EXPECT_EQ((*a)->value, 11);
  const talc::Result<Counted*> b = heap.find_or_construct<Counted>("c", &made, 99);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ((*b)->value, 11);  // found, not rebuilt
  EXPECT_EQ(made.load(), 1);
  EXPECT_EQ(heap.find<Counted>("c").value(), *a);
  EXPECT_EQ(heap.names().construct<Counted>("c", &made).error(), Errc::already_exists);
  EXPECT_EQ(made.load(), 1);
  // The object lies in the heap, in a live block of its own.
  EXPECT_GE(heap.usable_size(*a).value(), sizeof(Counted));
  ExpectSound(heap, 2);  // the directory's segment and the object
}

TEST_F(Named, AnotherTypeOrAnotherSizeIsAnErrorNotACast) {
  auto heap = Create();
  ASSERT_TRUE(heap.find_or_construct<Point>("p").ok());
  EXPECT_EQ(heap.find<Counted>("p").error(), Errc::type_mismatch);
  EXPECT_EQ(heap.find<int>("p").error(), Errc::type_mismatch);
  EXPECT_EQ(heap.find_or_construct<long>("p", 5L).error(), Errc::type_mismatch);
  EXPECT_EQ(heap.destroy<Counted>("p"), Errc::type_mismatch);
  EXPECT_TRUE(heap.find<const Point>("p").ok());  // constness is not a type of its own here

  // Same type name, another layout: what a program built from another version of the type
  // sees. The worker's Record has a field more than this program's.
  ASSERT_TRUE(heap.find_or_construct<talc_named_test::Record>("record").ok());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(TALC_NAMED_WORKER, TALC_NAMED_WORKER, "record", name_.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  EXPECT_EQ(talc_test::Wait(pid), 0) << "the worker did not get Errc::size_mismatch";
  EXPECT_TRUE(heap.find<talc_named_test::Record>("record").ok());
  ExpectSound(heap, 3);
}

TEST_F(Named, BlocksOfBytesAreMadeZeroedOnceThenFoundAndFreedWithTheirName) {
  auto heap = Create();
  EXPECT_EQ(heap.find_named("bytes").error(), Errc::not_found);
  const talc::Result<talc::Meta> a = heap.find_or_allocate_named("bytes", 1000, 64);
  ASSERT_TRUE(a.ok()) << talc::describe(a.error());
  EXPECT_EQ(a->size, 1000u);
  EXPECT_EQ(a->offset % 64, 0u);
  const auto* zero = a->as<unsigned char>();
  EXPECT_EQ(std::count(zero, zero + 1000, 0), 1000);
  std::memset(a->ptr(), 0x5a, 1000);
  // Found again, not remade: the same bytes, whatever the caller would have zeroed.
  const talc::Result<talc::Meta> b = heap.find_or_allocate_named("bytes", 1000, 64);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->offset, a->offset);
  EXPECT_EQ(b->as<unsigned char>()[999], 0x5a);
  const talc::Result<talc::Meta> found = heap.find_named("bytes");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->offset, a->offset);
  EXPECT_EQ(found->size, 1000u);
  ExpectSound(heap, 2);  // the directory's segment and the block

  // Another size or alignment, a typed find, a find of bytes on a typed object: refused.
  EXPECT_EQ(heap.find_or_allocate_named("bytes", 999).error(), Errc::size_mismatch);
  EXPECT_EQ(heap.find_or_allocate_named("bytes", 1000, 16).error(), Errc::size_mismatch);
  EXPECT_EQ(heap.find<Point>("bytes").error(), Errc::type_mismatch);
  ASSERT_TRUE(heap.find_or_construct<Point>("point").ok());
  EXPECT_EQ(heap.find_named("point").error(), Errc::type_mismatch);
  EXPECT_EQ(heap.find_or_allocate_named("point", sizeof(Point)).error(), Errc::type_mismatch);
  EXPECT_EQ(heap.destroy_named("point"), Errc::type_mismatch);
  // Requests no block can be: refused before the directory is touched.
  EXPECT_EQ(heap.find_or_allocate_named("zero", 0).error(), Errc::size_overflow);
  EXPECT_EQ(heap.find_or_allocate_named("odd", 8, 24).error(), Errc::bad_alignment);
  EXPECT_EQ(heap.find_or_allocate_named("huge", std::size_t{1} << 40).error(), Errc::out_of_memory);
  EXPECT_EQ(heap.find_named("").error(), Errc::empty_name);
  ExpectSound(heap, 3);

  EXPECT_EQ(heap.destroy_named("bytes"), Errc::ok);
  EXPECT_EQ(heap.find_named("bytes").error(), Errc::not_found);
  EXPECT_EQ(heap.destroy_named("bytes"), Errc::not_found);
  ExpectSound(heap, 2);
  EXPECT_EQ(heap.destroy<Point>("point"), Errc::ok);
  ExpectSound(heap, 1);
}

TEST_F(Named, AHeapLockHeldPastTheWaitLeavesANamedBlockWholeAndNamed) {
  // Another process holds the heap's lock in long stretches with short gaps, and this one waits
  // 1 ms at most: lookups and frees of a named block are refused now and then, with
  // lock_timeout, and each refusal must leave the name and its block as they were.
  talc::OpenOptions o;
  o.lock_wait = std::chrono::milliseconds(1);
  auto heap = MapTalc<>::create_shm(name_, 4 << 20, o);
  const pid_t holder = ::fork();
  if (holder == 0) {
    auto h = MapTalc<>::open_shm(name_);
    for (;;) {
      h.with_lock([](auto&) { std::this_thread::sleep_for(std::chrono::microseconds(1500)); });
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  // Killed however the test ends: an assertion returns early.
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid > 0) ::kill(pid, SIGKILL), talc_test::Wait(pid);
    }
  } reap{holder};
  int refused_frees = 0, made = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (refused_frees < 5 && std::chrono::steady_clock::now() < until) {
    const talc::Result<talc::Meta> r = heap.find_or_allocate_named("x", 64);
    ASSERT_TRUE(r.ok() || r.error() == Errc::lock_timeout) << talc::describe(r.error());
    if (!r) continue;
    ++made;
    const Errc d = heap.destroy_named("x");
    ASSERT_TRUE(d == Errc::ok || d == Errc::lock_timeout) << talc::describe(d);
    if (d == Errc::ok) continue;
    ++refused_frees;
    const talc::Result<talc::Meta> still = heap.find_named("x");
    ASSERT_TRUE(still.ok() || still.error() == Errc::lock_timeout) << talc::describe(still.error());
    if (still) {
      EXPECT_EQ(still->offset, r->offset);
    }
  }
  // A typed object's destroy refused for the lock: before the destructor (the object is still
  // there) or after it, when only the free was refused (then the name reads as gone, its free
  // finished by the next call that meets it). Never as damage.
  int refused_destroys = 0;
  until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (refused_destroys < 5 && std::chrono::steady_clock::now() < until) {
    const talc::Result<Point*> p = heap.find_or_construct<Point>("point");
    ASSERT_TRUE(p.ok() || p.error() == Errc::lock_timeout) << talc::describe(p.error());
    if (!p) continue;
    const Errc d = heap.destroy<Point>("point");
    ASSERT_TRUE(d == Errc::ok || d == Errc::lock_timeout) << talc::describe(d);
    if (d == Errc::ok) continue;
    ++refused_destroys;
    const talc::Result<Point*> gone = heap.find<Point>("point");
    ASSERT_TRUE(gone.ok() || gone.error() == Errc::not_found || gone.error() == Errc::lock_timeout)
        << talc::describe(gone.error());
  }
  ::kill(holder, SIGKILL);
  EXPECT_EQ(talc_test::Wait(holder), -SIGKILL);
  reap.pid = 0;
  EXPECT_GT(made, 0);
  // The names still work whatever happened: found or made, then freed with their names. (With
  // the default wait: the holder may have died holding the lock, which takes a slice to tell.)
  auto calm = MapTalc<>::open_shm(name_);
  ASSERT_TRUE(calm.find_or_allocate_named("x", 64).ok());
  EXPECT_EQ(calm.destroy_named("x"), Errc::ok);
  const Errc last = calm.destroy<Point>("point");
  EXPECT_TRUE(last == Errc::ok || last == Errc::not_found) << talc::describe(last);
  ExpectSound(calm, 1);
}

// Its destructor has another process take the heap's lock and hold it for a while: the free
// that follows the destructor is then refused for the lock.
struct LocksTheHeapAsItGoes {
  static inline std::string heap_name;
  static inline pid_t holder = 0;
  ~LocksTheHeapAsItGoes() {
    talc_test::Signal held;
    holder = ::fork();
    if (holder == 0) {
      auto h = MapTalc<>::open_shm(heap_name);
      h.with_lock([&](auto&) {
        held.Notify();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      });
      ::_exit(0);
    }
    held.Await();
  }
  int payload = 0;
};

TEST_F(Named, ADestroyWhoseFreeIsRefusedIsFinishedByTheNextCallOnTheName) {
  talc::OpenOptions o;
  o.lock_wait = std::chrono::milliseconds(1);
  auto heap = MapTalc<>::create_shm(name_, 4 << 20, o);
  LocksTheHeapAsItGoes::heap_name = name_;
  ASSERT_TRUE(heap.find_or_construct<LocksTheHeapAsItGoes>("goes").ok());
  // The destructor ran; the free was refused: the entry is left mid-destroy.
  EXPECT_EQ(heap.destroy<LocksTheHeapAsItGoes>("goes"), Errc::lock_timeout);
  EXPECT_EQ(talc_test::Wait(LocksTheHeapAsItGoes::holder), 0);
  // The next call on the name finishes the free: the name is gone, never damaged, and free for
  // a new object.
  EXPECT_EQ(heap.find<LocksTheHeapAsItGoes>("goes").error(), Errc::not_found);
  ExpectSound(heap, 1);
  EXPECT_TRUE(heap.find_or_construct<Point>("goes").ok());
  ExpectSound(heap, 2);
}

TEST_F(Named, ABlockOfBytesIsFoundByAnotherProcessAtItsOwnAddress) {
  auto heap = Create();
  const talc::Meta m = heap.find_or_allocate_named("shared", 256).value();
  std::memset(m.ptr(), 7, 256);
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto other = MapTalc<>::open_shm(name_);
    const talc::Result<talc::Meta> r = other.find_named("shared");
    const bool seen =
        r.ok() && r->offset == m.offset && r->size == 256 && r->as<unsigned char>()[255] == 7;
    ::_exit(seen && other.destroy_named("shared") == Errc::ok ? 0 : 1);
  }
  EXPECT_EQ(talc_test::Wait(pid), 0);
  EXPECT_EQ(heap.find_named("shared").error(), Errc::not_found);
  ExpectSound(heap, 1);
}

TEST_F(Named, EmptyAndOverlongNamesAreRefusedAndChangeNothing) {
  auto heap = Create();
  const std::string longest(talc::NamedDirectory<>::kMaxName, 'n');
  EXPECT_EQ(heap.find_or_construct<Point>("").error(), Errc::empty_name);
  EXPECT_EQ(heap.find_or_construct<Point>(longest + "n").error(), Errc::name_too_long);
  EXPECT_EQ(heap.find<Point>(longest + "n").error(), Errc::name_too_long);
  EXPECT_EQ(heap.destroy<Point>(""), Errc::empty_name);
  EXPECT_EQ(heap.census().live_chunks, 0u);
  ASSERT_TRUE(heap.find_or_construct<Point>(longest).ok());
  // Names are bytes: an embedded zero is part of the name.
  const std::string a("ab\0c", 4), b("ab\0d", 4);
  auto pa = heap.find_or_construct<Point>(a);
  auto pb = heap.find_or_construct<Point>(b);
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_NE(*pa, *pb);
  EXPECT_EQ(heap.find<Point>("ab").error(), Errc::not_found);
  ExpectSound(heap, 4);
}

TEST_F(Named, DestroyRunsTheDestructorAndFreesTheBlock) {
  auto heap = Create();
  std::atomic<int> made{0};
  ASSERT_TRUE(heap.find_or_construct<Counted>("c", &made).ok());
  struct Flag {
    explicit Flag(bool* f) : flag(f) {}
    ~Flag() { *flag = true; }
    bool* flag;
  };
  bool destroyed = false;
  ASSERT_TRUE(heap.find_or_construct<Flag>("flag", &destroyed).ok());
  const std::uint64_t live = heap.census().live_chunks;
  EXPECT_EQ(heap.destroy<Flag>("flag"), Errc::ok);
  EXPECT_TRUE(destroyed);
  EXPECT_EQ(heap.census().live_chunks, live - 1);
  EXPECT_EQ(heap.destroy<Flag>("flag"), Errc::not_found);
  EXPECT_EQ(heap.find<Flag>("flag").error(), Errc::not_found);
  EXPECT_EQ(heap.destroy<Counted>("c"), Errc::ok);
  ExpectSound(heap, 1);  // only the directory is left
  // The name is free again, for any type.
  EXPECT_TRUE(heap.find_or_construct<Point>("flag").ok());
  ExpectSound(heap, 2);
}

TEST_F(Named, ListGivesNameTypeSizeAndOffset) {
  auto heap = Create();
  EXPECT_TRUE(heap.named_objects().value().empty());
  Point* p = heap.find_or_construct<Point>("point").value();
  std::atomic<int> made{0};
  Counted* c = heap.find_or_construct<Counted>("counted", &made).value();
  const std::vector<talc::NamedInfo> all = heap.named_objects().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "point");
  EXPECT_EQ(all[0].type, talc::type_key<Point>());
  EXPECT_EQ(all[0].size, sizeof(Point));
  EXPECT_EQ(all[0].align, alignof(Point));
  EXPECT_EQ(all[0].offset, heap.offset_of(p));
  EXPECT_EQ(all[1].name, "counted");
  EXPECT_EQ(all[1].type, talc::type_key<Counted>());
  EXPECT_EQ(all[1].offset, heap.offset_of(c));
}

TEST_F(Named, ManyNamesGrowTheDirectoryAndAllAreFound) {
  auto heap = Create();
  constexpr int kNames = 100;
  std::set<Point*> seen;
  for (int i = 0; i < kNames; ++i) {
    Point* p = heap.find_or_construct<Point>("point-" + std::to_string(i)).value();
    p->x = i;
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kNames));
  for (int i = 0; i < kNames; ++i)
    EXPECT_EQ(heap.find<Point>("point-" + std::to_string(i)).value()->x, i);
  EXPECT_EQ(heap.named_objects().value().size(), static_cast<std::size_t>(kNames));
  constexpr std::uint64_t per = talc::NamedDirectory<>::kEntriesPerSegment;
  const std::uint64_t segments = (kNames + per - 1) / per;
  ExpectSound(heap, segments + kNames);
  for (int i = 0; i < kNames; i += 2)
    EXPECT_EQ(heap.destroy<Point>("point-" + std::to_string(i)), Errc::ok);
  ExpectSound(heap, segments + kNames / 2);
  // Freed entries are reused before the directory grows again.
  for (int i = 0; i < kNames; i += 2)
    ASSERT_TRUE(heap.find_or_construct<Point>("again-" + std::to_string(i)).ok());
  ExpectSound(heap, segments + kNames);
}

TEST_F(Named, AConstructorMayAllocateButNotReenterTheDirectory) {
  auto heap = Create();
  struct Owner {
    Owner(MapTalc<>& h, Errc* inner) {
      block = h.allocate(1000);  // the heap's lock is not the directory's
      *inner = h.find_or_construct<Point>("inner").error();
    }
    talc::Meta block;
  };
  Errc inner = Errc::ok;
  const talc::Result<Owner*> o = heap.find_or_construct<Owner>("owner", heap, &inner);
  ASSERT_TRUE(o.ok()) << talc::describe(o.error());
  EXPECT_EQ(inner, Errc::directory_reentered);
  EXPECT_EQ(heap.find<Point>("inner").error(), Errc::not_found);
  EXPECT_EQ(heap.deallocate((*o)->block), Errc::ok);
  ExpectSound(heap, 2);
}

TEST_F(Named, AThrowingConstructorLeavesNoEntryAndNoBlock) {
  auto heap = Create();
  struct Throws {
    Throws() { throw std::runtime_error("no"); }
  };
  EXPECT_THROW((void)heap.find_or_construct<Throws>("t"), std::runtime_error);
  EXPECT_EQ(heap.find<Throws>("t").error(), Errc::not_found);
  EXPECT_TRUE(heap.named_objects().value().empty());
  ExpectSound(heap, 1);
}

TEST_F(Named, EightProcessesRacingConstructExactlyOnce) {
  constexpr int kProcs = 8;
  auto heap = Create();
  struct Race {
    std::atomic<int> made{0};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::uint64_t offsets[kProcs] = {};
  };
  Race* race = SharedScratch<Race>();
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; ++i)
    pids.push_back(talc_test::Spawn([&, i] {
      auto mine = MapTalc<>::open_shm(name_);  // another address
      race->ready.fetch_add(1);
      while (!race->go.load()) std::this_thread::yield();
      // The directory does not exist yet either: its creation is raced too.
      const talc::Result<Counted*> c = mine.find_or_construct<Counted>("once", &race->made, i);
      if (!c) return 1;
      race->offsets[i] = mine.offset_of(*c);
      return 0;
    }));
  while (race->ready.load() < kProcs) std::this_thread::yield();
  race->go.store(true);
  for (pid_t pid : pids) EXPECT_EQ(talc_test::Wait(pid), 0);
  EXPECT_EQ(race->made.load(), 1);
  const talc::Result<Counted*> c = heap.find<Counted>("once");
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < kProcs; ++i) EXPECT_EQ(race->offsets[i], heap.offset_of(*c));
  EXPECT_EQ(heap.named_objects().value().size(), 1u);
  ExpectSound(heap, 2);
  FreeScratch(race);
}

// Threads of one process share the directory as processes do (named "Threads" so that the
// thread sanitizer's run includes it).
TEST(Threads, NamedObjectsFromManyThreadsAreBuiltOnceEach) {
  constexpr int kThreads = 8, kNames = 20;
  auto heap = MapTalc<>::anonymous(4 << 20);
  std::atomic<int> made{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<Counted*>> got(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kNames; ++i) {
        const int n = (i + t) % kNames;  // each thread starts elsewhere
        got[t].push_back(heap.find_or_construct<Counted>(NameOf("c", n * 7), &made, n).value());
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(made.load(), kNames);
  for (int i = 0; i < kNames; ++i) {
    Counted* c = heap.find<Counted>(NameOf("c", i * 7)).value();
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->value, i);
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[t][(i - t + kNames) % kNames], c);
  }
  EXPECT_TRUE(heap.check().ok());
  EXPECT_EQ(heap.census().live_chunks, 2u + kNames);  // two segments
}

TEST_F(Named, AProcessKilledInAConstructorLeavesNoEntryAndNoBlock) {
  auto heap = Create();
  ASSERT_TRUE(heap.find_or_construct<Point>("before").ok());
  talc_test::Signal inside;
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);
    (void)mine.find_or_construct<Stuck>("stuck", &inside);
    return 0;
  });
  ASSERT_TRUE(inside.Await());
  ::kill(child, SIGKILL);
  EXPECT_EQ(talc_test::Wait(child), -SIGKILL);
  EXPECT_EQ(heap.census().live_chunks, 3u);  // the half-built object's block, until repaired

  // The next directory user repairs: no half-built object is visible, its block is free.
  EXPECT_EQ(heap.find<Stuck>("stuck").error(), Errc::not_found);
  ExpectSound(heap, 2);
  EXPECT_TRUE(heap.find<Point>("before").ok());
  const talc::Result<Stuck*> s = heap.find_or_construct<Stuck>("stuck", nullptr);
  EXPECT_TRUE(s.ok());
  ExpectSound(heap, 3);
}

TEST_F(Named, AProcessKilledInADestructorLeavesNoEntryAndNoBlock) {
  auto heap = Create();
  talc_test::Signal inside;
  Stuck* s = heap.find_or_construct<Stuck>("stuck", nullptr).value();
  s->stuck_in_destructor = &inside;  // the child's copy of this process's memory has it too
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);
    (void)mine.destroy<Stuck>("stuck");
    return 0;
  });
  ASSERT_TRUE(inside.Await());
  ::kill(child, SIGKILL);
  EXPECT_EQ(talc_test::Wait(child), -SIGKILL);
  EXPECT_EQ(heap.named_objects().value().size(), 0u);
  ExpectSound(heap, 1);
}

TEST_F(Named, ACreatorKilledBeforePublishingTheDirectoryIsReclaimed) {
  auto heap = Create();
  using Dir = talc::NamedDirectory<>;
  // A child claims the directory word, allocates the marked segment (one atomic heap
  // operation, as the real creator does) and dies before publishing it.
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);
    const std::uint64_t claim = Dir::claim_word(static_cast<std::uint32_t>(::getpid()), 5);
    if (!mine.header().exchange_directory(mine.header().directory(), claim)) return 1;
    talc::Result<void*> r = Errc::corrupted;
    mine.with_lock(
        [&](auto& m) { r = m.allocate_marked(talc::named_detail::kSegmentBytes, 64, claim); });
    return r.ok() ? 0 : 2;
  });
  ASSERT_EQ(talc_test::Wait(child), 0);
  EXPECT_EQ(heap.census().live_chunks, 1u);  // the orphan

  std::atomic<int> made{0};
  ASSERT_TRUE(heap.find_or_construct<Counted>("c", &made).ok());
  ExpectSound(heap, 2);  // the orphan was freed; a new directory and the object

  // A creator that died before even allocating leaves only its claim.
  auto other = MapTalc<>::create_shm(name_ + "b", 1 << 20);
  MapTalc<>::remove_shm(name_ + "b");
  const pid_t gone = talc_test::Spawn([] { return 0; });
  ASSERT_EQ(talc_test::Wait(gone), 0);
  ASSERT_TRUE(other.header().exchange_directory(
      other.header().directory(), Dir::claim_word(static_cast<std::uint32_t>(gone), 1)));
  ASSERT_TRUE(other.find_or_construct<Point>("p").ok());
  ExpectSound(other, 2);
}

// Every live block of the heap is either a directory segment or the block of a listed object,
// and the heap is consistent: nothing leaked, nothing listed twice.
void ExpectEveryBlockNamed(MapTalc<>& heap) {
  const std::vector<talc::NamedInfo> all = heap.named_objects().value();  // repairs first
  EXPECT_FALSE(heap.corrupted());
  const talc::CheckReport rep = heap.check();
  ASSERT_TRUE(rep.ok()) << rep.what << " at " << rep.offset;
  std::set<std::uint64_t> objects;
  for (const talc::NamedInfo& i : all) EXPECT_TRUE(objects.insert(i.offset).second) << i.name;
  std::uint64_t segments = 0, unnamed = 0;
  heap.with_lock([&](auto& m) {
    m.for_each_chunk([&](talc::Chunk c, bool allocated) {
      const auto* user = static_cast<const std::byte*>(m.address_of(c.user()));
      if (!allocated || heap.heap().in_lanes(m, user)) return;  // not a user's
      std::uint64_t magic;
      std::memcpy(&magic, user + 8, sizeof magic);
      if (magic == talc::named_detail::kSegmentMagic) {
        ++segments;
      } else if (objects.count(heap.offset_of(user)) == 0) {
        ++unnamed;
      }
    });
  });
  EXPECT_GE(segments, 1u);
  EXPECT_EQ(unnamed, 0u) << "blocks that nothing names";
  EXPECT_EQ(heap.census().live_chunks, segments + all.size());
}

// Processes that build and destroy named objects are killed at random instants (inside the
// directory's lock, inside the heap's, anywhere). After all of it the directory and the heap
// account for every block exactly: the directory's one segment and one block per listed name.
TEST_F(Named, KillsAtRandomInstantsLeaveAnExactAccount) {
  constexpr int kNames = 12;  // fewer than a segment holds: the directory stays one block
  constexpr int kKills = 40;
  auto heap = Create();
  ASSERT_TRUE(heap.find_or_construct<Point>("seed").ok());
  std::mt19937_64 rng(12345);
  int killed = 0;
  for (int k = 0; k < kKills; ++k) {
    const std::uint64_t seed = rng();
    const talc_test::Signal opened;  // the kill lands in the work, not in the open
    const pid_t child = talc_test::Spawn([&] {
      auto mine = MapTalc<>::open_shm(name_);
      opened.Notify();
      std::mt19937_64 r(seed);
      for (;;) {
        const std::string n = NameOf("n", static_cast<int>(r() % kNames));
        if (r() % 2 == 0) {
          (void)mine.find_or_construct<Point>(n);
        } else {
          (void)mine.destroy<Point>(n);
        }
      }
      return 0;
    });
    ASSERT_TRUE(opened.Await());
    std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 3000));
    ::kill(child, SIGKILL);
    if (talc_test::Wait(child) == -SIGKILL) ++killed;
  }
  EXPECT_EQ(killed, kKills);
  const std::vector<talc::NamedInfo> all = heap.named_objects().value();  // repairs first
  EXPECT_FALSE(heap.corrupted());
  ExpectSound(heap, 1 + all.size());
  ExpectEveryBlockNamed(heap);
  for (const talc::NamedInfo& i : all) {
    EXPECT_TRUE(heap.find<Point>(i.name).ok()) << i.name;
    EXPECT_EQ(heap.destroy<Point>(i.name), Errc::ok);
  }
  ExpectSound(heap, 1);
}

// The same with more names than a segment holds, so that deaths also land while the directory
// grows (a segment allocated into its predecessor's link, then initialised), and with larger
// objects whose constructor writes every byte.
TEST_F(Named, KillsWhileTheDirectoryGrowsLeaveEveryBlockNamed) {
  constexpr int kNames = 50;
  constexpr int kKills = 40;
  struct Big {
    Big() { std::memset(bytes, 0x6b, sizeof bytes); }
    unsigned char bytes[3000];
  };
  auto heap = Create(8 << 20);
  std::mt19937_64 rng(777);
  for (int k = 0; k < kKills; ++k) {
    const std::uint64_t seed = rng();
    const talc_test::Signal opened;  // the kill lands in the work, not in the open
    const pid_t child = talc_test::Spawn([&] {
      auto mine = MapTalc<>::open_shm(name_);
      opened.Notify();
      std::mt19937_64 r(seed);
      for (;;) {
        const std::string n = NameOf("big", static_cast<int>(r() % kNames));
        if (r() % 3 != 0) {
          (void)mine.find_or_construct<Big>(n);
        } else {
          (void)mine.destroy<Big>(n);
        }
      }
      return 0;
    });
    ASSERT_TRUE(opened.Await());
    std::this_thread::sleep_for(std::chrono::microseconds(300 + rng() % 4000));
    ::kill(child, SIGKILL);
    EXPECT_EQ(talc_test::Wait(child), -SIGKILL);
  }
  ExpectEveryBlockNamed(heap);
  const std::vector<talc::NamedInfo> all = heap.named_objects().value();
  for (const talc::NamedInfo& i : all) {
    const Big* b = heap.find<Big>(i.name).value();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->bytes[0], 0x6b);  // listed means fully built
    EXPECT_EQ(b->bytes[sizeof b->bytes - 1], 0x6b);
  }
  EXPECT_GT(all.size(), 15u) << "the directory never grew";
}

// A process that dies holding the directory's lock right after growing it (the new segment is
// linked but still holds whatever bytes its chunk had) leaves a segment the next holder
// initialises; it is then used, not leaked.
TEST_F(Named, ASegmentLeftUninitialisedByADeadGrowerIsInitialisedAndUsed) {
  using talc::named_detail::Segment;
  auto heap = Create();
  ASSERT_TRUE(heap.find_or_construct<Point>("first").ok());
  const pid_t child = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);
    const std::uint64_t root = mine.header().directory();
    auto* seg = static_cast<Segment*>(mine.address_of(root));
    if (seg->lock.lock() != talc::LockOutcome::acquired) return 1;
    const talc::Meta owner{mine.base(), root, sizeof(Segment)};
    const talc::Result<talc::Meta> grown =
        mine.try_allocate_into(owner, offsetof(Segment, next) / 8, sizeof(Segment), 64);
    if (!grown) return 2;
    std::memset(grown->ptr(), 0x5a, sizeof(Segment));  // a chunk's old bytes
    ::_exit(0);  // dies holding the lock, its mapping still there (as a crash would)
  });
  ASSERT_EQ(talc_test::Wait(child), 0);
  ExpectSound(heap, 3);
  EXPECT_EQ(heap.named_objects().value().size(), 1u);  // repaired: the segment is empty
  ExpectEveryBlockNamed(heap);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(heap.find_or_construct<Point>("point-" + std::to_string(i)).ok());
  ExpectSound(heap, 2 + 21);  // the 21 objects fit the two segments: no third one
  ExpectEveryBlockNamed(heap);
}

TEST_F(Named, ADirectoryWordThatNamesNoSegmentIsRefused) {
  auto heap = Create();
  const talc::Meta junk = heap.allocate(4096, 64);
  std::memset(junk.ptr(), 0x5a, 4096);
  ASSERT_TRUE(heap.header().exchange_directory(heap.header().directory(), junk.offset));
  EXPECT_EQ(heap.find<Point>("p").error(), Errc::corrupted);
  ASSERT_TRUE(heap.header().exchange_directory(junk.offset, heap.size() + 64));
  EXPECT_EQ(heap.find_or_construct<Point>("p").error(), Errc::corrupted);
  ASSERT_TRUE(heap.header().exchange_directory(heap.size() + 64, 128 + 64));  // the heap's metadata
  EXPECT_EQ(heap.find<Point>("p").error(), Errc::corrupted);
  EXPECT_TRUE(heap.check().ok());  // refused before anything was written
}

}  // namespace
