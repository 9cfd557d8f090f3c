// No opener is stranded by what another process left in a region's locks: a holder still
// alive in the original of a copied file, a constructor interrupted in a copy, a damaged lock
// word, a lock word from a previous boot. Each case opens the region in a fresh process and
// bounds the time to its first allocation.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

#include "support/files.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

namespace fs = std::filesystem;
using talc::Errc;
using talc::MapTalc;
using talc_test::Signal;
using talc_test::Spawn;
using talc_test::Wait;
using Clock = std::chrono::steady_clock;

// Where the heap's lock word lies in a region: the body follows the header, the lock leads it.
constexpr std::uint64_t kHeapLockWord =
    talc::Header<talc::LaneHeap<>>::kBodyOffset + talc::LaneHeap<>::kSyncOffset;

void WriteWord(const fs::path& p, std::uint64_t off, std::uint64_t v) {
  talc_test::WriteAt(p, off, &v, sizeof v);
}

// A child that opens `path`, allocates, checks, and says how long the allocation took; exit 0
// when everything worked within a second.
int OpenAllocateCheck(const fs::path& path) {
  const auto t0 = Clock::now();
  auto heap = MapTalc<>::open_file(path.string());
  const talc::Result<talc::Meta> m = heap.try_allocate(100);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!m) return 10 + static_cast<int>(m.error());
  if (ms > 1000) return 2;
  if (!heap.check().ok()) return 3;
  return heap.deallocate(*m) == Errc::ok ? 0 : 4;
}

// A child that holds the heap's lock of the heap `open()` gives it until `done`, then lets go.
template <class Open>
pid_t Holder(Open open, const Signal& done) {
  Signal held;
  const pid_t holder = Spawn([&] {
    decltype(auto) heap = open();
    if (heap.heap().lock().lock() != talc::LockOutcome::acquired) return 1;
    held.Notify();
    done.Await();
    heap.heap().lock().unlock();
    return 0;
  });
  EXPECT_TRUE(held.Await());
  return holder;
}

class Liveness : public ::testing::Test {
 protected:
  talc_test::TempDir dir_{"liveness"};
};

// What a power loss or a kernel panic leaves on disk: the lock held by a process that is not
// there. Here the holder even lives on, holding the original, and never releases the copy.
TEST_F(Liveness, AHeapFileCopiedWhileItsLockIsHeldServesANewProcess) {
  const fs::path original = dir_ / "original", copy = dir_ / "copy";
  MapTalc<>::create_file(original.string(), 1 << 20);
  Signal done;
  const pid_t holder = Holder([&] { return MapTalc<>::open_file(original.string()); }, done);
  fs::copy_file(original, copy);
  EXPECT_EQ(Wait(Spawn([&] { return OpenAllocateCheck(copy); })), 0);
  done.Notify();
  EXPECT_EQ(Wait(holder), 0);
}

// A named object's constructor that waits, so that the directory's lock is held meanwhile.
struct Slow {
  explicit Slow(const Signal* entered, const Signal* leave) {
    if (entered == nullptr) return;
    entered->Notify();
    leave->Await();
  }
  std::uint64_t payload[8] = {};
};

TEST_F(Liveness, AHeapFileCopiedWhileADirectoryConstructorRunsServesANewProcess) {
  const fs::path original = dir_ / "original", copy = dir_ / "copy";
  MapTalc<>::create_file(original.string(), 1 << 20);
  Signal entered, leave;
  const pid_t builder = Spawn([&] {
    auto heap = MapTalc<>::open_file(original.string());
    return heap.find_or_construct<Slow>("slow", &entered, &leave) ? 0 : 1;
  });
  ASSERT_TRUE(entered.Await());
  fs::copy_file(original, copy);
  const pid_t user = Spawn([&] {
    const auto t0 = Clock::now();
    auto heap = MapTalc<>::open_file(copy.string());
    // The interrupted entry was repaired away: the name is free, and a new object takes it.
    if (heap.find<Slow>("slow").error() != Errc::not_found) return 1;
    if (!heap.find_or_construct<Slow>("slow", nullptr, nullptr)) return 2;
    if (std::chrono::duration<double>(Clock::now() - t0).count() > 1.0) return 3;
    if (!heap.check().ok()) return 4;
    return heap.named_objects()->size() == 1 ? 0 : 5;
  });
  EXPECT_EQ(Wait(user), 0);
  leave.Notify();
  EXPECT_EQ(Wait(builder), 0);
}

