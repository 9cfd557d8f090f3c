// OffsetPtr: a self-relative pointer, checked as a pointer (null, arithmetic, comparisons,
// conversions, the traits containers ask for) and as a link inside a region mapped twice.
#include "talc/offset_ptr.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <memory>
#include <type_traits>

#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::OffsetPtr;

struct Base {
  int b = 1;
};
struct Derived : Base {
  int d = 2;
};

static_assert(std::is_same_v<std::pointer_traits<OffsetPtr<int>>::element_type, int>);
static_assert(std::is_same_v<std::pointer_traits<OffsetPtr<int>>::rebind<char>, OffsetPtr<char>>);
static_assert(std::is_same_v<std::iterator_traits<OffsetPtr<int>>::iterator_category,
                             std::random_access_iterator_tag>);
static_assert(std::is_same_v<std::iterator_traits<OffsetPtr<const int>>::value_type, int>);
static_assert(std::is_convertible_v<OffsetPtr<int>, OffsetPtr<const int>>);
static_assert(!std::is_convertible_v<OffsetPtr<const int>, OffsetPtr<int>>);
static_assert(std::is_convertible_v<OffsetPtr<Derived>, OffsetPtr<Base>>);
static_assert(!std::is_convertible_v<OffsetPtr<Base>, OffsetPtr<Derived>>);
static_assert(std::is_constructible_v<OffsetPtr<Derived>, OffsetPtr<Base>>);  // explicitly
static_assert(std::is_convertible_v<OffsetPtr<int>, OffsetPtr<void>>);
static_assert(!std::is_trivially_copyable_v<OffsetPtr<int>>, "a copy must recompute");

TEST(OffsetPtr, NullIsDistinctFromEveryRealTarget) {
  OffsetPtr<int> p;
  EXPECT_FALSE(p);
  EXPECT_TRUE(!p);
  EXPECT_EQ(p.get(), nullptr);
  EXPECT_TRUE(p == nullptr);
  EXPECT_EQ(p.raw_distance(), OffsetPtr<int>::kNull);
  OffsetPtr<int> q = nullptr;
  EXPECT_EQ(p, q);

  // A pointer to its own address has distance 0 and is not null.
  alignas(OffsetPtr<void>) std::byte storage[sizeof(OffsetPtr<void>)];
  auto* self = ::new (storage) OffsetPtr<void>();
  *self = static_cast<void*>(storage);
  EXPECT_EQ(self->raw_distance(), 0);
  EXPECT_TRUE(*self);
  EXPECT_EQ(self->get(), static_cast<void*>(storage));
  self->~OffsetPtr();
}

TEST(OffsetPtr, ArithmeticAndComparisonsActLikeARawPointer) {
  int a[10];
  for (int i = 0; i < 10; ++i) a[i] = i * i;
  OffsetPtr<int> p = a;
  EXPECT_EQ(*p, 0);
  EXPECT_EQ(p[3], 9);
  OffsetPtr<int> q = p + 4;
  EXPECT_EQ(*q, 16);
  EXPECT_EQ(q - p, 4);
  EXPECT_EQ(*(2 + p), 4);
  EXPECT_EQ(*(q - 1), 9);
  ++q;
  EXPECT_EQ(q.get(), a + 5);
  EXPECT_EQ((q++).get(), a + 5);
  EXPECT_EQ(q.get(), a + 6);
  EXPECT_EQ((q--).get(), a + 6);
  --q;
  EXPECT_EQ(q.get(), a + 4);
  q += 3;
  EXPECT_EQ(q.get(), a + 7);
  q -= 7;
  EXPECT_EQ(q, p);
  EXPECT_LT(p, p + 1);
  EXPECT_GT(p + 2, p + 1);
  EXPECT_TRUE(p + 1 != p);
  EXPECT_TRUE(p == a);
  EXPECT_TRUE(p < a + 1);
  const OffsetPtr<const int> c = p;  // T* -> const T*
  EXPECT_EQ(c, p);
  EXPECT_EQ(c[9], 81);

  Derived d;
  OffsetPtr<Derived> pd = &d;
  OffsetPtr<Base> pb = pd;  // derived -> base
  EXPECT_EQ(pb.get(), static_cast<Base*>(&d));
  EXPECT_EQ(pb->b, 1);
  OffsetPtr<Derived> back(pb);  // base -> derived, explicitly
  EXPECT_EQ(back->d, 2);
  EXPECT_EQ(talc::static_pointer_cast<Derived>(pb), pd);

  OffsetPtr<void> v = p;
  EXPECT_EQ(talc::static_pointer_cast<int>(v), p);
  EXPECT_EQ(std::pointer_traits<OffsetPtr<int>>::pointer_to(a[7]).get(), a + 7);
  EXPECT_EQ(std::to_address(p + 2), a + 2);
}

TEST(OffsetPtr, ACopyPointsWhereTheOriginalPoints) {
  int x = 5;
  struct Holder {
    OffsetPtr<int> p;
  };
  Holder h1{&x};
  Holder h2 = h1;
  EXPECT_EQ(h2.p.get(), &x);
  EXPECT_NE(h1.p.raw_distance(), h2.p.raw_distance());  // distances from two places differ
  Holder h3;
  h3 = h2;
  EXPECT_EQ(h3.p.get(), &x);
  // Bytes copied, not the object: the distance is now measured from elsewhere.
  alignas(Holder) std::byte raw[sizeof(Holder)];
  std::memcpy(raw, &h1, sizeof h1);
  EXPECT_NE(std::launder(reinterpret_cast<Holder*>(raw))->p.get(), &x);
}

// Inside a region, a link made through one mapping is followed through another mapping of the
// same bytes at another address.
TEST(OffsetPtr, LinksInARegionHoldInASecondMappingAtAnotherAddress) {
  const std::string name = talc_test::UniqueShmName("offptr");
  auto a = talc::MapTalc<>::create_shm(name, 1 << 20);
  talc::MapTalc<>::remove_shm(name);
  struct Node {
    int value;
    OffsetPtr<Node> next;
  };
  Node* first = nullptr;
  Node* prev = nullptr;
  for (int i = 0; i < 5; ++i) {
    Node* n = a.construct<Node>(Node{i * 10, nullptr});
    if (prev != nullptr) prev->next = n;
    if (first == nullptr) first = n;
    prev = n;
  }
  talc::Mapping second = a.region().map_again();
  ASSERT_NE(second.base(), a.base());
  const auto shift = static_cast<std::byte*>(second.base()) - a.base();
  const auto* seen =
      reinterpret_cast<const Node*>(reinterpret_cast<const std::byte*>(first) + shift);
  int count = 0;
  for (const Node* n = seen; n != nullptr; n = n->next.get(), ++count) {
    EXPECT_EQ(n->value, count * 10);
    const auto* at = reinterpret_cast<const std::byte*>(n);
    EXPECT_GE(at, static_cast<const std::byte*>(second.base()));  // stays in the second mapping
    EXPECT_LT(at, static_cast<const std::byte*>(second.base()) + second.size());
  }
  EXPECT_EQ(count, 5);
  // A pointer built through the second mapping reads back in the first one.
  auto* tail2 = reinterpret_cast<Node*>(reinterpret_cast<std::byte*>(prev) + shift);
  tail2->next = const_cast<Node*>(seen);  // a cycle, made through mapping 2
  EXPECT_EQ(prev->next.get(), first);
  // Null stays null in both.
  tail2->next = nullptr;
  EXPECT_FALSE(prev->next);
}

}  // namespace
