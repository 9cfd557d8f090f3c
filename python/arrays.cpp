// numpy arrays over Blocks, and named arrays; see arrays.hpp.
#include "arrays.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "sizes.hpp"

namespace py = pybind11;
using namespace py::literals;

namespace talc_py {
namespace {

py::module_ numpy() {
  return py::module_::import("numpy");
}

// A dtype a named array's header can record: numpy.dtype(dtype.str) gives it back.
py::object dtype_of(const py::object& dtype) {
  py::object dt = numpy().attr("dtype")(dtype);
  if (dt.attr("hasobject").cast<bool>())
    throw py::type_error("an array of Python objects cannot live in a shared heap: " +
                         py::repr(dt).cast<std::string>());
  if (!dt.attr("__eq__")(numpy().attr("dtype")(dt.attr("str"))).cast<bool>())
    throw py::type_error("the dtype " + py::repr(dt).cast<std::string>() +
                         " cannot be written as one type string (a structured dtype?)");
  return dt;
}

// An int, or a sequence of ints, as numpy takes a shape.
std::vector<std::uint64_t> shape_of(const py::object& shape) {
  std::vector<std::uint64_t> dims;
  if (PyIndex_Check(shape.ptr()) != 0) {
    dims.push_back(to_size(Int{py::reinterpret_borrow<py::object>(shape)}, "shape"));
    return dims;
  }
  for (const py::handle d : py::iter(shape))
    dims.push_back(to_size(Int{py::reinterpret_borrow<py::object>(d)}, "shape"));
  return dims;
}

// The ArrayInfo of `shape` elements of `dtype`, or OverflowError/ValueError saying why not.
talc::ArrayInfo array_info(const py::object& dtype, const std::vector<std::uint64_t>& shape) {
  talc::ArrayInfo a;
  const char* why = nullptr;
  if (!talc::make_array_info(dtype.attr("str").cast<std::string>(),
                             dtype.attr("itemsize").cast<std::uint64_t>(), shape, a, why)) {
    if (std::string_view(why).find("overflow") != std::string_view::npos)
      throw std::overflow_error(why);
    throw py::value_error(why);
  }
  return a;
}

py::tuple shape_tuple(const talc::ArrayInfo& a) {
  py::tuple t(a.ndim);
  for (std::uint32_t i = 0; i < a.ndim; ++i) t[i] = py::int_(a.shape[i]);
  return t;
}

// The array of `a` at byte `offset` of the block: numpy holds the Block's buffer while it lives.
py::array view(py::object block, const py::object& dtype, const talc::ArrayInfo& a,
               std::uint64_t offset) {
  const std::uint64_t count = a.data_bytes / a.item_size;
  return numpy()
      .attr("frombuffer")(std::move(block), "dtype"_a = dtype, "count"_a = count,
                          "offset"_a = offset)
      .attr("reshape")(shape_tuple(a))
      .cast<py::array>();
}

py::array ndarray(const std::shared_ptr<Heap>& h, const py::object& shape, const py::object& dtype,
                  bool zeroed) {
  const py::object dt = dtype_of(dtype);
  const talc::ArrayInfo a = array_info(dt, shape_of(shape));
  // A block of at least one byte: an empty array still has a Block its views keep.
  Block b = allocate(h, std::max<std::uint64_t>(a.data_bytes, 1), talc::kArrayAlign, zeroed);
  return view(py::cast(std::move(b)), dt, a, 0);
}

py::array block_ndarray(const py::object& self, const py::object& shape, const py::object& dtype) {
  const py::object dt = dtype_of(dtype);
  const talc::ArrayInfo a = array_info(dt, shape_of(shape));
  const Block& b = self.cast<const Block&>();
  if (a.data_bytes > b.size())
    throw py::value_error("an array of " + std::to_string(a.data_bytes) +
                          " bytes over a block of " + std::to_string(b.size()));
  return view(self, dt, a, 0);
}

py::array named_ndarray(const std::shared_ptr<Heap>& h, const std::string& name,
                        const py::object& shape, const py::object& dtype) {
  const py::object dt = dtype_of(dtype);
  const talc::ArrayInfo want = array_info(dt, shape_of(shape));
  auto [block, info] = named_array(h, name, &want);
  return view(py::cast(std::move(block)), dt, info, info.data_offset);
}

py::array find_ndarray(const std::shared_ptr<Heap>& h, const std::string& name) {
  auto [block, info] = named_array(h, name, nullptr);
  py::object dt;
  try {
    dt = dtype_of(py::str(info.type_name().data(), info.type_name().size()));
  } catch (const std::exception& e) {  // a type no dtype reads, or one of objects
    fail(talc::Errc::type_mismatch, "the named array's type " + std::string(info.type_name()) +
                                        " is no numpy dtype: " + e.what());
  }
  if (dt.attr("itemsize").cast<std::uint64_t>() != info.item_size)
    fail(talc::Errc::type_mismatch,
         "the named array's item size disagrees with its type " + std::string(info.type_name()));
  return view(py::cast(std::move(block)), dt, info, info.data_offset);
}

}  // namespace

void bind_arrays(py::class_<Heap, std::shared_ptr<Heap>>& heap, py::class_<Block>& block) {
  heap.def("ndarray", &ndarray, "shape"_a, "dtype"_a = py::float_().get_type(), "zeroed"_a = false,
           "A new numpy array of `shape` (an int or a tuple) and `dtype` in a new block, aligned "
           "to 64 bytes, that it views in place: no copy. The array (and every view of it) keeps "
           "its Block, and so the heap, open: close() refuses while one lives. Nothing frees the "
           "block when the array goes; to free it later, allocate the Block and use "
           "block.ndarray.");
  heap.def("named_ndarray", &named_ndarray, "name"_a, "shape"_a,
           "dtype"_a = py::float_().get_type(),
           "The named array `name`, zeroed and stored with its dtype and shape by the first "
           "caller in any process, found by every later one (talc.Error type_mismatch or "
           "size_mismatch for another dtype or shape). Python, C (talc_named_array) and C++ "
           "(find_array, talc/named/array.hpp) read the same array; Heap.destroy(name) frees it.");
  heap.def("find_ndarray", &find_ndarray, "name"_a,
           "The named array `name` with the dtype and shape stored with it; talc.Error "
           "not_found if none, type_mismatch for a name that is not an array, corrupted for a "
           "header that does not hold together.");
  block.def("ndarray", &block_ndarray, "shape"_a, "dtype"_a = py::float_().get_type(),
            "A numpy array of `shape` and `dtype` over the block's first bytes, in place; it "
            "keeps the Block viewed (free() refuses) while it lives.");
}

}  // namespace talc_py
