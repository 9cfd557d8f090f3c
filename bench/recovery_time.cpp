// How long the heap stays locked when its holder dies: a heap of N chunks (64-byte blocks, every
// other one freed) in anonymous shared memory; a child process takes the lock and is killed
// with SIGKILL, either inside a deallocation (at its 6th metadata write, merging with free
// chunks on both sides: the journal holds entries) or holding the lock between operations (the
// journal is empty). The parent then times its next acquisition in its two parts: the lock()
// that finds the holder dead and takes the lock over (it sleeps one slice first), and the
// repair with the lock held (the roll-back and its local check); and, for comparison, one full
// check() of the same heap. Prints the median of the rounds, in
// microseconds. Never fails on a time.
//
//   talc_recovery_time [--rounds R] [--chunks N ...]
#define TALC_FAULT_INJECTION 1  // the hook that kills the child mid-operation; this unit only

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "talc/region/mapping.hpp"
#include "talc/sync/talck_meta.hpp"

namespace {

using Heap = talc::TalckMeta<>;
using Clock = std::chrono::steady_clock;

constexpr int kDeathPoint = 6;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs `f` in a child that dies by SIGKILL; waits for it.
template <class F>
void die_in_child(F&& f) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    f();
    ::_exit(3);  // not reached: f kills the process
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    std::fprintf(stderr, "the child was not killed where planned\n");
    std::exit(1);
  }
}

int countdown = 0;
void kill_at_countdown() {
  if (--countdown == 0) ::kill(::getpid(), SIGKILL);
}

struct Recovery {
  double takeover;  // the lock() that finds the holder dead and takes its lock over
  double held;      // the repair, with the lock held: roll-back and local check
};

// Times the acquisition that follows a dead holder, in its two parts (TalckMeta::with_lock runs
// the same two steps, and counts the recovery); `journal` receives the entries it found.
Recovery recovery_micros(Heap& heap, std::uint64_t& journal) {
  journal = heap.meta().journal_size();
  const auto t0 = Clock::now();
  const talc::LockOutcome o = heap.lock().lock();
  const auto t1 = Clock::now();
  const talc::Result<std::uint64_t> undone = heap.meta().recover_after_death();
  const auto t2 = Clock::now();
  heap.lock().unlock();
  if (o != talc::LockOutcome::owner_died || !undone) {
    std::fprintf(stderr, "recovery failed\n");
    std::exit(1);
  }
  return {micros(t1 - t0), micros(t2 - t1)};
}

void run(std::size_t chunks, int rounds) {
  // 64-byte blocks take 80-byte chunks; room for them, the metadata and the top chunk.
  const std::size_t len = chunks * 80 + (std::size_t{1} << 20);
  talc::Mapping region = talc::Mapping::anonymous_shared(len, 4096);
  Heap& heap = **Heap::claim(region.base(), len);
  Heap::Core& core = heap.meta();
  std::vector<void*> blocks(chunks);
  for (void*& p : blocks) p = *core.allocate(64);
  for (std::size_t i = 0; i < chunks; i += 2) (void)core.deallocate(blocks[i]);
  void* const victim = blocks[chunks / 2 | 1];  // live, between two free chunks

  std::vector<double> takeover, mid, between, full;
  std::uint64_t entries = 0, empty = 0;
  for (int r = 0; r < rounds; ++r) {
    die_in_child([&] {
      countdown = kDeathPoint;
      talc::fault::hook = &kill_at_countdown;
      (void)heap.with_lock([&](Heap::Core& m) { (void)m.deallocate(victim); });
    });
    const Recovery r1 = recovery_micros(heap, entries);
    takeover.push_back(r1.takeover);
    mid.push_back(r1.held);
    die_in_child([&] {
      (void)heap.lock().lock();
      ::kill(::getpid(), SIGKILL);
    });
    const Recovery r2 = recovery_micros(heap, empty);
    takeover.push_back(r2.takeover);
    between.push_back(r2.held);
    const auto t0 = Clock::now();
    const bool ok = core.check().ok();
    full.push_back(micros(Clock::now() - t0));
    if (!ok) {
      std::fprintf(stderr, "check() failed after recovery\n");
      std::exit(1);
    }
  }
  std::printf("%10zu %19.1f %10llu %19.1f %14.0f %12.0f\n", chunks, median(mid),
              static_cast<unsigned long long>(entries), median(between), median(full),
              median(takeover));
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  std::vector<std::size_t> sizes;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (a == "--chunks") sizes.push_back(std::strtoull(argv[i + 1], nullptr, 10));
  }
  if (sizes.empty()) sizes = {10'000, 1'000'000, 4'000'000};
  std::printf(
      "recovery with the lock held after its holder was killed, and the takeover that precedes "
      "it (finding the holder dead); median of %d rounds, us\n",
      rounds);
  std::printf("%10s %19s %10s %19s %14s %12s\n", "chunks", "killed mid-free", "entries",
              "killed between ops", "full check()", "takeover");
  for (const std::size_t n : sizes) run(n, rounds);
}
