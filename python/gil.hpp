// Calls made without the GIL, which take it back in plain code rather than in a destructor.
//
// A thread that takes the GIL back while the interpreter finalises (a daemon thread inside a call
// at exit) is ended there by CPython, with pthread_exit: a forced unwinding of its stack. Through
// py::gil_scoped_release that unwinding starts in a destructor, which is noexcept, and the process
// aborts ("terminate called without an active exception"). Here it starts in a function that
// lets it pass up to the thread's start, running the destructors on the way.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <type_traits>
#include <utility>

namespace talc_py {

// f() without the GIL; an exception f throws is rethrown with the GIL held again.
template <class F>
auto without_gil(F&& f) -> decltype(f()) {
  using R = decltype(f());
  PyThreadState* saved = PyEval_SaveThread();
  if constexpr (std::is_void_v<R>) {
    try {
      f();
    } catch (...) {
      PyEval_RestoreThread(saved);
      throw;
    }
    PyEval_RestoreThread(saved);
  } else {
    std::optional<R> r;
    try {
      r.emplace(f());
    } catch (...) {
      PyEval_RestoreThread(saved);
      throw;
    }
    PyEval_RestoreThread(saved);
    return std::move(*r);
  }
}

}  // namespace talc_py
