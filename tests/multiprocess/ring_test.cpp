// OffsetRing's waiting calls between real processes, one of which is killed (SIGKILL) while the
// other is asleep on the ring: the sleeper gets peer_gone within kRingLook of the death, give or
// take the machine's delays; a peer that closed before it exited ended cleanly (ring_closed,
// after its last block); and a wake-up crosses processes, which map the region at addresses of
// their own.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "support/process.hpp"
#include "talc/offset_ring.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;
using talc::RelMeta;
using talc::RingEnd;
using talc_test::Signal;
using talc_test::Spawn;
using talc_test::Wait;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How much later than kRingLook a death may be told on a machine that runs other work.
constexpr double kSlackMs = 1000;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// A shared heap with one named ring, the one the C API and Python open; the children open it
// again by name, so each maps it at its own address.
struct Shared {
  std::string name = talc_test::UniqueShmName("ring");
  MapTalc<> heap = MapTalc<>::create_shm(name, 1 << 20);
  talc::NamedRing& ring = **heap.find_or_construct<talc::NamedRing>("r");
  ~Shared() { MapTalc<>::remove_shm(name); }

  // In a child: the same ring, at this process's own address.
  static int InChild(const std::string& name, auto body) {
    auto heap = MapTalc<>::open_shm(name);
    return body(heap, **heap.find_or_construct<talc::NamedRing>("r"));
  }
};

// The child attaches as `end` (a first push or pop would too), says so, and sleeps until killed.
pid_t AttachAndHang(const Shared& s, RingEnd end) {
  Signal attached;
  const pid_t child = Spawn([&] {
    return Shared::InChild(s.name, [&](MapTalc<>&, talc::NamedRing& r) {
      if (r.attach(end) != Errc::ok) return 1;
      attached.Notify();
      for (;;) ::pause();
      return 0;
    });
  });
  EXPECT_TRUE(attached.Await());
  return child;
}

// Blocks in `wait` (which returns an Errc) while another thread kills `victim` after 200 ms;
// what the wait gave, and how long after the kill it ended.
template <class Wait>
std::pair<Errc, double> KilledDuringWait(pid_t victim, Wait wait) {
  std::atomic<std::int64_t> killed_at{0};
  std::thread killer([&] {
    std::this_thread::sleep_for(milliseconds(200));
    killed_at = Clock::now().time_since_epoch().count();
    ::kill(victim, SIGKILL);  // a zombie until reaped below: dead all the same
  });
  const Errc e = wait();
  const auto end = Clock::now();
  killer.join();
  const Clock::time_point at{Clock::duration(killed_at.load())};
  return {e, std::chrono::duration<double, std::milli>(end - at).count()};
}

TEST(RingPeers, APopAsleepLearnsThatItsProducerWasKilled) {
  Shared s;
  const pid_t producer = AttachAndHang(s, RingEnd::producer);
  const auto [e, after_kill] =
      KilledDuringWait(producer, [&] { return s.ring.pop(std::chrono::seconds(30)).error(); });
  EXPECT_EQ(e, Errc::peer_gone) << talc::name_of(e);
  EXPECT_LT(after_kill, talc::kRingLook.count() + kSlackMs);
  EXPECT_EQ(Wait(producer), -SIGKILL);
}

TEST(RingPeers, APushAsleepOnAFullRingLearnsThatItsConsumerWasKilled) {
  Shared s;
  const pid_t consumer = AttachAndHang(s, RingEnd::consumer);
  const talc::Meta m = s.heap.allocate(64);
  while (s.ring.try_push(m.rel())) {
  }
  const auto [e, after_kill] =
      KilledDuringWait(consumer, [&] { return s.ring.push(m.rel(), std::chrono::seconds(30)); });
  EXPECT_EQ(e, Errc::peer_gone) << talc::name_of(e);
  EXPECT_LT(after_kill, talc::kRingLook.count() + kSlackMs);
  EXPECT_EQ(Wait(consumer), -SIGKILL);
}

