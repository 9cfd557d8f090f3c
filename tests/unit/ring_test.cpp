// OffsetRing's waiting calls between threads of one process: a sleeper is woken by the other
// end, a bound is honoured, a closed end is told apart, and a ring nobody sleeps on makes no
// futex call (futex_testing::wakes counts them). Processes that die are in
// multiprocess/ring_test.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "talc/offset_ring.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::RelMeta;
using talc::RingEnd;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using SmallRing = talc::OffsetRing<4>;

// A handle the ring carries: the ring never reads what it names.
RelMeta Handle(std::uint64_t i) {
  return RelMeta(talc::Rel<std::byte>::from_offset(4096 * (i + 1)), i + 1);
}

std::uint64_t Wakes() {
  return talc::futex_testing::wakes.load();
}

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// How late a wait may end on a machine that runs other work: the scheduler's delays, not ours.
constexpr double kSlackMs = 500;

TEST(Ring, TryPushAndTryPopKeepTheirMeaning) {
  auto r = std::make_unique<SmallRing>();
  EXPECT_FALSE(r->try_pop());
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(r->try_push(Handle(i)));
  EXPECT_FALSE(r->try_push(Handle(9)));  // full
  EXPECT_EQ(r->size(), 4u);
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_EQ(r->try_pop(), Handle(i));
  EXPECT_FALSE(r->try_pop());
}

TEST(Ring, APopAsleepIsWokenByAPush) {
  auto r = std::make_unique<SmallRing>();
  const std::uint64_t wakes = Wakes();
  talc::Result<RelMeta> got = Errc::corrupted;
  double waited = 0;
  std::thread consumer([&] {
    const auto t0 = Clock::now();
    got = r->pop(std::chrono::seconds(20));
    waited = MsSince(t0);
  });
  std::this_thread::sleep_for(milliseconds(100));  // long past the spin: asleep
  ASSERT_EQ(r->push(Handle(7), milliseconds(0)), Errc::ok);
  consumer.join();
  ASSERT_TRUE(got) << talc::name_of(got.error());
  EXPECT_EQ(*got, Handle(7));
  EXPECT_GE(waited, 90);
  EXPECT_LT(waited, 100 + kSlackMs);
  EXPECT_GE(Wakes(), wakes + 1) << "the push found a sleeper and woke it";
}

