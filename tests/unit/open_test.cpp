// Opening a region: who builds the heap, and the distinct, clear refusals of everything that
// is not a heap this build can use. A refusal never writes to the region.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "support/files.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::Errc;
using talc::MapTalc;
namespace fs = std::filesystem;

std::vector<char> ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteAll(const fs::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class OpenFile : public ::testing::Test {
 protected:
  // Opening `path` must fail with `code`, a message containing `says`, and no byte changed.
  template <class Heap = MapTalc<>>
  void ExpectRefused(const fs::path& path, Errc code, const std::string& says) {
    const std::vector<char> before = ReadAll(path);
    try {
      Heap::open_file(path.string(), talc::OpenOptions{.wait = std::chrono::milliseconds(50)});
      ADD_FAILURE() << path << " was opened";
    } catch (const talc::OpenError& e) {
      EXPECT_EQ(e.code(), make_error_code(code)) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
    EXPECT_EQ(ReadAll(path), before) << "a refused open wrote to the file";
  }

  talc_test::TempDir dir_{"open"};
};

TEST_F(OpenFile, AHeapFileIsReopenedWithItsBlocks) {
  const fs::path path = dir_ / "heap";
  std::uint64_t off = 0;
  {
    auto heap = MapTalc<>::create_file(path.string(), 1 << 20);
    const talc::Meta m = heap.allocate(13);
    std::memcpy(m.ptr(), "hello, again", 13);
    off = m.offset;
    heap.set_root(off);
  }
  auto heap = MapTalc<>::open_file(path.string());
  EXPECT_EQ(heap.root(), off);
  const talc::Result<talc::Meta> m =
      heap.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(off), 13));
  ASSERT_TRUE(m.ok());
  EXPECT_STREQ(m->as<const char>(), "hello, again");
  EXPECT_TRUE(heap.check().ok());
}

// A create that fails after it made the object (a size or a maximum no address space holds)
// removes it: the same create with a size that fits then succeeds, not EEXIST.
TEST_F(OpenFile, AFailedCreateLeavesNothingBehind) {
  const fs::path path = dir_ / "heap";
  EXPECT_ANY_THROW(
      MapTalc<>::create_file(path.string(), 1 << 20, {.max_size = std::size_t{1} << 50}));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_ANY_THROW(MapTalc<>::create_file(path.string(), std::size_t{1} << 50));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_NO_THROW(MapTalc<>::create_file(path.string(), 1 << 20));

  const std::string name = talc_test::UniqueShmName("failed-create");
  EXPECT_ANY_THROW(MapTalc<>::create_shm(name, std::size_t{1} << 50));
  EXPECT_FALSE(MapTalc<>::remove_shm(name)) << "the object was left behind";
  EXPECT_ANY_THROW(MapTalc<>::create_shm(name, 1 << 20, {.max_size = std::size_t{1} << 50}));
  EXPECT_FALSE(MapTalc<>::remove_shm(name)) << "the object was left behind";
  EXPECT_NO_THROW(MapTalc<>::create_shm(name, 1 << 20));
  EXPECT_TRUE(MapTalc<>::remove_shm(name));
}

TEST_F(OpenFile, AFileThatIsNotAHeapIsRefused) {
  const fs::path path = dir_ / "random";
  std::vector<char> noise(1 << 20);
  std::mt19937 rng(7);
  for (char& c : noise) c = static_cast<char>(rng());
  WriteAll(path, noise);
  ExpectRefused(path, Errc::not_a_heap, "not a talc heap");
}

