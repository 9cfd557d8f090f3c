// Errc to Python exceptions (see errors.hpp).
#include "errors.hpp"

#include <new>
#include <system_error>
#include <utility>

namespace py = pybind11;

namespace talc_py {
namespace {

// Set by register_errors, when the module is imported; alive as long as the module.
PyObject* error_type = nullptr;
PyObject* out_of_memory_type = nullptr;

void raise_failure(const Failure& f) {
  PyObject* type = f.type != nullptr                     ? f.type
                   : f.code == talc::Errc::out_of_memory ? out_of_memory_type
                                                         : error_type;
  const py::object make = py::reinterpret_borrow<py::object>(type);
  py::object exc = f.os_errno != 0 ? make(f.os_errno, f.message) : make(f.message);
  exc.attr("errc") = talc::name_of(f.code);
  PyErr_SetObject(type, exc.ptr());
}

// OSError(errno, text) picks the subclass of the errno itself (FileNotFoundError, ...).
void raise_os_error(const std::system_error& e) {
  py::object exc = py::reinterpret_borrow<py::object>(PyExc_OSError)(e.code().value(), e.what());
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

void translate(std::exception_ptr p) {
  try {
    std::rethrow_exception(p);
  } catch (const Failure& f) {
    raise_failure(f);
  } catch (const std::system_error& e) {
    // OpenError carries an Errc; MapError an errno.
    if (e.code().category() == talc::talc_category())
      raise_failure({static_cast<talc::Errc>(e.code().value()), e.what()});
    else
      raise_os_error(e);
  }
}

}  // namespace

void fail(talc::Errc e) {
  throw Failure{e, talc::describe(e)};
}
void fail(talc::Errc e, std::string message) {
  throw Failure{e, std::move(message)};
}
void fail_as(PyObject* type, talc::Errc e, std::string message, int os_errno) {
  throw Failure{e, std::move(message), type, os_errno};
}

void register_errors(py::module_& m) {
  error_type = PyErr_NewExceptionWithDoc(
      "talc.Error",
      "A refusal of the heap. `errc` is the name of the talc::Errc, e.g. 'not_allocated'.",
      PyExc_Exception, nullptr);
  py::object bases = py::make_tuple(py::handle(error_type), py::handle(PyExc_MemoryError));
  out_of_memory_type = PyErr_NewExceptionWithDoc(
      "talc.OutOfMemoryError", "No free chunk large enough, even after growing the region.",
      bases.ptr(), nullptr);
  m.add_object("Error", py::handle(error_type));
  m.add_object("OutOfMemoryError", py::handle(out_of_memory_type));
  py::register_exception_translator(translate);
}

void set_python_error() noexcept {
  try {
    throw;
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (...) {
    try {
      translate(std::current_exception());
    } catch (const std::exception& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (...) {
      PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
    }
  }
}

}  // namespace talc_py
