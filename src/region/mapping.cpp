// The mapping layer over POSIX: shm_open, open, ftruncate, mmap.
//
// An aligned mapping is made by reserving size + align bytes of address space with no access,
// mapping the object over the aligned part with MAP_FIXED, and giving back the slack on both
// sides; the kernel alone only promises page alignment.
#include "talc/region/mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

namespace talc {

namespace {

std::string call_on(const char* call, const std::string& object) {
  return std::string(call) + "(" + object + ")";
}

// Reserves address space and maps `fd` (or anonymous shared memory, fd < 0) at an aligned base.
void* map_aligned(int fd, std::size_t size, std::size_t align, const std::string& what,
                  bool private_copy) {
  if (size == 0) throw MapError("mmap", what, EINVAL);
  if (align < static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) || (align & (align - 1)) != 0)
    throw MapError("mmap", what + ": alignment must be a power of two of at least a page", EINVAL);
  const std::size_t reserve = size + align;
  void* r = ::mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) throw MapError("mmap", what, errno);
  const auto start = reinterpret_cast<std::uintptr_t>(r);
  const std::uintptr_t aligned = (start + align - 1) & ~(std::uintptr_t{align} - 1);
  const int flags =
      (private_copy ? MAP_PRIVATE : MAP_SHARED) | MAP_FIXED | (fd < 0 ? MAP_ANONYMOUS : 0);
  void* m = ::mmap(reinterpret_cast<void*>(aligned), size, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (m == MAP_FAILED) {
    const int err = errno;
    ::munmap(r, reserve);
    throw MapError("mmap", what, err);
  }
  if (aligned > start) ::munmap(r, aligned - start);
  const std::uintptr_t end = aligned + size, reserve_end = start + reserve;
  // Round the mapped end up to a page: the tail slack starts on the next page boundary.
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t tail = (end + page - 1) & ~(page - 1);
  if (reserve_end > tail) ::munmap(reinterpret_cast<void*>(tail), reserve_end - tail);
  return m;
}

std::size_t size_of(const Fd& fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw MapError("fstat", what, errno);
  return static_cast<std::size_t>(st.st_size);
}

// A creator makes the object and sizes it in two steps; an opener that comes in between sees
// size 0 for a moment. Wait for the size, a bounded time.
std::size_t wait_for_size(const Fd& fd, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    const std::size_t size = size_of(fd, what);
    if (size != 0) return size;
    if (std::chrono::steady_clock::now() >= deadline)
      throw MapError("fstat", what + ": empty", EINVAL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Gives a just-created object its mode and size, or removes it. The mode given to open is
// narrowed by the process's umask (022 would turn 0660 into 0640, and a group member could not
// write): fchmod sets exactly the bits asked for.
template <class UnlinkFn>
void shape_created(const Fd& fd, UnlinkFn unlink_fn, const std::string& name,
                   const MapLayout& layout) {
  const auto fail = [&](const char* call) {
    const int err = errno;
    unlink_fn(name.c_str());  // do not leave a half-made object behind
    throw MapError(call, name, err);
  };
  if (::fchmod(fd.get(), static_cast<mode_t>(layout.mode)) != 0) fail("fchmod");
  if (::ftruncate(fd.get(), static_cast<off_t>(layout.size)) != 0) fail("ftruncate");
}

// Opens (and when it creates, sizes) a shared memory object or a file; `open_fn` is shm_open
// or open. Returns the descriptor and whether it created the object. A private copy opens
// read-only: it never writes the source, so it needs only read permission.
template <class OpenFn, class UnlinkFn>
std::pair<Fd, bool> open_sized(OpenFn open_fn, UnlinkFn unlink_fn, const char* call,
                               const std::string& name, OpenMode mode, const MapLayout& layout) {
  if (layout.private_copy && mode != OpenMode::open_only)
    throw MapError(call, name + ": a private copy is of a region that exists", EINVAL);
  if (mode != OpenMode::open_only) {
    if (layout.size == 0) throw MapError(call, name + ": a size is needed to create", EINVAL);
    if ((layout.mode & ~0777u) != 0)
      throw MapError(call, name + ": a mode has permission bits only (at most 0777)", EINVAL);
    Fd fd(open_fn(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd) {
      shape_created(fd, unlink_fn, name, layout);
      return {std::move(fd), true};
    }
    if (errno != EEXIST || mode == OpenMode::create_only) throw MapError(call, name, errno);
  }
  const int access = layout.private_copy ? O_RDONLY : O_RDWR;
  Fd fd(open_fn(name.c_str(), access | O_CLOEXEC, 0));
  if (!fd) throw MapError(call, name, errno);
  return {std::move(fd), false};
}

// Runs `map` (which maps what open_sized gave): an object this call created and could not map
// (a size or a maximum larger than the address space, say) is removed, not left behind to make
// the next create fail with EEXIST.
template <class UnlinkFn, class Map>
MappedRegion removed_unless_mapped(bool created, UnlinkFn unlink_fn, const std::string& name,
                                   Map&& map) {
  try {
    return map();
  } catch (...) {
    if (created) unlink_fn(name.c_str());
    throw;
  }
}

}  // namespace

MapError::MapError(const char* call, const std::string& object, int err)
    : std::system_error(err, std::generic_category(), call_on(call, object)) {}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Mapping::Mapping(Mapping&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}

Mapping& Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    reset();
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() {
  reset();
}

void Mapping::reset() noexcept {
  if (base_ != nullptr) ::munmap(base_, size_);
  base_ = nullptr;
  size_ = 0;
}

Mapping Mapping::of_fd(const Fd& fd, std::size_t size, std::size_t align, const std::string& what,
                       bool private_copy) {
  return Mapping(map_aligned(fd.get(), size, align, what, private_copy), size);
}

Mapping Mapping::anonymous_shared(std::size_t size, std::size_t align) {
  return Mapping(map_aligned(-1, size, align, "anonymous shared memory", false), size);
}

MappedRegion MappedRegion::shm(const std::string& name, OpenMode mode, MapLayout layout) {
  auto [fd, created] = open_sized(::shm_open, ::shm_unlink, "shm_open", name, mode, layout);
  return removed_unless_mapped(created, ::shm_unlink, name, [&, &fd = fd, created = created] {
    const std::size_t size = created ? layout.size : wait_for_size(fd, name);
    Mapping map =
        Mapping::of_fd(fd, std::max(size, layout.reserve), layout.align, name, layout.private_copy);
    return MappedRegion(Source::shm, std::move(fd), std::move(map), name, created, layout.align);
  });
}

MappedRegion MappedRegion::file(const std::string& path, OpenMode mode, MapLayout layout) {
  auto open_file = [](const char* p, int flags, mode_t m) { return ::open(p, flags, m); };
  auto [fd, created] = open_sized(open_file, ::unlink, "open", path, mode, layout);
  return removed_unless_mapped(created, ::unlink, path, [&, &fd = fd, created = created] {
    const std::size_t size = created ? layout.size : size_of(fd, path);
    if (size == 0) throw MapError("mmap", path + ": the file is empty", EINVAL);
    Mapping map =
        Mapping::of_fd(fd, std::max(size, layout.reserve), layout.align, path, layout.private_copy);
    return MappedRegion(Source::file, std::move(fd), std::move(map), path, created, layout.align);
  });
}

MappedRegion MappedRegion::from_fd(Fd fd, MapLayout layout) {
  const std::string what = "fd " + std::to_string(fd.get());
  const std::size_t size = layout.size != 0 ? layout.size : size_of(fd, what);
  Mapping map = Mapping::of_fd(fd, std::max(size, layout.reserve), layout.align, what);
  return MappedRegion(Source::fd, std::move(fd), std::move(map), what, false, layout.align);
}

MappedRegion MappedRegion::anonymous(MapLayout layout) {
  return MappedRegion(Source::anonymous, Fd(), Mapping::anonymous_shared(layout.size, layout.align),
                      "anonymous shared memory", true, layout.align);
}

bool MappedRegion::remove_shm(const std::string& name) {
  if (::shm_unlink(name.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw MapError("shm_unlink", name, errno);
}

void MappedRegion::unlink_source() const noexcept {
  if (source_ == Source::shm) ::shm_unlink(name_.c_str());
  if (source_ == Source::file) ::unlink(name_.c_str());
}

void MappedRegion::reserve(std::size_t length) {
  if (length <= size()) return;
  if (!fd_) throw MapError("mmap", name_ + ": anonymous memory cannot grow", EINVAL);
  map_ = Mapping::of_fd(fd_, length, align_, name_);
}

std::size_t MappedRegion::source_size() const {
  return fd_ ? size_of(fd_, name_) : size();
}

int MappedRegion::extend(int fd, std::size_t from, std::size_t to) noexcept {
  if (to <= from) return 0;
  const int err = ::posix_fallocate(fd, static_cast<off_t>(from), static_cast<off_t>(to - from));
  if (err != EOPNOTSUPP && err != EINVAL) return err;
  // A file system that cannot reserve storage: the length, at least, but never a shrink.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno;
  if (static_cast<std::size_t>(st.st_size) >= to) return 0;
  return ::ftruncate(fd, static_cast<off_t>(to)) == 0 ? 0 : errno;
}

namespace {

// The byte of a source whose locks say who has it open: far past any heap, so that no lock a
// user takes on the heap's own bytes meets it.
constexpr off_t kPresenceByte = off_t{1} << 62;

// Tries an open-file-description lock of `type` on the presence byte: 0, or an errno value.
int try_presence(int fd, short type) noexcept {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = kPresenceByte;
  fl.l_len = 1;
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

}  // namespace

MappedRegion::Company MappedRegion::join(std::chrono::milliseconds wait) {
  if (!fd_) return Company::unknown;
  // The presence lock is held through an open of our own: a descriptor received from another
  // process (a memfd over a socket) shares that process's open, and with it its lock.
  // Where that reopen is impossible (no /proc, no descriptors left), the lock is held through
  // the descriptor itself: presence then still shows, which matters more than telling alone.
  const std::string self_fd = "/proc/self/fd/" + std::to_string(fd_.get());
  presence_ = Fd(::open(self_fd.c_str(), O_RDWR | O_CLOEXEC));
  const int fd = presence_ ? presence_.get() : fd_.get();
  if (!presence_) return try_presence(fd, F_RDLCK) == 0 ? Company::shared : Company::unknown;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const int alone = try_presence(fd, F_WRLCK);
    if (alone == 0) return Company::alone;
    if (alone != EAGAIN && alone != EACCES) return Company::unknown;  // EBADF: a read-only open
    const int shared = try_presence(fd, F_RDLCK);
    if (shared == 0) return Company::shared;
    if (shared != EAGAIN && shared != EACCES) return Company::unknown;
    // Another opener holds the byte alone: it is re-initialising the region's locks.
    if (std::chrono::steady_clock::now() >= deadline)
      throw MapError("fcntl", name_ + ": another process is still re-initialising it", ETIMEDOUT);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void MappedRegion::settle() {
  // Turning this open's own lock from exclusive to shared is one step: no other opener can
  // take the byte alone in between.
  if (presence_) (void)try_presence(presence_.get(), F_RDLCK);
}

Mapping MappedRegion::map_again() const {
  if (!fd_) throw MapError("mmap", name_ + ": anonymous memory has no second mapping", EINVAL);
  return Mapping::of_fd(fd_, size(), align_, name_);
}

}  // namespace talc