// While another process has the region open, a damaged lock word is refused with its own
// error, fast; once nobody has it open, the next opener re-initialises the lock and works.
TEST_F(Liveness, ADamagedLockWordIsRefusedWhileSharedAndResetWhenAlone) {
  const fs::path path = dir_ / "heap";
  MapTalc<>::create_file(path.string(), 1 << 20);
  Signal opened, done;
  const pid_t bystander = Spawn([&] {
    auto heap = MapTalc<>::open_file(path.string());
    opened.Notify();
    done.Await();
    return 0;
  });
  ASSERT_TRUE(opened.Await());
  WriteWord(path, kHeapLockWord, 0x0000'00ff'0000'0000);  // a tag with no pid
  const pid_t refused = Spawn([&] {
    auto heap = MapTalc<>::open_file(path.string());
    const auto t0 = Clock::now();
    const talc::Result<talc::Meta> m = heap.try_allocate(100);
    const talc::CheckReport rep = heap.check();
    if (std::chrono::duration<double>(Clock::now() - t0).count() > 2.0) return 1;
    if (m.error() != Errc::lock_damaged) return 2;
    return rep.code == Errc::lock_damaged ? 0 : 3;
  });
  EXPECT_EQ(Wait(refused), 0);
  done.Notify();
  EXPECT_EQ(Wait(bystander), 0);
  EXPECT_EQ(Wait(Spawn([&] { return OpenAllocateCheck(path); })), 0);
}

// A descriptor handed to another process (inherited here, as over a socket) shares the
// sender's open of the memfd: the receiver must still see the sender as present, and leave
// the lock the sender holds alone.
TEST_F(Liveness, AReceiverOfADescriptorIsNotAloneWithItsSender) {
  const int memfd = ::memfd_create("talc-liveness", MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(::ftruncate(memfd, 1 << 20), 0);
  auto sender = MapTalc<>::from_fd(talc::Fd(::dup(memfd)));
  EXPECT_TRUE(sender.opened_alone());
  ASSERT_EQ(sender.heap().lock().lock(), talc::LockOutcome::acquired);
  const std::uint64_t held = sender.heap().lock().word();
  const pid_t receiver = Spawn([&] {
    auto heap = MapTalc<>::from_fd(talc::Fd(::dup(memfd)), talc::OpenRole::attach,
                                   talc::OpenOptions{.lock_wait = std::chrono::milliseconds(50)});
    if (heap.opened_alone()) return 1;
    if ((heap.heap().lock().word() & ~talc::RegionLock::kWaiters) != held) return 2;
    return heap.try_allocate(100).error() == Errc::lock_timeout ? 0 : 3;
  });
  EXPECT_EQ(Wait(receiver), 0);
  EXPECT_EQ(sender.heap().lock().word() & ~talc::RegionLock::kWaiters, held);
  sender.heap().lock().unlock();
  EXPECT_TRUE(sender.try_allocate(100).ok());
  ::close(memfd);
}

// A process that waited while another found the heap broken does not run on it.
TEST_F(Liveness, AWaiterIsRefusedAHeapMarkedCorruptedWhileItWaited) {
  const fs::path path = dir_ / "heap";
  auto heap = MapTalc<>::create_file(path.string(), 1 << 20);
  Signal held, release;
  const pid_t holder = Spawn([&] {
    auto mine = MapTalc<>::open_file(path.string());
    if (mine.heap().lock().lock() != talc::LockOutcome::acquired) return 1;
    held.Notify();
    release.Await();
    mine.heap().mark_corrupted();  // what an operation that met damage does, holding the lock
    mine.heap().lock().unlock();
    return 0;
  });
  ASSERT_TRUE(held.Await());
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    release.Notify();
  });
  EXPECT_EQ(heap.try_allocate(100).error(), Errc::corrupted);
  later.join();
  EXPECT_EQ(Wait(holder), 0);
}

