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

#include "talc/core/errors_table.h"

namespace talc {

/// The refusals, with their values and texts, are the rows of errors_table.h, from which C's
/// talc_errc is made too.
enum class Errc : std::uint8_t {
#define TALC_ERRC_ENUMERATOR(name, NAME, value, text) name = value,
  TALC_ERRORS(TALC_ERRC_ENUMERATOR)
#undef TALC_ERRC_ENUMERATOR
};

/// A fixed, static description: usable from signal handlers and after the heap is broken.
const char* describe(Errc e) noexcept;
/// The enumerator's name ("not_allocated"): for the C API and the Python package, whose users
/// see the same names. "unknown" for a value that is none.
const char* name_of(Errc e) noexcept;

const std::error_category& talc_category() noexcept;
inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), talc_category()};
}

/// A value or the reason there is none. Small on purpose: the core needs only this much of
/// what std::expected (C++23) offers.
template <class T>
class Result {
 public:
  Result(T value) noexcept : value_(std::move(value)), err_(Errc::ok) {}  // NOLINT: implicit
  Result(Errc err) noexcept : value_{}, err_(err) {}                      // NOLINT: implicit

  bool ok() const noexcept { return err_ == Errc::ok; }
  explicit operator bool() const noexcept { return ok(); }
  Errc error() const noexcept { return err_; }
  /// The value; on an error, the value-initialised T (nullptr for pointers).
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
