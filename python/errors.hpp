// The Python package's errors: how a refusal of the heap reaches Python code.
//
// The face answers with a talc::Errc; Python code should see an exception it can catch by kind
// and read by name. Every Errc becomes talc.Error (talc.OutOfMemoryError, which is also a
// MemoryError, for out_of_memory) whose `errc` is the Errc's name and whose text is
// talc::describe's. A failure of the operating system while opening a region (a missing name,
// one that exists, no permission) becomes the OSError subclass of its errno, as Python's own
// file calls raise. A ring's waits end in Python's exceptions for the same events (TimeoutError,
// BrokenPipeError for a peer gone), which carry the `errc` too. The C++ side throws `Failure`
// anywhere, the GIL held or not; the exception objects are built only once it reaches Python's
// side of the module.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "talc/core/errors.hpp"

namespace talc_py {

struct Failure {
  talc::Errc code;
  std::string message;
  // A built-in exception type raised instead of talc.Error, and the errno it is raised with
  // (0: none), as OSError(errno, text).
  PyObject* type = nullptr;
  int os_errno = 0;
};

[[noreturn]] void fail(talc::Errc e);
[[noreturn]] void fail(talc::Errc e, std::string message);
// Raises `type` (PyExc_TimeoutError, ...) for `e`, with `os_errno` when not 0.
[[noreturn]] void fail_as(PyObject* type, talc::Errc e, std::string message, int os_errno = 0);

// Creates talc.Error and talc.OutOfMemoryError in `m` and teaches pybind11 to raise them.
void register_errors(pybind11::module_& m);

// Sets the Python error for the exception being handled, for the few entry points that
// pybind11 does not dispatch (the buffer protocol's slots). Call inside a catch block.
void set_python_error() noexcept;

}  // namespace talc_py
