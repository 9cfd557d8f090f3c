// Errors shared by every layer.
//
// A heap in shared memory is fed by other processes and by callers who may hand back the
// wrong pointer; every such input has its own, named refusal. The core never throws: it
// returns an `Errc` (or a `Result<T>` holding a value or an `Errc`), and a refused request
// changes nothing. `Errc` plugs into `std::error_code` so that the layers that do throw (the
// face) can raise a `std::system_error` with the same text.
#pragma once

#include <cstdint>
#include <system_error>
#include <utility>

namespace talc {

enum class Errc : std::uint8_t {
  ok = 0,
  null_region,          // the buffer to claim is null
  region_too_small,     // the buffer cannot hold the metadata and one chunk
  region_too_large,     // the buffer is larger than offsets can describe
  bad_alignment,        // an alignment that is not a power of two (0 included)
  alignment_too_large,  // a power of two above kMaxAlign
  size_overflow,        // a size whose chunk would not fit in the offset range
  out_of_memory,        // no free chunk is large enough
  null_pointer,         // deallocate(nullptr) and friends
  foreign_pointer,      // a pointer outside this heap or not at an allocation's start
  not_allocated,        // a block that is already free: a double free
  corrupted,            // the heap's metadata contradicts itself
  // Opening a region (the header's refusals):
  not_a_heap,           // the region's first bytes are not a talc header
  version_mismatch,     // a talc heap of another format version
  config_mismatch,      // a talc heap of another configuration (bins, word size, byte order)
  region_truncated,     // the region is smaller than its header says
  already_initialised,  // asked to create a heap where one exists
  not_initialised,      // asked to open a heap where none was (or is yet) built
  init_abandoned,       // the process that was building the heap died half-way
  init_timeout,         // the heap was still being built when the wait ran out
  // Named objects (named.hpp):
  not_found,            // no object of that name
  already_exists,       // an object of that name exists (construct without find)
  type_mismatch,        // the name holds an object of another type
  size_mismatch,        // the name holds an object of this type's name but another size
  empty_name,           // a name of no bytes
  name_too_long,        // a name longer than the directory stores
  directory_reentered,  // a constructor or destructor run by the directory called it again
  // Locks in the region and the atomic calls:
  lock_damaged,        // a lock word holds a value no holder writes (talc repair resets it)
  lock_timeout,        // a live holder kept the lock past the caller's bound on waiting
  slot_occupied,       // allocate_into on a slot that already names a block
  namespace_mismatch,  // the heap was built in another PID or time namespace
};

// A fixed, static description: usable from signal handlers and after the heap is broken.
const char* describe(Errc e) noexcept;
// The enumerator's name ("not_allocated"): for the C API and the Python package, whose users
// see the same names. "unknown" for a value that is none.
const char* name_of(Errc e) noexcept;

const std::error_category& talc_category() noexcept;
inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), talc_category()};
}

// A value or the reason there is none. Small on purpose: the core needs only this much of
// what std::expected (C++23) offers.
template <class T>
class Result {
 public:
  Result(T value) noexcept : value_(std::move(value)), err_(Errc::ok) {}  // NOLINT: implicit
  Result(Errc err) noexcept : value_{}, err_(err) {}                      // NOLINT: implicit

  bool ok() const noexcept { return err_ == Errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  Errc error() const noexcept { return err_; }
  // The value; on an error, the value-initialised T (nullptr for pointers).
  const T& value() const noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }
  const T* operator->() const noexcept { return &value_; }

 private:
  T value_;
  Errc err_;
};

}  // namespace talc

template <>
struct std::is_error_code_enum<talc::Errc> : std::true_type {};
