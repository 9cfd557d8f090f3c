// Containers in the shared heap: Boost.Container's vector, string, map and flat_map with
// talc::Allocator, built under a name by one process and read, in place, by another that maps
// the region elsewhere; and std::pmr containers over talc::MemoryResource.
#include <gtest/gtest.h>

#include <memory_resource>
#include <new>
#include <string>
#include <vector>

#include "support/named_types.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;
using namespace talc_named_test;

class Containers : public ::testing::Test {
 protected:
  void TearDown() override { MapTalc<>::remove_shm(name_); }
  MapTalc<> Create(std::size_t size = 16 << 20) { return MapTalc<>::create_shm(name_, size); }

  // The map and flat_map the reader checks (see named_types.hpp).
  static void Fill(MapTalc<>& heap) {
    const talc::Allocator<int> alloc(heap);
    Map* map = heap.find_or_construct<Map>("table", alloc).value();
    FlatMap* index = heap.find_or_construct<FlatMap>("index", alloc).value();
    for (int i = 0; i < kMapKeys; ++i) {
      const std::string key = KeyOf(i);
      IntVec values(alloc);
      for (int v : ValuesOf(i)) values.push_back(v);
      map->emplace(String(key.c_str(), alloc), std::move(values));
      index->emplace(i, String(key.c_str(), alloc));
    }
  }

  std::string name_ = talc_test::UniqueShmName("containers");
};

TEST_F(Containers, AllocatorIsAStorableStatefulAllocator) {
  auto heap = Create(1 << 20);
  talc::Allocator<int> a(heap);
  talc::Allocator<double> b(a);  // rebinding keeps the heap
  EXPECT_TRUE(a == b);
  static_assert(
      std::is_same_v<std::allocator_traits<talc::Allocator<int>>::pointer, talc::OffsetPtr<int>>);
  static_assert(std::is_same_v<std::allocator_traits<talc::Allocator<int>>::rebind_alloc<char>,
                               talc::Allocator<char>>);
  talc::OffsetPtr<double> p = b.allocate(10);
  EXPECT_TRUE(heap.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(heap.offset_of(p.get())),
                                       10 * sizeof(double)))
                  .ok());
  b.deallocate(p, 10);
  EXPECT_EQ(heap.census().live_chunks, 0u);
  EXPECT_THROW((void)a.allocate(2 << 20), std::bad_alloc);       // more than the heap holds
  EXPECT_THROW((void)a.allocate(SIZE_MAX / 2), std::bad_alloc);  // n * sizeof(T) overflows

  // An allocator stored in the region (inside a container there) still names the heap.
  auto other = MapTalc<>::create_shm(name_ + "x", 1 << 20);
  MapTalc<>::remove_shm(name_ + "x");
  EXPECT_FALSE(a == talc::Allocator<int>(other));
  auto* stored = heap.construct<talc::Allocator<int>>(a);
  EXPECT_TRUE(*stored == a);
  EXPECT_EQ(&stored->header(), &heap.header());
  EXPECT_TRUE(heap.check().ok());
}

TEST_F(Containers, VectorStringMapAndFlatMapLiveInTheHeap) {
  auto heap = Create();
  Fill(heap);
  Map& map = *heap.find<Map>("table").value();
  ASSERT_EQ(map.size(), static_cast<std::size_t>(kMapKeys));
  for (int i = 0; i < kMapKeys; ++i) {
    const auto it = map.find(String(KeyOf(i).c_str(), map.get_allocator()));
    ASSERT_NE(it, map.end());
    const std::vector<int> want = ValuesOf(i);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), it->second.begin(), it->second.end()));
    // The elements are the heap's blocks, not this process's.
    const auto* at = reinterpret_cast<const std::byte*>(it->second.data());
    EXPECT_GE(at, heap.base());
    EXPECT_LT(at, heap.base() + heap.size());
  }
  EXPECT_GT(heap.census().live_chunks, 3u * kMapKeys);
  EXPECT_TRUE(heap.check().ok());
  // Destroying the containers gives every node, string and vector back.
  EXPECT_EQ(heap.destroy<Map>("table"), Errc::ok);
  EXPECT_EQ(heap.destroy<FlatMap>("index"), Errc::ok);
  EXPECT_TRUE(heap.check().ok());
  EXPECT_EQ(heap.census().live_chunks, 1u);  // the directory alone
}