TEST_F(OpenFile, AHeapOfAnotherConfigurationIsRefusedNamingBothFingerprints) {
  using Other = MapTalc<talc::BinConfig<2, 128, 3>>;
  const fs::path path = dir_ / "other";
  Other::create_file(path.string(), 1 << 20);
  char theirs[32], ours[32];
  std::snprintf(theirs, sizeof theirs, "%#llx",
                static_cast<unsigned long long>(
                    talc::Talc<talc::BinConfig<2, 128, 3>>::HeaderType::fingerprint()));
  std::snprintf(ours, sizeof ours, "%#llx",
                static_cast<unsigned long long>(talc::Talc<>::HeaderType::fingerprint()));
  ExpectRefused(path, Errc::config_mismatch, theirs);
  ExpectRefused(path, Errc::config_mismatch, ours);
}

TEST_F(OpenFile, AHeapOfAnotherVersionIsRefusedNamingBothVersions) {
  const fs::path path = dir_ / "v2";
  MapTalc<>::create_file(path.string(), 1 << 20);
  std::vector<char> bytes = ReadAll(path);
  bytes[8] = 7;  // the version word follows the 8-byte magic
  WriteAll(path, bytes);
  ExpectRefused(path, Errc::version_mismatch, "version 7; this build reads version 5");
}

TEST_F(OpenFile, ATruncatedHeapIsRefused) {
  const fs::path path = dir_ / "short";
  MapTalc<>::create_file(path.string(), 1 << 20);
  fs::resize_file(path, 1 << 19);
  ExpectRefused(path, Errc::region_truncated, "says 1048576 bytes; only 524288");
}

// A forged size below the metadata's own would make the heap's span wrap around.
TEST_F(OpenFile, AHeaderClaimingATinyRegionIsRefused) {
  const fs::path path = dir_ / "tiny-size";
  MapTalc<>::create_file(path.string(), 1 << 20);
  std::vector<char> bytes = ReadAll(path);
  const std::uint64_t forged = 64;
  std::memcpy(bytes.data() + 24, &forged, 8);  // region_size follows magic, version, fingerprint
  WriteAll(path, bytes);
  ExpectRefused(path, Errc::corrupted, "fewer than any heap needs");
}

