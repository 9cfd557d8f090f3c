// Layer 7 — mapping: where a region's bytes come from, and their mapping into this process.
//
// Sources: a POSIX shared memory object (by name), a file (by path), a file descriptor
// received from elsewhere (a memfd passed over a Unix socket, say), and anonymous shared memory
// that children inherit over fork. Each process maps a region at a base aligned to
// `MapLayout::align` (2 MiB by default), not just to a page: an alignment the heap promised in
// one process then holds in every process.
//
// Ownership is RAII and move-only: a `Fd` closes once, a `Mapping` unmaps once. Failures
// throw `MapError`, whose text names the call, the object and the errno text. This is the
// only layer that includes OS headers (in src/region/mapping.cpp); nothing above it does.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

namespace talc {

/// The alignment of every region's base, in every process; also the largest alignment a
/// shared heap hands out.
inline constexpr std::size_t kRegionAlign = std::size_t{2} << 20;

enum class OpenMode : unsigned char {
  create_only,     // fail if it exists
  open_only,       // fail if it does not exist
  open_or_create,  // either
};

struct MapLayout {
  std::size_t size = 0;  // bytes to create; when opening, 0 means "whatever size it has"
  std::size_t align = kRegionAlign;
  /// Address space to map, when larger than the size: the region may then grow up to it in
  /// place (see MappedRegion::extend), every process keeping its base and its pointers.
  std::size_t reserve = 0;
  /// A copy-on-write view: this process may read the region and write its own copy of the
  /// pages, and nothing it writes ever reaches the region (for tools that inspect heaps). The
  /// source is opened read-only, so reading needs no write permission; it must exist already.
  bool private_copy = false;
  /// Permission bits of a shared memory object or file this open creates, exactly (the umask
  /// does not narrow them): 0660 lets a group share the heap. Bits beyond 0777 are refused.
  unsigned mode = 0600;
};

class MapError : public std::system_error {
 public:
  /// what(): "<call>(<object>): <errno text>"
  MapError(const char* call, const std::string& object, int err);
};

class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int get() const noexcept { return fd_; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

class Mapping {
 public:
  Mapping() noexcept = default;
  Mapping(Mapping&& o) noexcept;
  Mapping& operator=(Mapping&& o) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  /// Maps [0, size) of `fd`, shared, read-write, at a base aligned to `align`.
  static Mapping of_fd(const Fd& fd, std::size_t size, std::size_t align, const std::string& what,
                       bool private_copy = false);
  /// Anonymous shared memory: shared with children forked after this call.
  static Mapping anonymous_shared(std::size_t size, std::size_t align);

  void* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }

 private:
  Mapping(void* base, std::size_t size) noexcept : base_(base), size_(size) {}
  void reset() noexcept;

  void* base_ = nullptr;
  std::size_t size_ = 0;
};

/// A region: its source (when it has one) and this process's mapping of it.
class MappedRegion {
 public:
  static MappedRegion shm(const std::string& name, OpenMode mode, MapLayout layout = {});
  static MappedRegion file(const std::string& path, OpenMode mode, MapLayout layout = {});
  /// Takes ownership of `fd`; maps its current size when layout.size is 0.
  static MappedRegion from_fd(Fd fd, MapLayout layout = {});
  static MappedRegion anonymous(MapLayout layout);

  /// Removes a shared memory object's name; false if there was none. Mappings stay valid.
  static bool remove_shm(const std::string& name);

  /// Removes the name this region was opened by (shared memory object or file), if it has
  /// one; the mapping stays valid. Never throws: this runs on error paths.
  void unlink_source() const noexcept;

  /// Another mapping of the same bytes, at another address (for a region with a source).
  Mapping map_again() const;

  /// Where this open stands among the opens of the same source. Each open of a region holds a
  /// shared lock on one byte of the source, far past any data (an open-file-description lock:
  /// the kernel drops it when the last descriptor of this open is closed, by a death too, and
  /// a child of fork shares it), for as long as it maps it. The lock is taken through a new
  /// open of the source (/proc/self/fd), never through a descriptor that another process may
  /// share. join() first tries the byte alone:
  ///  - alone: no other open of the source exists; this one holds the byte exclusively until
  ///    settle(), so every later opener waits for it (to re-initialise the locks, say);
  ///  - shared: another open exists;
  ///  - unknown: the source cannot tell (anonymous memory, a read-only open, a file system
  ///    without such locks).
  /// Waits at most `wait` while another opener is alone, then throws MapError (ETIMEDOUT).
  enum class Company : unsigned char { alone, shared, unknown };
  Company join(std::chrono::milliseconds wait);
  void settle();

  /// Maps the region again with `length` bytes of address space (when that is more than now),
  /// so that it can grow to `length` without moving. The base changes: only for a region
  /// nothing points into yet. Bytes past the source's size fault until it grows.
  void reserve(std::size_t length);
  /// The bytes the source holds now (for anonymous memory, the mapping's size): the mapping may
  /// be longer, reserved for growth.
  std::size_t source_size() const;
  /// Grows the source (shared memory object or file) from `from` to `to` bytes, with storage
  /// behind every new byte (posix_fallocate): a full file system is a clean refusal here, not
  /// a SIGBUS when the bytes are first touched. Never shrinks the source; backs the bytes even
  /// when the source is already that long (a grower that died after a bare resize). Every
  /// process's reserved mapping sees the new bytes at once. Returns 0 or an errno value; never
  /// throws, since it runs under the heap's lock.
  static int extend(int fd, std::size_t from, std::size_t to) noexcept;

  void* base() const noexcept { return map_.base(); }
  std::size_t size() const noexcept { return map_.size(); }
  int fd() const noexcept { return fd_.get(); }
  const std::string& name() const noexcept { return name_; }
  /// Whether this open created the object (it was not there before).
  bool created() const noexcept { return created_; }
  std::size_t align() const noexcept { return align_; }

 private:
  enum class Source : unsigned char { shm, file, fd, anonymous };
  MappedRegion(Source source, Fd fd, Mapping map, std::string name, bool created,
               std::size_t align) noexcept
      : source_(source),
        fd_(std::move(fd)),
        map_(std::move(map)),
        name_(std::move(name)),
        created_(created),
        align_(align) {}

  Source source_;
  Fd fd_;
  Fd presence_;  // this open's own description of the source, which holds the presence lock
  Mapping map_;
  std::string name_;
  bool created_ = false;
  std::size_t align_ = kRegionAlign;
};

}  // namespace talc