TEST(Ring, APushAsleepOnAFullRingIsWokenByAPop) {
  auto r = std::make_unique<SmallRing>();
  for (std::uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(r->try_push(Handle(i)));
  const std::uint64_t wakes = Wakes();
  Errc pushed = Errc::corrupted;
  double waited = 0;
  std::thread producer([&] {
    const auto t0 = Clock::now();
    pushed = r->push(Handle(4), std::chrono::seconds(20));
    waited = MsSince(t0);
  });
  std::this_thread::sleep_for(milliseconds(100));
  ASSERT_EQ(r->pop(milliseconds(0)).value(), Handle(0));
  producer.join();
  EXPECT_EQ(pushed, Errc::ok);
  EXPECT_GE(waited, 90);
  EXPECT_LT(waited, 100 + kSlackMs);
  EXPECT_GE(Wakes(), wakes + 1);
  for (std::uint64_t i = 1; i <= 4; ++i) EXPECT_EQ(r->try_pop(), Handle(i));
}

TEST(Ring, ABoundIsHonoured) {
  auto r = std::make_unique<SmallRing>();
  for (const milliseconds bound : {milliseconds(30), milliseconds(200)}) {
    auto t0 = Clock::now();
    EXPECT_EQ(r->pop(bound).error(), Errc::timed_out);
    double ms = MsSince(t0);
    EXPECT_GE(ms, bound.count());
    EXPECT_LT(ms, bound.count() + kSlackMs);

    for (std::uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(r->try_push(Handle(i)));
    t0 = Clock::now();
    EXPECT_EQ(r->push(Handle(9), bound), Errc::timed_out);
    ms = MsSince(t0);
    EXPECT_GE(ms, bound.count());
    EXPECT_LT(ms, bound.count() + kSlackMs);
    while (r->try_pop()) {
    }
  }
}

TEST(Ring, AZeroBoundIsAPoll) {
  auto r = std::make_unique<SmallRing>();
  const auto t0 = Clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(r->pop(milliseconds(0)).error(), Errc::timed_out);
  EXPECT_LT(MsSince(t0), 1000.0) << "a thousand polls, well under a millisecond each";
  ASSERT_EQ(r->push(Handle(1), milliseconds(0)), Errc::ok);
  EXPECT_EQ(r->pop(milliseconds(0)).value(), Handle(1));
}

// The fast path: with nobody asleep, neither end makes a futex call, blocking form or not, and
// a sleeper that left leaves none behind it.
TEST(Ring, NoSleeperNoWakeCall) {
  auto r = std::make_unique<SmallRing>();
  const std::uint64_t before = Wakes();
  for (std::uint64_t i = 0; i < 10000; ++i) {
    ASSERT_EQ(r->push(Handle(i), talc::kWaitForever), Errc::ok);
    ASSERT_TRUE(r->try_push(Handle(i)));
    ASSERT_EQ(r->pop(talc::kWaitForever).value(), Handle(i));
    ASSERT_TRUE(r->try_pop());
  }
  EXPECT_EQ(Wakes(), before);

  EXPECT_EQ(r->pop(milliseconds(20)).error(), Errc::timed_out);  // slept, then left
  for (std::uint64_t i = 0; i < 100; ++i) {
    ASSERT_EQ(r->push(Handle(i), milliseconds(0)), Errc::ok);
    ASSERT_TRUE(r->try_pop());
  }
  EXPECT_EQ(Wakes(), before) << "a sleeper that timed out left its count raised";
}

TEST(Ring, AClosedProducerEndsTheStreamAfterItsBlocks) {
  auto r = std::make_unique<SmallRing>();
  for (std::uint64_t i = 0; i < 3; ++i) ASSERT_EQ(r->push(Handle(i), milliseconds(0)), Errc::ok);
  r->close(RingEnd::producer);
  EXPECT_TRUE(r->closed(RingEnd::producer));
  for (std::uint64_t i = 0; i < 3; ++i) EXPECT_EQ(r->pop(milliseconds(0)).value(), Handle(i));
  EXPECT_EQ(r->pop(talc::kWaitForever).error(), Errc::ring_closed);
  // A producer that pushes again opens its end again.
  ASSERT_EQ(r->push(Handle(5), milliseconds(0)), Errc::ok);
  EXPECT_FALSE(r->closed(RingEnd::producer));
  EXPECT_EQ(r->pop(milliseconds(0)).value(), Handle(5));
}

TEST(Ring, ACloseWakesTheSleeperAtOnce) {
  auto r = std::make_unique<SmallRing>();
  ASSERT_EQ(r->attach(RingEnd::producer), Errc::ok);
  const std::uint64_t wakes = Wakes();
  talc::Result<RelMeta> got = Errc::corrupted;
  std::thread consumer([&] { got = r->pop(talc::kWaitForever); });
  std::this_thread::sleep_for(milliseconds(100));
  r->close(RingEnd::producer);
  consumer.join();
  EXPECT_EQ(got.error(), Errc::ring_closed);
  EXPECT_GE(Wakes(), wakes + 1) << "the close woke the sleeper, not its next look";
}

TEST(Ring, AClosedConsumerRefusesPushes) {
  auto r = std::make_unique<SmallRing>();
  r->close(RingEnd::consumer);
  EXPECT_EQ(r->push(Handle(1), talc::kWaitForever), Errc::ring_closed);
  EXPECT_EQ(r->size(), 0u) << "refused, nothing pushed";
  // A producer asleep on a full ring learns it too.
  ASSERT_EQ(r->attach(RingEnd::consumer), Errc::ok);
  for (std::uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(r->try_push(Handle(i)));
  Errc pushed = Errc::corrupted;
  std::thread producer([&] { pushed = r->push(Handle(9), talc::kWaitForever); });
  std::this_thread::sleep_for(milliseconds(100));
  r->close(RingEnd::consumer);
  producer.join();
  EXPECT_EQ(pushed, Errc::ring_closed);
}

// Two threads hand a long stream through a small ring, each end blocking in turn: every handle
// arrives once, in order.
TEST(Ring, AStreamThroughASmallRingArrivesWholeAndInOrder) {
  auto r = std::make_unique<SmallRing>();
  constexpr std::uint64_t kCount = 20000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount; ++i)
      if (r->push(Handle(i), std::chrono::seconds(20)) != Errc::ok) return;
    r->close(RingEnd::producer);
  });
  std::uint64_t n = 0;
  for (;;) {
    const talc::Result<RelMeta> got = r->pop(std::chrono::seconds(20));
    if (!got) {
      EXPECT_EQ(got.error(), Errc::ring_closed);
      break;
    }
    ASSERT_EQ(*got, Handle(n));
    ++n;
  }
  producer.join();
  EXPECT_EQ(n, kCount);
}

// A ring found by name is the one every program of the C API and the Python package opens.
TEST(Ring, ANamedRingIsOneObjectForEveryCaller) {
  auto heap = talc::MapTalc<>::anonymous(1 << 20);
  const talc::Result<talc::NamedRing*> a = heap.find_or_construct<talc::NamedRing>("r");
  const talc::Result<talc::NamedRing*> b = heap.find_or_construct<talc::NamedRing>("r");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  const talc::Meta m = heap.allocate(64);
  ASSERT_EQ((*a)->push(m.rel(), milliseconds(0)), Errc::ok);
  const talc::Result<RelMeta> got = (*b)->pop(milliseconds(0));
  ASSERT_TRUE(got);
  const talc::Result<talc::Meta> adopted = heap.adopt(*got);
  ASSERT_TRUE(adopted);
  EXPECT_EQ(heap.deallocate(*adopted), Errc::ok);
  EXPECT_TRUE(heap.check().ok());
}

}  // namespace