// THE test of the adaptors: a separate program finds the map by name at its own address and
// checks every element.
TEST_F(Containers, ASeparateProgramFindsTheMapByNameAndReadsEveryElement) {
  auto heap = Create();
  Fill(heap);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(TALC_NAMED_WORKER, TALC_NAMED_WORKER, "read-map", name_.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  EXPECT_EQ(talc_test::Wait(pid), 0);
}

// A forked process changes the containers through its own mapping; the creator sees it.
TEST_F(Containers, AnotherProcessGrowsTheContainersAndTheCreatorSeesIt) {
  auto heap = Create();
  Fill(heap);
  const pid_t pid = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name_);
    Map* map = mine.find<Map>("table").value();
    const talc::Allocator<int> alloc(mine);
    for (auto& [key, values] : *map) values.push_back(-1);
    // try_emplace, not operator[]: a vector whose allocator names a heap has no default.
    map->try_emplace(String("added", alloc), alloc).first->second.assign(1000, 5);
    return map->size() == kMapKeys + 1 ? 0 : 1;
  });
  ASSERT_EQ(talc_test::Wait(pid), 0);
  Map& map = *heap.find<Map>("table").value();
  EXPECT_EQ(map.size(), static_cast<std::size_t>(kMapKeys + 1));
  const auto added = map.find(String("added", map.get_allocator()));
  ASSERT_NE(added, map.end());
  EXPECT_EQ(added->second.size(), 1000u);
  for (const auto& [key, values] : map) {
    if (key != String("added", map.get_allocator())) {
      EXPECT_EQ(values.back(), -1);
    }
  }
  EXPECT_TRUE(heap.check().ok());
  EXPECT_EQ(heap.destroy<Map>("table"), Errc::ok);
  EXPECT_EQ(heap.destroy<FlatMap>("index"), Errc::ok);
  EXPECT_EQ(heap.census().live_chunks, 1u);
}

// Two mappings in one process: the allocator stored in a container resolves, through each
// mapping, to that mapping's heap.
TEST_F(Containers, ASecondMappingReadsAndGrowsTheSameContainers) {
  auto heap = Create();
  Fill(heap);
  talc::Mapping second = heap.region().map_again();
  auto view = talc::Talc<>::open(second.base(), second.size(), talc::OpenRole::attach);
  Map* there = view.find<Map>("table").value();
  Map* here = heap.find<Map>("table").value();
  ASSERT_NE(static_cast<void*>(there), static_cast<void*>(here));
  EXPECT_EQ(&there->get_allocator().header(), &view.header());
  IntVec& v = there->find(String(KeyOf(3).c_str(), there->get_allocator()))->second;
  for (int k = 0; k < 500; ++k) v.push_back(k);  // reallocates through mapping 2
  const IntVec& w = here->find(String(KeyOf(3).c_str(), here->get_allocator()))->second;
  ASSERT_EQ(w.size(), ValuesOf(3).size() + 500);
  EXPECT_EQ(w.back(), 499);
  EXPECT_TRUE(heap.check().ok());
}

TEST_F(Containers, PmrContainersDrawFromTheHeap) {
  auto heap = Create(1 << 20);
  talc::MemoryResource<> res(heap);
  {
    std::pmr::vector<std::pmr::string> v(&res);
    for (int i = 0; i < 100; ++i) v.emplace_back(std::string(50, static_cast<char>('a' + i % 26)));
    EXPECT_GT(heap.census().live_chunks, 100u);
    const auto* at = reinterpret_cast<const std::byte*>(v[42].data());
    EXPECT_GE(at, heap.base());
    EXPECT_LT(at, heap.base() + heap.size());
    EXPECT_EQ(std::string_view(v[27]), std::string(50, 'b'));
  }
  EXPECT_EQ(heap.census().live_chunks, 0u);
  talc::MemoryResource<> same(heap);
  EXPECT_TRUE(res.is_equal(same));
  EXPECT_FALSE(res.is_equal(*std::pmr::new_delete_resource()));
  EXPECT_THROW((void)res.allocate(2 << 20), std::bad_alloc);
  EXPECT_TRUE(heap.check().ok());
}

}  // namespace

namespace {

// Containers in a heap that may grow: their allocator grows the region as Talc's calls do,
// and a process that opened the region earlier reads what landed in the new space.
TEST_F(Containers, ContainersGrowTheRegionTheyLiveIn) {
  talc::OpenOptions o;
  o.max_size = 64 << 20;
  auto heap = MapTalc<>::create_shm(name_, 1 << 20, o);
  auto early = MapTalc<>::open_shm(name_);  // before any growth
  const talc::Allocator<int> alloc(heap);
  IntVec* v = heap.find_or_construct<IntVec>("big", alloc).value();
  for (int i = 0; i < (1 << 20); ++i) v->push_back(i);  // 4 MiB of ints, and the regrowths
  EXPECT_GT(heap.current_size(), std::uint64_t{1} << 20);
  EXPECT_GE(heap.stats().growths, 1u);
  const IntVec* seen = early.find<IntVec>("big").value();
  ASSERT_EQ(seen->size(), std::size_t{1} << 20);
  for (int i = 0; i < (1 << 20); i += 4099) ASSERT_EQ((*seen)[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(heap.destroy<IntVec>("big"), Errc::ok);
  EXPECT_TRUE(heap.check().ok());
}

}  // namespace