// Pids and start times name the same processes only inside one PID and time namespace: a heap
// built in another is refused at open, never shared with lock words that would lie.
TEST_F(Liveness, AHeapOfAnotherNamespaceIsRefused) {
  if (talc::namespace_id() == 0) GTEST_SKIP() << "/proc does not tell this process's namespaces";
  const fs::path path = dir_ / "heap";
  MapTalc<>::create_file(path.string(), 1 << 20);
  // The header's namespace record: after magic, version and size, fingerprint, region and
  // maximum sizes, state, root, directory, boot and boot claim.
  WriteWord(path, 80, talc::namespace_id() ^ 1);
  try {
    MapTalc<>::open_file(path.string());
    ADD_FAILURE() << "opened";
  } catch (const talc::OpenError& e) {
    EXPECT_EQ(e.code(), make_error_code(Errc::namespace_mismatch)) << e.what();
  }
}

// A region opened on memory the caller mapped (no source to ask who else has it open): the
// boot record alone decides. A lock word of a previous boot may even name a live process of
// this one; the first opener of this boot re-initialises the locks instead of waiting for it.
TEST_F(Liveness, ALockOfAPreviousBootIsReinitialisedByTheFirstOpener) {
  constexpr std::size_t kSize = 1 << 20;
  void* base = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(base, MAP_FAILED);
  {
    auto built = talc::Talc<>::open(base, kSize, talc::OpenRole::create);
    ASSERT_EQ(built.header().boot(), talc::boot_hash());
    built.header().set_boot(talc::boot_hash() ^ 1);  // the record of another boot
    ASSERT_EQ(built.heap().lock().lock(), talc::LockOutcome::acquired);  // never released
  }
  const pid_t opener = Spawn([&] {
    const auto t0 = Clock::now();
    auto heap = talc::Talc<>::open(base, kSize, talc::OpenRole::attach);
    const talc::Result<talc::Meta> m = heap.try_allocate(100);
    if (!m) return 10 + static_cast<int>(m.error());
    if (std::chrono::duration<double>(Clock::now() - t0).count() > 1.0) return 2;
    if (heap.header().boot() != talc::boot_hash() || heap.header().boot_claim() != 0) return 3;
    return heap.check().ok() ? 0 : 4;
  });
  EXPECT_EQ(Wait(opener), 0);
  ::munmap(base, kSize);
}

// Without the boot record, the same word names this (live) process: the wait ends at the
// caller's bound with its own error, never in a hang.
TEST_F(Liveness, ALockHeldByALiveProcessEndsTheWaitWithLockTimeout) {
  constexpr std::size_t kSize = 1 << 20;
  void* base = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(base, MAP_FAILED);
  {  // the Talc goes before the mapping: its last copy gives this thread's lane back
    auto heap = talc::Talc<>::open(base, kSize, talc::OpenRole::create,
                                   talc::OpenOptions{.lock_wait = std::chrono::milliseconds(100)});
    Signal done;
    const pid_t holder = Holder([&]() -> talc::Talc<>& { return heap; }, done);
    const auto t0 = Clock::now();
    EXPECT_EQ(heap.try_allocate(100).error(), Errc::lock_timeout);
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 1.0);
    done.Notify();
    EXPECT_EQ(Wait(holder), 0);
    EXPECT_TRUE(heap.try_allocate(100).ok());
  }
  ::munmap(base, kSize);
}

}  // namespace