// Blocks a dead producer pushed are still given, and only then is it gone.
TEST(RingPeers, BlocksOfAKilledProducerAreGivenBeforeItIsGone) {
  Shared s;
  Signal pushed;
  const pid_t producer = Spawn([&] {
    return Shared::InChild(s.name, [&](MapTalc<>& heap, talc::NamedRing& r) {
      for (int i = 0; i < 3; ++i)
        if (r.push(heap.allocate(100).rel(), milliseconds(0)) != Errc::ok) return 1;
      pushed.Notify();
      for (;;) ::pause();
      return 0;
    });
  });
  ASSERT_TRUE(pushed.Await());
  ::kill(producer, SIGKILL);
  EXPECT_EQ(Wait(producer), -SIGKILL);
  for (int i = 0; i < 3; ++i) {
    const talc::Result<RelMeta> got = s.ring.pop(std::chrono::seconds(10));
    ASSERT_TRUE(got) << talc::name_of(got.error());
    const talc::Result<talc::Meta> m = s.heap.adopt(*got);
    ASSERT_TRUE(m);
    EXPECT_EQ(s.heap.deallocate(*m), Errc::ok);
  }
  const auto t0 = Clock::now();
  EXPECT_EQ(s.ring.pop(std::chrono::seconds(10)).error(), Errc::peer_gone);
  EXPECT_LT(MsSince(t0), talc::kRingLook.count() + kSlackMs);
}

// A producer that closed and then exited ended its stream; that its process is gone too is no
// error.
TEST(RingPeers, AProducerThatClosedAndExitedEndedItsStream) {
  Shared s;
  const pid_t producer = Spawn([&] {
    return Shared::InChild(s.name, [&](MapTalc<>& heap, talc::NamedRing& r) {
      for (int i = 0; i < 5; ++i)
        if (r.push(heap.allocate(100).rel(), std::chrono::seconds(10)) != Errc::ok) return 1;
      r.close(RingEnd::producer);
      return 0;
    });
  });
  EXPECT_EQ(Wait(producer), 0);
  int got = 0;
  talc::Result<RelMeta> r = Errc::corrupted;
  while ((r = s.ring.pop(std::chrono::seconds(10)))) {
    const talc::Result<talc::Meta> m = s.heap.adopt(*r);
    ASSERT_TRUE(m);
    EXPECT_EQ(s.heap.deallocate(*m), Errc::ok);
    ++got;
  }
  EXPECT_EQ(r.error(), Errc::ring_closed);
  EXPECT_EQ(got, 5);
  EXPECT_TRUE(s.heap.check().ok());
}

// The parent sleeps on the ring; a child at another address pushes and wakes it, many times. The
// child's pushes find the parent asleep (it waits 5 ms, far past the spin) and wake it: exit 2
// if fewer than half of them made a wake call.
TEST(RingPeers, AWakeUpCrossesProcesses) {
  Shared s;
  constexpr int kRounds = 50;
  Signal go;
  const pid_t producer = Spawn([&] {
    return Shared::InChild(s.name, [&](MapTalc<>& heap, talc::NamedRing& r) {
      const std::uint64_t wakes = talc::futex_testing::wakes.load();
      for (int i = 0; i < kRounds; ++i) {
        go.Await();  // the parent is about to sleep
        std::this_thread::sleep_for(milliseconds(5));
        if (r.push(heap.allocate(64).rel(), std::chrono::seconds(10)) != Errc::ok) return 1;
      }
      return talc::futex_testing::wakes.load() - wakes >= kRounds / 2 ? 0 : 2;
    });
  });
  const std::uint64_t wakes_here = talc::futex_testing::wakes.load();
  for (int i = 0; i < kRounds; ++i) {
    go.Notify();
    const auto t0 = Clock::now();
    const talc::Result<RelMeta> got = s.ring.pop(std::chrono::seconds(10));
    ASSERT_TRUE(got) << talc::name_of(got.error());
    EXPECT_LT(MsSince(t0), 5 + kSlackMs);
    const talc::Result<talc::Meta> m = s.heap.adopt(*got);
    ASSERT_TRUE(m);
    EXPECT_EQ(s.heap.deallocate(*m), Errc::ok);
  }
  EXPECT_EQ(Wait(producer), 0);
  EXPECT_EQ(talc::futex_testing::wakes.load(), wakes_here) << "the parent only slept";
}

}  // namespace
