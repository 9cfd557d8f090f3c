// Liveness that fails safe: a holder is judged dead from evidence only, and a read of /proc that
// fails means "cannot tell", which is "alive". Each case makes one read fail in one process
// (process_testing::fail_read) and shows that no live holder loses the heap's lock to it, that a
// process that cannot name itself takes nothing others would have to judge, and that a bound of
// zero still recovers a dead holder.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "support/hold_log.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc_test::HoldLog;
using talc_test::Signal;
using talc_test::Spawn;
using talc_test::Wait;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kHold{600};

// The path a fault matches: a file of /proc, or a part of one.
char g_fault[64] = "";
bool FailMatching(const char* path) {
  return std::strstr(path, g_fault) != nullptr;
}

class FailSafe : public ::testing::Test {
 protected:
  void SetUp() override {
    heap_.emplace(talc::MapTalc<>::create_shm(name_, std::size_t{1} << 20));
    log_ = heap_->construct<HoldLog>();
    log_->block = heap_->allocate(HoldLog::kBlock).offset;
    heap_->set_root(heap_->offset_of(log_));
  }
  void TearDown() override {
    talc::process_testing::fail_read = nullptr;
    heap_.reset();
    talc::MapTalc<>::remove_shm(name_);
  }

  // Fills the block with 'A' under the heap's lock for kHold, checking as it goes that nobody
  // else writes it; notes the release.
  pid_t Holder(const Signal& held) {
    return Spawn([&] {
      const Errc e = heap_->with_lock([&](auto&) {
        held.Notify();
        const auto until = Clock::now() + kHold;
        auto* p = static_cast<unsigned char*>(heap_->address_of(log_->block));
        while (Clock::now() < until) {
          std::memset(p, 'A', HoldLog::kBlock);
          std::this_thread::sleep_for(milliseconds(5));
          for (std::size_t i = 0; i < HoldLog::kBlock; ++i)
            if (p[i] != 'A') log_->holder_saw_other = 1;
        }
        log_->released = talc_test::SteadyNanos();
      });
      return e == Errc::ok ? 0 : 10 + static_cast<int>(e);
    });
  }

  // A child that takes the heap's lock itself, says so, and lets go once `release` comes.
  pid_t LockHolder(const Signal& held, const Signal& release) {
    return Spawn([&] {
      if (heap_->heap().lock().lock() != talc::LockOutcome::acquired) return 1;
      held.Notify();
      release.Await();
      heap_->heap().lock().unlock();
      return 0;
    });
  }

  // A fresh program (the test worker), whose reads of /proc matching `fault` fail from its
  // start, asks for the lock with the bound `wait` while the holder holds it. Its exit status is
  // the Errc it got. A %d in `fault` is the holder's pid.
  int WaiterDuringHold(const char* fault_format, milliseconds wait) {
    Signal held;
    const pid_t holder = Holder(held);
    if (!held.Await()) return -1;
    char fault[64];
    std::snprintf(fault, sizeof fault, fault_format, static_cast<int>(holder));
    const std::string ms = std::to_string(wait.count());
    const pid_t waiter = Spawn([&] {
      ::execl(TALC_TEST_WORKER, TALC_TEST_WORKER, "wait-lock", name_.c_str(), fault, ms.c_str(),
              static_cast<char*>(nullptr));
      return 127;
    });
    const int got = Wait(waiter);
    EXPECT_EQ(Wait(holder), 0);
    return got;
  }

  const std::string name_ = talc_test::UniqueShmName("failsafe");
  std::optional<talc::MapTalc<>> heap_;
  HoldLog* log_ = nullptr;
};

// The first run: a process whose read of the boot id failed computed other tags for
// everyone, and took the lock from a live holder 2 ms into its hold.
TEST_F(FailSafe, AWaiterThatCannotReadTheBootIdGetsInOnlyAfterTheRelease) {
  EXPECT_EQ(WaiterDuringHold("boot_id", std::chrono::seconds(10)), static_cast<int>(Errc::ok));
  EXPECT_EQ(log_->holder_saw_other.load(), 0);
  EXPECT_GE(log_->entered.load(), log_->released.load()) << "the waiter got in during the hold";
  EXPECT_EQ(heap_->recoveries(), 0u);
  EXPECT_TRUE(heap_->check().ok());
}

// The holder's stat cannot be read: its tag is unknown, which is alive.
TEST_F(FailSafe, AWaiterThatCannotReadTheHoldersStatGetsInOnlyAfterTheRelease) {
  EXPECT_EQ(WaiterDuringHold("/proc/%d/stat", std::chrono::seconds(10)),
            static_cast<int>(Errc::ok));
  EXPECT_EQ(log_->holder_saw_other.load(), 0);
  EXPECT_GE(log_->entered.load(), log_->released.load()) << "the waiter got in during the hold";
  EXPECT_EQ(heap_->recoveries(), 0u);
}

