// numpy arrays over blocks of a Heap, and named arrays whose dtype and shape live in the region.
//
// An array is made by numpy.frombuffer over a Block, never from a bare address: numpy then holds
// the Block's buffer (counted, module.cpp) until the array and every view of it are gone, so
// close(), free() and destroy() refuse while any of them lives, and the array keeps its Block,
// and so the mapping, alive. A named array's header (talc/named/array.hpp) stores numpy's
// dtype.str and the shape, so that a dtype must survive that text: objects and structured dtypes
// are refused.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>

#include "heap.hpp"

namespace talc_py {

// Heap.ndarray, Heap.named_ndarray, Heap.find_ndarray and Block.ndarray.
void bind_arrays(pybind11::class_<Heap, std::shared_ptr<Heap>>& heap,
                 pybind11::class_<Block>& block);

}  // namespace talc_py
