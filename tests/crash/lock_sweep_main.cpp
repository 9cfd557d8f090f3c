// The lock-word sweep: every value of every byte of every lock word a region holds (the
// heap's, the named directory's), each written into a copy of a heap file, which a new process
// then opens, allocates from, names an object in, and checks. Twice per value: once with the
// opener alone (it re-initialises the locks), once while another process has the file open
// (it must refuse the damage, or take a plausible dead holder's lock over). Never a hang (a
// child gets a few seconds), never a crash, never an inconsistent heap: each opener either
// works or gets a clear error.
//
//   talc_lock_sweep [--full]     (exit 0: no hang, crash or inconsistency)
// Without --full, a sample of values per byte (CI's form); --full tries all 256.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/files.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kWorks = 0, kInconsistent = 3;
constexpr int kRefusedBase = 10;       // + the Errc of a call that refused
constexpr int kOpenRefusedBase = 100;  // + the Errc of an open that refused
constexpr auto kChildBound = std::chrono::seconds(5);

// The child: everything a user would do first, each step's refusal a clear error.
int UseHeap(const fs::path& path) {
  try {
    auto heap = talc::MapTalc<>::open_file(path.string());
    const talc::Result<talc::Meta> m = heap.try_allocate(100);
    if (!m) return kRefusedBase + static_cast<int>(m.error());
    const talc::Result<std::uint64_t*> named = heap.find_or_construct<std::uint64_t>("sweep", 7);
    if (!named) return kRefusedBase + static_cast<int>(named.error());
    const talc::CheckReport rep = heap.check();
    if (rep.code == talc::Errc::corrupted) return kInconsistent;
    if (!rep.ok()) return kRefusedBase + static_cast<int>(rep.code);
    return heap.deallocate(*m) == talc::Errc::ok ? kWorks : kInconsistent;
  } catch (const talc::OpenError& e) {
    return kOpenRefusedBase + e.code().value();
  }
}

// Waits for `pid` at most `bound`; -1 when it had to be killed (a hang), -signal when a
// signal ended it, its exit status otherwise.
int WaitBounded(pid_t pid, std::chrono::seconds bound) {
  const auto deadline = Clock::now() + bound;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

struct Word {
  const char* name;
  std::uint64_t offset;
};

// A heap file with a named object (so the directory and its lock exist), and where its lock
// words lie.
std::vector<Word> MakePristine(const fs::path& path) {
  auto heap = talc::MapTalc<>::create_file(path.string(), 1 << 20);
  if (!heap.find_or_construct<std::uint64_t>("first", 1)) throw std::runtime_error("no directory");
  return {
      {"heap lock", talc::Header<talc::LaneHeap<>>::kBodyOffset + talc::LaneHeap<>::kSyncOffset},
      {"directory lock", heap.header().directory() + offsetof(talc::named_detail::Segment, lock)}};
}

std::string Describe(int rc) {
  if (rc == kWorks) return "works";
  if (rc == -1) return "HANG";
  if (rc < 0) return "CRASH (signal " + std::to_string(-rc) + ")";
  if (rc == kInconsistent) return "INCONSISTENT";
  if (rc >= kOpenRefusedBase)
    return std::string("open refused: ") +
           talc::describe(static_cast<talc::Errc>(rc - kOpenRefusedBase));
  if (rc >= kRefusedBase)
    return std::string("refused: ") + talc::describe(static_cast<talc::Errc>(rc - kRefusedBase));
  return "exit " + std::to_string(rc);
}

}  // namespace

int main(int argc, char** argv) {
  const bool full = argc > 1 && std::strcmp(argv[1], "--full") == 0;
  if (argc > 2 || (argc == 2 && !full)) {
    std::fprintf(stderr, "usage: %s [--full]\n", argv[0]);
    return 2;
  }
  const talc_test::TempDir dir("sweep");
  const fs::path pristine = dir / "pristine", trial = dir / "trial";
  const std::vector<Word> words = MakePristine(pristine);

  std::vector<unsigned> values;
  if (full) {
    for (unsigned v = 0; v < 256; ++v) values.push_back(v);
  } else {
    values = {0x01, 0x02, 0x40, 0x7f, 0x80, 0xa5, 0xc0, 0xff};
  }

  std::map<std::string, unsigned> outcomes;
  unsigned bad = 0, cases = 0;
  double slowest = 0;
  const auto t0 = Clock::now();
  for (const Word& w : words)
    for (unsigned byte = 0; byte < 8; ++byte)
      for (unsigned v : values)
        for (const bool shared : {false, true}) {
          fs::copy_file(pristine, trial, fs::copy_options::overwrite_existing);
          talc_test::Signal opened, done;
          pid_t bystander = -1;
          if (shared) {  // opens before the damage, so the opener below is not alone
            bystander = talc_test::Spawn([&] {
              auto heap = talc::MapTalc<>::open_file(trial.string());
              opened.Notify();
              done.Await();
              return 0;
            });
            opened.Await();
          }
          const auto b = static_cast<unsigned char>(v);
          talc_test::WriteAt(trial, w.offset + byte, &b, 1);
          const auto c0 = Clock::now();
          const int rc = WaitBounded(talc_test::Spawn([&] { return UseHeap(trial); }), kChildBound);
          const double secs = std::chrono::duration<double>(Clock::now() - c0).count();
          if (secs > slowest) slowest = secs;
          if (shared) {
            done.Notify();
            talc_test::Wait(bystander);
          }
          ++cases;
          ++outcomes[Describe(rc)];
          if (rc < 0 || rc == kInconsistent || (rc > 0 && rc < kRefusedBase)) {
            ++bad;
            std::printf("%s byte %u = %#04x (%s): %s\n", w.name, byte, v,
                        shared ? "shared" : "alone", Describe(rc).c_str());
          }
        }
  std::printf(
      "talc lock sweep: %u cases (%zu words x 8 bytes x %zu values x alone/shared) in "
      "%.1f s; slowest child %.3f s\n",
      cases, words.size(), values.size(), std::chrono::duration<double>(Clock::now() - t0).count(),
      slowest);
  for (const auto& [what, n] : outcomes) std::printf("  %5u  %s\n", n, what.c_str());
  std::printf("%s\n", bad == 0 ? "OK" : "FAILED");
  return bad == 0 ? 0 : 1;
}
