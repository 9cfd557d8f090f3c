// How long the heap stays locked when its holder dies: a heap of N chunks (64-byte blocks, every
// other one freed) in anonymous shared memory; a child process takes the lock and is killed
// with SIGKILL, either inside a deallocation (at its 6th metadata write, merging with free
// chunks on both sides: the journal holds entries) or holding the lock between operations (the
// journal is empty). The parent then times its next acquisition, which recovers the heap
// (TalckMeta::with_lock: the lock's owner-died path, the roll-back and its local check), and,
// for comparison, one full check() of the same heap. Prints the median of the rounds, in
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

#include "talc/mapping.hpp"
#include "talc/talck_meta.hpp"

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

// Times the acquisition that follows a dead holder; `journal` receives the entries it found.
double recovery_micros(Heap& heap, std::uint64_t& journal) {
  journal = heap.meta().journal_size();
  bool recovered = false;
  const auto t0 = Clock::now();
  const talc::Errc e = heap.with_lock([](Heap::Meta&) {}, &recovered);
  const auto t1 = Clock::now();
  if (e != talc::Errc::ok || !recovered) {
    std::fprintf(stderr, "recovery failed: %s\n", talc::describe(e));
    std::exit(1);
  }
  return micros(t1 - t0);
}

void run(std::size_t chunks, int rounds) {
  // 64-byte blocks take 80-byte chunks; room for them, the metadata and the top chunk.
  const std::size_t len = chunks * 80 + (std::size_t{1} << 20);
  talc::Mapping region = talc::Mapping::anonymous_shared(len, 4096);
  Heap& heap = **Heap::claim(region.base(), len);
  Heap::Meta& core = heap.meta();
  std::vector<void*> blocks(chunks);
  for (void*& p : blocks) p = *core.allocate(64);
  for (std::size_t i = 0; i < chunks; i += 2) (void)core.deallocate(blocks[i]);
  void* const victim = blocks[chunks / 2 | 1];  // live, between two free chunks

  std::vector<double> mid, between, full;
  std::uint64_t entries = 0, empty = 0;
  for (int r = 0; r < rounds; ++r) {
    die_in_child([&] {
      countdown = kDeathPoint;
      talc::fault::hook = &kill_at_countdown;
      (void)heap.with_lock([&](Heap::Meta& m) { (void)m.deallocate(victim); });
    });
    mid.push_back(recovery_micros(heap, entries));
    die_in_child([&] {
      (void)heap.lock().lock();
      ::kill(::getpid(), SIGKILL);
    });
    between.push_back(recovery_micros(heap, empty));
    const auto t0 = Clock::now();
    const bool ok = core.check().ok();
    full.push_back(micros(Clock::now() - t0));
    if (!ok) {
      std::fprintf(stderr, "check() failed after recovery\n");
      std::exit(1);
    }
  }
  std::printf("%10zu %19.1f %10llu %19.1f %14.0f\n", chunks, median(mid),
              static_cast<unsigned long long>(entries), median(between), median(full));
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
  std::printf("recovery with the lock held after its holder was killed; median of %d rounds, us\n",
              rounds);
  std::printf("%10s %19s %10s %19s %14s\n", "chunks", "killed mid-free", "entries",
              "killed between ops", "full check()");
  for (const std::size_t n : sizes) run(n, rounds);
}
