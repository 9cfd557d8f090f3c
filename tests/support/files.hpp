// Files for tests: a scratch folder of their own, a region name and heap file of their own, and
// bytes written into a heap file in place (to damage it, or to stage what a process left behind).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/process.hpp"

namespace talc_test {

// A folder under the temporary directory, named for the test and this process, removed with
// everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& what)
      : path_(std::filesystem::temp_directory_path() /
              ("talc-" + what + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A shared-memory object name and a heap file path that no other test run uses, for a test
// to create its regions at: both are removed when the object goes. The file lies directly in
// /tmp, so that a process that dropped its privileges can still reach it.
class ScratchRegion {
 public:
  explicit ScratchRegion(const char* what)
      : name_(UniqueShmName(what)),
        path_("/tmp/talc-" + std::string(what) + "-test-" + std::to_string(::getpid()) + ".heap") {}
  ~ScratchRegion() {
    ::shm_unlink(name_.c_str());
    std::remove(path_.c_str());
  }
  ScratchRegion(const ScratchRegion&) = delete;
  ScratchRegion& operator=(const ScratchRegion&) = delete;

  const std::string& shm_name() const noexcept { return name_; }
  const std::string& file() const noexcept { return path_; }

 private:
  std::string name_;
  std::string path_;
};

// Writes `n` bytes at offset `off` of the file, leaving the rest as it is.
inline void WriteAt(const std::filesystem::path& p, std::uint64_t off, const void* data,
                    std::size_t n) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(off));
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

}  // namespace talc_test