// A bound shorter than the hold ends the wait with lock_timeout, not with a takeover.
TEST_F(FailSafe, AShortBoundOnALiveHolderWhoseStatIsHiddenEndsInATimeout) {
  EXPECT_EQ(WaiterDuringHold("/proc/%d/stat", milliseconds(100)),
            static_cast<int>(Errc::lock_timeout));
  EXPECT_EQ(log_->holder_saw_other.load(), 0);
  EXPECT_EQ(log_->entered.load(), 0);
  EXPECT_EQ(heap_->recoveries(), 0u);
}

// A process that cannot read its own stat has no identity: a word it wrote would look alive to
// everyone once its pid is reused. It takes no lock, no lane and opens no heap, says why, and
// reads again at its next call.
TEST_F(FailSafe, AProcessThatCannotReadItsOwnStatTakesNothingAndTriesAgainLater) {
  const pid_t child = Spawn([&] {
    std::snprintf(g_fault, sizeof g_fault, "/proc/%d/stat", ::getpid());
    talc::process_testing::fail_read = FailMatching;
    if (heap_->with_lock([](auto&) {}) != Errc::identity_unknown) return 1;
    if (heap_->heap().lock().word() != 0) return 2;  // nothing written
    const talc::Result<talc::Meta> small = heap_->try_allocate(64);
    if (small || small.error() != Errc::identity_unknown) return 3;  // no lane either
    try {
      (void)talc::Talc<>::open(heap_->base(), heap_->size(), talc::OpenRole::attach);
      return 4;
    } catch (const talc::OpenError& e) {
      if (e.code() != talc::make_error_code(Errc::identity_unknown)) return 5;
      if (std::strstr(e.what(), "/proc/self/stat") == nullptr) return 6;
    }
    talc::process_testing::fail_read = nullptr;  // the read works again: so does the heap
    const talc::Result<talc::Meta> later = heap_->try_allocate(64);
    if (!later) return 7;
    return heap_->deallocate(*later) == Errc::ok ? 0 : 8;
  });
  EXPECT_EQ(Wait(child), 0);
  EXPECT_EQ(heap_->heap().lock().word(), 0u);
  EXPECT_TRUE(heap_->check().ok());
}

// The third run: with lock_wait 0 a dead holder used to be found never, every call
// timing out. A zero bound means "do not wait for a live holder", and still looks once.
TEST_F(FailSafe, AZeroBoundRecoversADeadHolderWithinOneCall) {
  Signal held, never;
  const pid_t holder = LockHolder(held, never);  // killed holding it
  ASSERT_TRUE(held.Await());
  ::kill(holder, SIGKILL);
  EXPECT_EQ(Wait(holder), -SIGKILL);
  talc::Talc<> quick = talc::Talc<>::open(heap_->base(), heap_->size(), talc::OpenRole::attach,
                                          {.lock_wait = milliseconds(0)});
  bool recovered = false;
  quick.on_recovery([&] { recovered = true; });
  EXPECT_EQ(quick.with_lock([](auto&) {}), Errc::ok);
  EXPECT_TRUE(recovered);
  EXPECT_EQ(quick.recoveries(), 1u);
}

// A zero bound on a live holder gives up at once, and takes nothing.
TEST_F(FailSafe, AZeroBoundOnALiveHolderTimesOutAtOnce) {
  Signal held, release;
  const pid_t holder = LockHolder(held, release);
  ASSERT_TRUE(held.Await());
  talc::Talc<> quick = talc::Talc<>::open(heap_->base(), heap_->size(), talc::OpenRole::attach,
                                          {.lock_wait = milliseconds(0)});
  const auto t0 = Clock::now();
  EXPECT_EQ(quick.with_lock([](auto&) {}), Errc::lock_timeout);
  EXPECT_LT(Clock::now() - t0, milliseconds(500));
  release.Notify();
  EXPECT_EQ(Wait(holder), 0);
  EXPECT_EQ(quick.recoveries(), 0u);
}

// An open reads what it needs from the header: it used to take the heap's lock once, and so
// wait a live holder's whole bound before it went on, saying nothing.
TEST_F(FailSafe, AnOpenDoesNotWaitForTheHeapsLock) {
  Signal held, release;
  const pid_t holder = LockHolder(held, release);
  ASSERT_TRUE(held.Await());
  const auto t0 = Clock::now();
  {
    const auto other = talc::MapTalc<>::open_shm(name_, {.lock_wait = std::chrono::seconds(2)});
    EXPECT_EQ(other.root(), heap_->root());
  }
  EXPECT_LT(Clock::now() - t0, milliseconds(1000));
  release.Notify();
  EXPECT_EQ(Wait(holder), 0);
}

}  // namespace
