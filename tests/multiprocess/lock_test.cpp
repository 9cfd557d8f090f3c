// The lock in the region (region_lock.hpp): every wait ends, whatever another process did or
// left behind. Each case stages one way a waiter used to be stranded, in real processes
// sharing real memory, and bounds how long the survivor may take.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "support/process.hpp"
#include "talc/sync/process.hpp"
#include "talc/sync/region_lock.hpp"

namespace {

using talc::LockOutcome;
using talc::RegionLock;
using talc_test::Signal;
using talc_test::Spawn;
using talc_test::Wait;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A lock and a few counters in memory shared with forked children.
struct Shared {
  RegionLock lock;
  std::atomic<int> woken{0};
  std::atomic<int> acquired{0};
};

// The shared block, for a fault hook (a plain function) in a child.
Shared* g_shared = nullptr;

class Lock : public ::testing::Test {
 protected:
  void SetUp() override {
    void* p =
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    s_ = ::new (p) Shared{};
    s_->lock.init();
  }
  void TearDown() override { ::munmap(s_, sizeof(Shared)); }

  // Waits until some process sleeps on the lock (it set the waiters bit), then a little more
  // so that it is inside the futex.
  void AwaitSleeper() const {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while ((s_->lock.word() & RegionLock::kWaiters) == 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(milliseconds(1));
    ASSERT_NE(s_->lock.word() & RegionLock::kWaiters, 0u) << "no process went to sleep";
    std::this_thread::sleep_for(milliseconds(20));
  }

  // A child that takes the lock and is killed holding it; not yet reaped (a zombie).
  pid_t KilledHolder() const {
    Signal held;
    const pid_t holder = Spawn([&] {
      if (s_->lock.lock() != LockOutcome::acquired) return 1;
      held.Notify();
      ::pause();
      return 0;
    });
    EXPECT_TRUE(held.Await());
    ::kill(holder, SIGKILL);
    return holder;
  }

  Shared* s_ = nullptr;
};

double MillisSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

TEST_F(Lock, AnUncontendedLockNamesThisProcessAndUnlockFreesIt) {
  ASSERT_EQ(s_->lock.lock(), LockOutcome::acquired);
  EXPECT_EQ(s_->lock.word(), RegionLock::self());
  EXPECT_EQ(s_->lock.word() & RegionLock::kPidMask, talc::current_process_id());
  s_->lock.unlock();
  EXPECT_EQ(s_->lock.word(), 0u);
}

TEST_F(Lock, AForkedChildHoldsItUnderItsOwnName) {
  const std::uint64_t parent = RegionLock::self();
  const pid_t child = Spawn([&] {
    if (s_->lock.lock() != LockOutcome::acquired) return 1;
    const std::uint64_t w = s_->lock.word();
    s_->lock.unlock();
    return w != parent && (w & RegionLock::kPidMask) == talc::current_process_id() ? 0 : 2;
  });
  EXPECT_EQ(Wait(child), 0);
}

// The holder is killed: the next locker takes the lock over, is told so, and does not wait for
// the holder's parent to reap it (a zombie runs nothing).
TEST_F(Lock, ALockWhoseHolderWasKilledIsTakenOverQuickly) {
  const pid_t holder = KilledHolder();
  std::this_thread::sleep_for(milliseconds(50));  // a zombie, not yet reaped
  const auto t0 = Clock::now();
  EXPECT_EQ(s_->lock.lock(), LockOutcome::owner_died);
  EXPECT_LT(MillisSince(t0), 500.0);
  s_->lock.unlock();
  EXPECT_EQ(Wait(holder), -SIGKILL);
  EXPECT_EQ(s_->lock.lock(), LockOutcome::acquired);
  s_->lock.unlock();
}

// The lost wake-up of a robust mutex: the holder unlocks and wakes one sleeper, that sleeper
// is killed right after it woke, before it took the lock; another sleeper must not sleep on.
// Both sleepers carry the fault, and the first one woken dies, whichever it is.
TEST_F(Lock, AWaiterKilledRightAfterItsWakeUpDoesNotStrandTheOthers) {
  Signal held, release;
  const pid_t holder = Spawn([&] {
    if (s_->lock.lock() != LockOutcome::acquired) return 1;
    held.Notify();
    release.Await();
    s_->lock.unlock();
    return 0;
  });
  ASSERT_TRUE(held.Await());
  auto sleeper = [&] {
    talc::lock_testing::after_wake = [] {
      if (g_shared->woken.fetch_add(1) == 0) ::raise(SIGKILL);
    };
    const LockOutcome o = s_->lock.lock(std::chrono::seconds(30));
    if (o != LockOutcome::acquired) return 1;
    s_->acquired.fetch_add(1);
    s_->lock.unlock();
    return 0;
  };
  g_shared = s_;
  const pid_t a = Spawn(sleeper);
  AwaitSleeper();
  const pid_t b = Spawn(sleeper);
  std::this_thread::sleep_for(milliseconds(50));
  const auto t0 = Clock::now();
  release.Notify();
  ASSERT_EQ(Wait(holder), 0);
  const int ra = Wait(a), rb = Wait(b);
  const double ms = MillisSince(t0);
  EXPECT_EQ(s_->woken.load() >= 1, true);
  EXPECT_TRUE((ra == -SIGKILL && rb == 0) || (ra == 0 && rb == -SIGKILL))
      << "exit statuses " << ra << " and " << rb;
  EXPECT_EQ(s_->acquired.load(), 1);
  EXPECT_LT(ms, 1000.0) << "the survivor took " << ms << " ms";
  EXPECT_EQ(s_->lock.word() & ~RegionLock::kWaiters, 0u);
}

// A holder that lives but never lets go (stopped, say) ends the wait at the caller's bound.
TEST_F(Lock, ALiveHolderThatKeepsTheLockEndsTheWaitAtTheBound) {
  Signal held;
  const pid_t holder = Spawn([&] {
    if (s_->lock.lock() != LockOutcome::acquired) return 1;
    held.Notify();
    ::raise(SIGSTOP);
    return 0;
  });
  ASSERT_TRUE(held.Await());
  const auto t0 = Clock::now();
  EXPECT_EQ(s_->lock.lock(milliseconds(200)), LockOutcome::timed_out);
  const double ms = MillisSince(t0);
  EXPECT_GE(ms, 190.0);
  EXPECT_LT(ms, 1000.0);
  ::kill(holder, SIGKILL);
  EXPECT_EQ(Wait(holder), -SIGKILL);
  EXPECT_EQ(s_->lock.lock(), LockOutcome::owner_died);
  s_->lock.unlock();
}

// Another thread of this process holds it: alive by definition, so the waiter waits for it.
TEST_F(Lock, AThreadOfThisProcessIsWaitedFor) {
  ASSERT_EQ(s_->lock.lock(), LockOutcome::acquired);
  std::atomic<bool> got{false};
  std::thread t([&] {
    got = s_->lock.lock(std::chrono::seconds(10)) == LockOutcome::acquired;
    s_->lock.unlock();
  });
  std::this_thread::sleep_for(milliseconds(60));
  EXPECT_FALSE(got.load());
  s_->lock.unlock();
  t.join();
  EXPECT_TRUE(got.load());
}

// A pid that now names another process (a reuse, or a word from a previous boot): the tag
// differs, so the holder is dead. Our parent is certainly alive, under another tag.
TEST_F(Lock, AWordNamingALiveProcessUnderAnotherTagIsADeadHolder) {
  const auto ppid = static_cast<std::uint64_t>(::getppid());
  const std::uint64_t real = talc::process_tag(static_cast<std::uint32_t>(ppid));
  ASSERT_NE(real, talc::kTagGone);
  const std::uint64_t forged = ((real ^ 0x5a5a5a5au) << 32) | ppid;
  ASSERT_TRUE(RegionLock::plausible(forged));
  EXPECT_TRUE(RegionLock::holder_dead(forged));
  reinterpret_cast<std::atomic<std::uint64_t>*>(&s_->lock)->store(forged);
  const auto t0 = Clock::now();
  EXPECT_EQ(s_->lock.lock(), LockOutcome::owner_died);
  EXPECT_LT(MillisSince(t0), 500.0);
  s_->lock.unlock();
  EXPECT_FALSE(RegionLock::holder_dead((real << 32) | ppid));
}

// No process writes a word with an unknown tag (one without an identity takes no lock). Such
// a word is damage: refused at once, which an open alone or `talc repair` clears, rather than a
// holder believed alive for as long as another process has its pid.
TEST_F(Lock, AWordWithAnUnknownTagIsRefusedAsDamageAtOnce) {
  const auto ppid = static_cast<std::uint64_t>(::getppid());
  const std::uint64_t unknown = (std::uint64_t{talc::kTagUnknown} << 32) | ppid;
  EXPECT_FALSE(RegionLock::plausible(unknown));
  reinterpret_cast<std::atomic<std::uint64_t>*>(&s_->lock)->store(unknown);
  const auto t0 = Clock::now();
  EXPECT_EQ(s_->lock.lock(std::chrono::seconds(5)), LockOutcome::damaged);
  EXPECT_LT(MillisSince(t0), 500.0);
}

// A previous process that had our pid (a reuse, or a boot before): another tag, so dead.
TEST_F(Lock, AWordWithOurPidAndAnotherTagIsADeadHolder) {
  const std::uint64_t me = RegionLock::self();
  EXPECT_FALSE(RegionLock::holder_dead(me));
  EXPECT_FALSE(RegionLock::holder_dead(me | RegionLock::kWaiters));
  EXPECT_TRUE(RegionLock::holder_dead(me ^ (std::uint64_t{0x5a} << 40)));
}

// Signals that interrupt every sleep (a profiler's timer, say) do not hide a dead holder.
TEST_F(Lock, ADeadHolderIsFoundByAWaiterWhoseSleepsSignalsInterrupt) {
  const pid_t holder = KilledHolder();
  EXPECT_EQ(Wait(holder), -SIGKILL);
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
  itimerval every{{0, 200}, {0, 200}}, off{};
  ASSERT_EQ(::setitimer(ITIMER_REAL, &every, nullptr), 0);
  const auto t0 = Clock::now();
  const LockOutcome o = s_->lock.lock(std::chrono::seconds(5));
  const double ms = MillisSince(t0);
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
  EXPECT_EQ(o, LockOutcome::owner_died);
  EXPECT_LT(ms, 1000.0);
  if (o == LockOutcome::owner_died) s_->lock.unlock();
}

TEST_F(Lock, AWordNoHolderWritesIsRefusedAtOnce) {
  auto* word = reinterpret_cast<std::atomic<std::uint64_t>*>(&s_->lock);
  for (const std::uint64_t bad :
       {std::uint64_t{1}, std::uint64_t{0x40000000}, std::uint64_t{0x00ff000000000000},
        std::uint64_t{0x7fffffff}, (std::uint64_t{7} << 32) | RegionLock::kPidLimit}) {
    word->store(bad);
    const auto t0 = Clock::now();
    EXPECT_EQ(s_->lock.lock(), LockOutcome::damaged) << std::hex << bad;
    EXPECT_LT(MillisSince(t0), 100.0);
    EXPECT_EQ(word->load(), bad) << "a refusal writes nothing";
  }
  // abandon() turns it into a lock the next locker repairs.
  s_->lock.abandon();
  EXPECT_EQ(s_->lock.lock(), LockOutcome::owner_died);
  s_->lock.unlock();
  // The waiters bit alone is a free lock.
  word->store(RegionLock::kWaiters);
  EXPECT_EQ(s_->lock.lock(), LockOutcome::acquired);
  s_->lock.unlock();
}

// Many processes and threads hammering it: mutual exclusion holds.
TEST_F(Lock, ProcessesAndThreadsExcludeEachOther) {
  struct Counter {
    std::uint64_t plain = 0;
  };
  auto* c = static_cast<Counter*>(
      ::mmap(nullptr, sizeof(Counter), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(c, MAP_FAILED);
  constexpr int kProcs = 3, kThreads = 2, kIters = 20000;
  auto body = [&] {
    std::thread ts[kThreads];
    for (auto& t : ts)
      t = std::thread([&] {
        for (int i = 0; i < kIters; ++i) {
          if (s_->lock.lock() != LockOutcome::acquired) std::abort();
          c->plain = c->plain + 1;
          s_->lock.unlock();
        }
      });
    for (auto& t : ts) t.join();
    return 0;
  };
  pid_t pids[kProcs];
  for (pid_t& p : pids) p = Spawn(body);
  for (pid_t p : pids) EXPECT_EQ(Wait(p), 0);
  EXPECT_EQ(c->plain, std::uint64_t{kProcs} * kThreads * kIters);
  EXPECT_EQ(s_->lock.word() & ~RegionLock::kWaiters, 0u);
  ::munmap(c, sizeof(Counter));
}

}  // namespace