TEST_F(OpenFile, AnEmptyFileIsAnOsErrorNamingTheFile) {
  const fs::path path = dir_ / "empty";
  WriteAll(path, {});
  try {
    MapTalc<>::open_file(path.string());
    ADD_FAILURE();
  } catch (const talc::MapError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST_F(OpenFile, TooSmallToCreateIsRefusedAndLeavesNoFile) {
  const fs::path path = dir_ / "tiny";
  try {
    MapTalc<>::create_file(path.string(), 1024);
    ADD_FAILURE();
  } catch (const talc::OpenError& e) {
    EXPECT_EQ(e.code(), make_error_code(Errc::region_too_small)) << e.what();
  }
  EXPECT_FALSE(fs::exists(path));
}

// A builder that died half-way: its pid is gone and the state still says "initialising".
TEST_F(OpenFile, AnAbandonedBuildIsRecognisedAndTakenOverOnlyByACreator) {
  const fs::path path = dir_ / "abandoned";
  fs::resize_file((std::ofstream(path), path), 1 << 20);
  const pid_t dead = talc_test::Spawn([] { return 0; });
  ASSERT_EQ(talc_test::Wait(dead), 0);
  std::vector<char> bytes = ReadAll(path);
  const std::uint64_t state = (std::uint64_t(dead) << 8) | 1;  // initialising, by `dead`
  std::memcpy(bytes.data() + 40, &state, 8);                   // after region_size and max_size
  WriteAll(path, bytes);

  ExpectRefused(path, Errc::init_abandoned, "died while building");

  auto region = talc::MappedRegion::file(path.string(), talc::OpenMode::open_only);
  const auto h = talc::Talc<>::HeaderType::open({.base = region.base(),
                                                 .len = region.size(),
                                                 .role = talc::OpenRole::either,
                                                 .wait = std::chrono::milliseconds(50)});
  ASSERT_TRUE(h) << h.why;
  EXPECT_TRUE(h.built);
  EXPECT_EQ(h.header->state(), talc::InitState::initialised);
}

// A builder whose pid now names another, live process (our parent, under another start tag):
// still a dead builder, not one to wait for.
TEST_F(OpenFile, ABuilderWhosePidWasReusedIsADeadBuilder) {
  const fs::path path = dir_ / "reused";
  fs::resize_file((std::ofstream(path), path), 1 << 20);
  const auto ppid = static_cast<std::uint64_t>(::getppid());
  const std::uint64_t tag = talc::process_tag(static_cast<std::uint32_t>(ppid)) ^ 0x5a5a5a5au;
  std::vector<char> bytes = ReadAll(path);
  const std::uint64_t state = (tag << 32) | (ppid << 8) | 1;  // initialising, by "ppid"
  std::memcpy(bytes.data() + 40, &state, 8);
  WriteAll(path, bytes);
  ExpectRefused(path, Errc::init_abandoned, "died while building");
}

TEST(OpenShm, ManyProcessesRacingToCreateBuildExactlyOneHeap) {
  const std::string name = talc_test::UniqueShmName("race");
  constexpr int kProcs = 8;
  talc_test::Signal go;
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; ++i)
    pids.push_back(talc_test::Spawn([&] {
      if (!go.Await()) return 3;
      auto heap = MapTalc<>::open_or_create_shm(name, 4 << 20);
      const talc::Meta m = heap.allocate(100);  // everybody can use what somebody built
      if (heap.deallocate(m) != Errc::ok) return 4;
      return heap.built() ? 10 : 0;
    }));
  for (int i = 0; i < kProcs; ++i) go.Notify();
  int creators = 0;
  for (pid_t pid : pids) {
    const int rc = talc_test::Wait(pid);
    EXPECT_TRUE(rc == 0 || rc == 10) << rc;
    creators += rc == 10;
  }
  EXPECT_EQ(creators, 1);
  auto heap = MapTalc<>::open_shm(name);
  EXPECT_TRUE(heap.check().ok());
  EXPECT_EQ(heap.census().free_chunks, 1u);
  MapTalc<>::remove_shm(name);
}

TEST(OpenShm, OsErrorsNameTheCallAndTheObject) {
  try {
    MapTalc<>::open_shm("/talc-test-this-does-not-exist");
    ADD_FAILURE();
  } catch (const talc::MapError& e) {
    EXPECT_STREQ(e.what(), "shm_open(/talc-test-this-does-not-exist): No such file or directory");
  }
}

TEST(OpenMemory, AnonymousSharedHeapIsInheritedOverFork) {
  auto heap = MapTalc<>::anonymous(1 << 20);
  const talc::Meta m = heap.allocate(32);
  const pid_t child = talc_test::Spawn([&] {
    // Same mapping, inherited: the child frees what the parent allocated.
    return heap.deallocate(m) == Errc::ok ? 0 : 1;
  });
  EXPECT_EQ(talc_test::Wait(child), 0);
  EXPECT_EQ(heap.census().live_chunks, 0u);
  EXPECT_TRUE(heap.check().ok());
}

TEST(OpenMemory, AMemfdHeapIsOpenedThroughItsDescriptor) {
  const int fd = ::memfd_create("talc-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
  const int dup = ::dup(fd);
  auto a = MapTalc<>::from_fd(talc::Fd(fd));
  auto b = MapTalc<>::from_fd(talc::Fd(dup), talc::OpenRole::attach);  // as a receiver would
  const talc::Meta m = a.allocate(100);
  EXPECT_TRUE(b.adopt(m.rel()).ok());
  EXPECT_EQ(b.deallocate(*b.adopt(m.rel())), Errc::ok);
  // The block went back to its page, which the lane this thread holds through a's mapping
  // owns: a's trim() gives the empty page back.
  EXPECT_EQ(a.trim(), Errc::ok);
  EXPECT_EQ(a.census().free_chunks, 1u);
}

}  // namespace
