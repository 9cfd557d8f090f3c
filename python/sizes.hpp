// Python ints for sizes, alignments and offsets, with Python's own refusals.
//
// pybind11's std::size_t refuses a negative or too large int only as "incompatible function
// arguments" (a TypeError listing every signature). A call takes an `Int` instead, which holds
// whatever was passed, and turns it into a std::size_t with to_size(): anything without
// __index__ raises TypeError, a negative value ValueError, one that does not fit OverflowError,
// as Python's own calls (bytearray(-1), range(2**64)[0]) do. Signatures still show `int`.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

namespace talc_py {

struct Int {
  pybind11::object value;
};

// `value` as a std::size_t; `name` is the argument's Python name, for the message.
inline std::size_t to_size(const Int& v, const char* name) {
  namespace py = pybind11;
  const py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(v.value.ptr()));
  if (!i) throw py::error_already_set();  // TypeError: not an integer
  const int negative = PyObject_RichCompareBool(i.ptr(), py::int_(0).ptr(), Py_LT);
  if (negative < 0) throw py::error_already_set();
  if (negative != 0) throw py::value_error(std::string(name) + " must not be negative");
  const unsigned long long u = PyLong_AsUnsignedLongLong(i.ptr());
  if ((u == static_cast<unsigned long long>(-1) && PyErr_Occurred() != nullptr) ||
      u > std::numeric_limits<std::size_t>::max()) {
    PyErr_Clear();
    throw std::overflow_error(std::string(name) + " does not fit in " +
                              std::to_string(std::numeric_limits<std::size_t>::digits) + " bits");
  }
  return static_cast<std::size_t>(u);
}

}  // namespace talc_py

namespace pybind11::detail {

// Takes any object (to_size refuses what is not an int, by Python's rules) and shows `int`.
template <>
struct type_caster<talc_py::Int> {
  PYBIND11_TYPE_CASTER(talc_py::Int, const_name("int"));
  bool load(handle src, bool) {
    if (!src) return false;
    value.value = reinterpret_borrow<object>(src);
    return true;
  }
  static handle cast(const talc_py::Int& v, return_value_policy, handle) {
    return v.value.inc_ref();
  }
};

}  // namespace pybind11::detail
