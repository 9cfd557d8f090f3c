// Who may open a heap: a region is created with exactly the permission bits asked for, whatever
// the umask, so a service and its clients running as two users of one group can share it; and
// a private copy (what the tool inspects) needs only read permission.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "support/files.hpp"
#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::MapTalc;

constexpr std::size_t kSize = 1 << 20;

// The permission bits of a path, or -1.
int ModeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

std::vector<char> Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

talc::OpenOptions WithMode(unsigned mode) {
  talc::OpenOptions o;
  o.mode = mode;
  return o;
}

class Permissions : public ::testing::Test {
 protected:
  talc_test::ScratchRegion scratch_{"perm"};
  const std::string name_ = scratch_.shm_name();
  const std::string path_ = scratch_.file();
};

// Created by a child whose umask masks every bit but the owner's: the bits are still exact.
TEST_F(Permissions, ARegionGetsItsModeWhateverTheUmask) {
  const pid_t child = talc_test::Spawn([&] {
    ::umask(077);
    MapTalc<>::create_file(path_, kSize, WithMode(0640));
    MapTalc<>::create_shm(name_, kSize, WithMode(0660));
    return 0;
  });
  ASSERT_EQ(talc_test::Wait(child), 0);
  EXPECT_EQ(ModeOf(path_), 0640);
  EXPECT_EQ(ModeOf("/dev/shm" + name_), 0660);
  EXPECT_NO_THROW(MapTalc<>::open_shm(name_));
}

TEST_F(Permissions, TheDefaultModeIsTheOwnersAlone) {
  const pid_t child = talc_test::Spawn([&] {
    ::umask(0);
    MapTalc<>::create_file(path_, kSize);
    return 0;
  });
  ASSERT_EQ(talc_test::Wait(child), 0);
  EXPECT_EQ(ModeOf(path_), 0600);
}

TEST_F(Permissions, AModeBeyondPermissionBitsIsRefusedAndCreatesNothing) {
  for (const unsigned mode : {04755u, 01777u, 010000u}) {
    try {
      MapTalc<>::create_file(path_, kSize, WithMode(mode));
      ADD_FAILURE() << "mode " << mode << " accepted";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::invalid_argument) << e.what();
      EXPECT_NE(std::string(e.what()).find("0777"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ModeOf(path_), -1) << "a refused create left a file";
  }
}

// A file its reader may not write: as root (who ignores permission bits), the child reads as
// nobody. The read-write open is refused; the private copy opens, takes writes in its pages,
// and the file keeps every byte.
TEST_F(Permissions, APrivateCopyNeedsOnlyReadPermission) {
  MapTalc<>::create_file(path_, kSize, WithMode(0444)).allocate(1000);
  const std::vector<char> before = Contents(path_);
  const pid_t child = talc_test::Spawn([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 77;
    try {
      talc::MappedRegion::file(path_, talc::OpenMode::open_only);
      return 1;  // opened read-write: the test proves nothing
    } catch (const talc::MapError& e) {
      if (e.code() != std::errc::permission_denied) return 2;
    }
    const auto copy = talc::MappedRegion::file(path_, talc::OpenMode::open_only,
                                               talc::MapLayout{.private_copy = true});
    if (copy.size() != kSize) return 3;
    std::memset(copy.base(), 0xEE, copy.size());
    return 0;
  });
  const int rc = talc_test::Wait(child);
  if (rc == 77) GTEST_SKIP() << "cannot drop root privileges to read as another user";
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(Contents(path_) == before) << "a write to the private copy reached the file";
}

TEST_F(Permissions, APrivateCopyOfARegionThatDoesNotExistIsRefused) {
  for (const auto mode : {talc::OpenMode::create_only, talc::OpenMode::open_or_create}) {
    try {
      talc::MappedRegion::file(path_, mode, talc::MapLayout{.size = kSize, .private_copy = true});
      ADD_FAILURE() << "a private copy created its source";
    } catch (const talc::MapError& e) {
      EXPECT_EQ(e.code(), std::errc::invalid_argument) << e.what();
    }
    EXPECT_EQ(ModeOf(path_), -1);
  }
}

}  // namespace
