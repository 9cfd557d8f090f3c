// The Python module `talc`: the bindings of heap.hpp's objects, in the face's vocabulary.
//
// A Block exposes the buffer protocol itself (not through pybind11's def_buffer) because a
// view's release must be counted: that count is what lets close(), free() and the rings refuse
// while Python still reads the bytes (heap.hpp). Calls that may wait on the heap's lock release
// the GIL inside heap.cpp; what they return is turned into Python objects after.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "errors.hpp"
#include "gil.hpp"
#include "heap.hpp"
#include "sizes.hpp"

namespace py = pybind11;
using namespace py::literals;

namespace talc_py {
namespace {

using HeapPtr = std::shared_ptr<Heap>;

// The null offset: what the root holds while none is set.
constexpr std::uint64_t kNullOffset = talc::Rel<std::byte>::kNull;

int get_buffer(PyObject* self, Py_buffer* view, int flags) {
  try {
    Block& b = py::handle(self).cast<Block&>();
    std::byte* p = b.open_view();
    if (PyBuffer_FillInfo(view, self, p, static_cast<Py_ssize_t>(b.size()), 0, flags) != 0) {
      b.close_view();
      return -1;
    }
    return 0;
  } catch (...) {
    view->obj = nullptr;
    set_python_error();
    return -1;
  }
}

void release_buffer(PyObject* self, Py_buffer*) {
  try {
    py::handle(self).cast<Block&>().close_view();
  } catch (...) {  // cannot fail for a Block; a slot must not throw
  }
}

// Every way to open a region takes the same options; those of a region that exists come from
// its heap, so the open_* calls take none.
template <class F>
HeapPtr open(F&& f, const char* kind, const std::string& source) {
  return without_gil([&] { return std::make_shared<Heap>(f(), kind, source); });
}

talc::OpenOptions options(std::size_t max_size, unsigned mode, bool lanes) {
  talc::OpenOptions o;
  o.max_size = max_size;
  o.mode = mode;
  o.lanes = lanes;
  return o;
}

py::dict stats(Heap& h) {
  const talc::Result<talc::HeapStats> r =
      without_gil([&] { return h.use([](MapTalc& t) { return t.try_stats(); }); });
  if (!r) fail(r.error());
  const talc::HeapStats& s = *r;
  py::dict d;
#define TALC_STATS_ITEM(name) d[#name] = s.name;
  TALC_HEAP_STATS(TALC_STATS_ITEM)
#undef TALC_STATS_ITEM
  d["fragmentation"] = s.fragmentation();
  return d;
}

void check(Heap& h) {
  const talc::CheckReport rep =
      without_gil([&] { return h.use([](MapTalc& t) { return t.check(); }); });
  if (!rep.ok())
    fail(rep.code, std::string(rep.what) + " (heap offset " + std::to_string(rep.offset) +
                       ", value " + std::to_string(rep.detail) + ")");
}

void trim(Heap& h) {
  const talc::Errc e = without_gil([&] { return h.use([](MapTalc& t) { return t.trim(); }); });
  if (e != talc::Errc::ok) fail(e);
}

Block& same_heap(Heap& h, Block& b) {
  if (b.heap().get() != &h) fail(talc::Errc::foreign_pointer, "the block is of another Heap");
  return b;
}

// A name or path as Python writes it: quoted, its bytes decoded as os.fsdecode does.
std::string quoted(const std::string& s) {
  const py::object str =
      py::reinterpret_steal<py::object>(PyUnicode_DecodeFSDefaultAndSize(s.data(), s.size()));
  if (!str) throw py::error_already_set();
  return py::repr(str).cast<std::string>();
}

// What a heap is reopened from (pickling): a shm name, or a file's absolute path, so that a
// child whose working directory differs finds the same file.
std::string source_of(const std::string& name) {
  return name;
}
std::string source_of(const std::filesystem::path& path) {
  return std::filesystem::absolute(path).string();
}

// A Heap travels to another process (multiprocessing's spawn, say) as what reopens it there.
py::tuple heap_state(Heap& h) {
  if (h.closed()) throw py::value_error("a closed heap cannot be pickled");
  return py::make_tuple(h.kind(), h.source());
}
HeapPtr reopen_heap(const py::tuple& state) {
  const auto [kind, source] = state.cast<std::pair<std::string, std::string>>();
  if (kind == "shm") return open([&] { return MapTalc::open_shm(source); }, "shm", source);
  if (kind == "file") return open([&] { return MapTalc::open_file(source); }, "file", source);
  throw py::value_error("a pickled heap of an unknown kind: " + kind);
}

// A Block travels as its heap and offset; the receiver adopts it, checked as any offset from
// another process is. A named block travels by its name instead.
py::tuple block_state(Block& b) {
  if (b.named())
    throw py::type_error("a named block is pickled by its name: send the Heap and the name");
  b.require_live();
  return py::make_tuple(b.heap(), b.offset(), b.size());
}
Block adopt_block(const py::tuple& state) {
  const auto [heap, offset, size] = state.cast<std::tuple<HeapPtr, std::uint64_t, std::uint64_t>>();
  return adopt(heap, offset, size);
}

std::string heap_repr(Heap& h) {
  std::string r = "<talc.Heap " + h.kind() + " " + quoted(h.source());
  if (h.closed()) return r + " closed>";
  try {
    const auto [size, max_size] = without_gil([&] {
      return h.use([](MapTalc& t) { return std::pair(t.current_size(), t.max_size()); });
    });
    r += " size=" + std::to_string(size);
    if (max_size != size) r += " max_size=" + std::to_string(max_size);
    return r + ">";
  } catch (const py::value_error&) {  // closing meanwhile
    return r + " closed>";
  }
}

const char* state_name(BlockState::State s) {
  switch (s) {
    case BlockState::State::live:
      return "live";
    case BlockState::State::busy:
      return "busy";
    case BlockState::State::freed:
      return "freed";
    case BlockState::State::handed_over:
      return "handed_over";
  }
  return "?";
}

std::string ring_repr(Ring& r) {
  std::string s = "<talc.Ring " + quoted(r.name()) + " offset=" + std::to_string(r.offset());
  if (r.heap()->closed()) return s + " closed>";
  try {
    s += " len=" + std::to_string(r.size());
  } catch (const py::value_error&) {
    return s + " closed>";
  }
  return s + " capacity=" + std::to_string(talc::kNamedRingCapacity) + ">";
}

py::class_<Heap, HeapPtr> bind_heap(py::module_& m) {
  py::class_<Heap, HeapPtr> c(m, "Heap",
                              "A heap in a shared memory object or a file, mapped by this "
                              "process. Also a context manager that closes it.");
  // A shared memory object is named by a str; a file by a str, bytes or os.PathLike.
  const auto create_args = [](auto make, auto where_type, const char* kind) {
    using Where = typename decltype(where_type)::type;
    return [make, kind](const Where& where, const Int& size, const Int& max_size, unsigned mode,
                        bool lanes) {
      const std::size_t n = to_size(size, "size");
      if (n == 0) throw py::value_error("size must be positive: a heap of 0 bytes");
      const talc::OpenOptions o = options(to_size(max_size, "max_size"), mode, lanes);
      return open([&] { return make(std::string(where), n, o); }, kind, source_of(where));
    };
  };
  const py::arg_v mode("mode", 0600u, "0o600");
  const std::type_identity<std::string> shm;
  const std::type_identity<std::filesystem::path> file;
  c.def_static(
      "create_shm", create_args(&MapTalc::create_shm, shm, "shm"), "name"_a, "size"_a,
      "max_size"_a = 0, mode, "lanes"_a = true,
      "Creates the shared memory object `name` (\"/name\") of `size` bytes and builds a heap "
      "in it; FileExistsError if it exists. The heap may grow to `max_size` (0: never); "
      "`mode` is the object's permissions; `lanes` gives each thread pages of small blocks.");
  c.def_static("open_or_create_shm", create_args(&MapTalc::open_or_create_shm, shm, "shm"),
               "name"_a, "size"_a, "max_size"_a = 0, mode, "lanes"_a = true,
               "Opens the shared memory object `name` if it exists (its heap's own options hold "
               "then), or creates it as create_shm does; the first of several racing processes "
               "builds the heap.");
  c.def_static("create_file", create_args(&MapTalc::create_file, file, "file"), "path"_a, "size"_a,
               "max_size"_a = 0, mode, "lanes"_a = true,
               "Creates the file `path` (str, bytes or os.PathLike) of `size` bytes and builds a "
               "heap in it; FileExistsError if it exists. Options as for create_shm.");
  c.def_static("open_or_create_file", create_args(&MapTalc::open_or_create_file, file, "file"),
               "path"_a, "size"_a, "max_size"_a = 0, mode, "lanes"_a = true,
               "Opens the file `path` if it exists, or creates it as create_file does.");
  c.def_static(
      "open_shm",
      [](const std::string& name) {
        return open([&] { return MapTalc::open_shm(name); }, "shm", name);
      },
      "name"_a,
      "Opens the heap of the shared memory object `name`; FileNotFoundError if there is none.");
  c.def_static(
      "open_file",
      [](const std::filesystem::path& path) {
        const std::string source = std::filesystem::absolute(path).string();
        return open([&] { return MapTalc::open_file(source); }, "file", source);
      },
      "path"_a, "Opens the heap of the file `path`; FileNotFoundError if there is none.");

  c.def(
      "allocate",
      [](const HeapPtr& h, const Int& size, const Int& align, bool zeroed) {
        return allocate(h, to_size(size, "size"), to_size(align, "align"), zeroed);
      },
      "size"_a, "align"_a = talc::kGranule, "zeroed"_a = false,
      "A new Block of `size` bytes, aligned to `align` (a power of two).");
  c.def(
      "block",
      [](const HeapPtr& h, const Int& offset, const std::optional<Int>& size) {
        std::optional<std::uint64_t> n;
        if (size) n = to_size(*size, "size");
        return adopt(h, to_size(offset, "offset"), n);
      },
      "offset"_a, "size"_a = py::none(),
      "This process's Block for an offset another process sent: refused unless it is the "
      "start of a live block at least `size` bytes long (its usable size by default).");
  c.def(
      "free", [](Heap& h, Block& b) { same_heap(h, b).free(); }, "block"_a,
      "Frees the block (as block.free()); every Block of it is then unusable.");
  c.def(
      "reallocate",
      [](Heap& h, Block& b, const Int& size, const Int& align) {
        same_heap(h, b).reallocate(to_size(size, "size"), to_size(align, "align"));
      },
      "block"_a, "size"_a, "align"_a = talc::kGranule,
      "Resizes the block in place, or moves it; the Block follows it.");
  c.def(
      "named",
      [](const HeapPtr& h, const std::string& name, const Int& size, const Int& align) {
        return find_or_allocate_named(h, name, to_size(size, "size"), to_size(align, "align"));
      },
      "name"_a, "size"_a, "align"_a = talc::kGranule,
      "The named block of bytes `name`, made `size` bytes long and zeroed by the first caller "
      "in any process, found by every later one that asks for the same size and alignment "
      "(talc.Error size_mismatch otherwise).");
  c.def("find", &find_named, "name"_a, "The named block `name`; talc.Error not_found if none.");
  c.def("destroy", &destroy_named, "name"_a, "Frees the named block `name` and its name.");
  c.def(
      "names",
      [](Heap& h) {
        const talc::Result<std::vector<talc::NamedInfo>> r =
            without_gil([&] { return h.use([](MapTalc& t) { return t.named_objects(); }); });
        if (!r) fail(r.error());
        std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t, std::string>> out;
        for (const talc::NamedInfo& n : *r)
          out.emplace_back(n.name, n.offset, n.size, talc::kind_name(n.kind()));
        return out;
      },
      "Every name in the heap, in no particular order, as (name, offset, size, kind) tuples, "
      "whoever made them (Python, C or C++). kind is 'bytes' (heap.find gives its Block), "
      "'array' (heap.find_ndarray gives it) or 'object' (a C++ object or a Ring).");
  c.def("ring", &ring, "name"_a,
        "The ring of that name (an OffsetRing of 1024 slots), built on first use; the same ring "
        "that C's talc_ring_open and C++'s NamedRing of that name are.");
  // The root: an offset, or None for the null offset (Rel's kNull) a new heap holds.
  const auto get_root = [](Heap& h) -> std::optional<std::uint64_t> {
    const std::uint64_t off = h.use([](MapTalc& t) { return t.root(); });
    if (off == kNullOffset) return std::nullopt;
    return off;
  };
  const auto set_root = [](Heap& h, const std::optional<Int>& offset) {
    std::uint64_t off = kNullOffset;
    if (offset) {
      off = to_size(*offset, "offset");
      if (off == kNullOffset)
        throw py::value_error("the null offset: clear the root with None instead");
    }
    h.use([&](MapTalc& t) { t.set_root(off); });
  };
  c.def_property("root", get_root, set_root,
                 "The offset every process finds the heap's data from (set_root publishes it); "
                 "None while none is set, and setting None clears it.");
  c.def("set_root", set_root, "offset"_a,
        "Publishes `offset` as the heap's root, to every process; None clears it.");
  c.def("stats", &stats, "The heap's figures (HeapStats) as a dict.");
  c.def("check", &check, "The full integrity check: None, or talc.Error naming what is wrong.");
  c.def("trim", &trim, "Gives the calling thread's empty pages back to the heap.");
  c.def_property_readonly(
      "size",
      [](Heap& h) {
        return without_gil([&] { return h.use([](MapTalc& t) { return t.current_size(); }); });
      },
      "The region's size in bytes now (it grows up to max_size).");
  c.def_property_readonly(
      "max_size", [](Heap& h) { return h.use([](MapTalc& t) { return t.max_size(); }); },
      "The size in bytes the region may grow to.");
  c.def_property_readonly(
      "built", [](Heap& h) { return h.use([](MapTalc& t) { return t.built(); }); },
      "Whether this open built the heap (exactly one opener of a region does).");
  c.def_property_readonly("closed", &Heap::closed, "Whether close() unmapped the region.");
  c.def("__repr__", &heap_repr);
  // Pickled as its kind and shm name or file path: a multiprocessing child (spawn or
  // forkserver) that unpickles it opens its own mapping of the same heap.
  c.def(py::pickle(&heap_state, &reopen_heap));
  c.def("close", &Heap::close,
        "Unmaps the region; BufferError while a buffer over one of its blocks is held. Every "
        "later use raises ValueError; a second close does nothing.");
  c.def(
      "__enter__", [](const HeapPtr& h) { return h; }, "The heap itself.");
  // An exception leaving the block must reach the caller as it is: when a buffer over a block
  // still keeps the heap open, the heap stays open (it closes when the last reference goes)
  // instead of a BufferError taking the exception's place.
  c.def(
      "__exit__",
      [](Heap& h, const py::object& type, const py::object&, const py::object&) {
        if (type.is_none()) return h.close();
        try {
          h.close();
        } catch (const py::buffer_error&) {
        }
      },
      "exc_type"_a, "exc_value"_a, "traceback"_a,
      "Closes the heap. With an exception leaving the block, a heap a buffer keeps open stays "
      "open, and the exception passes unchanged.");
  return c;
}

py::class_<Block> bind_block(py::module_& m) {
  py::class_<Block> c(m, "Block", py::custom_type_setup([](PyHeapTypeObject* type) {
                        type->ht_type.tp_as_buffer = &type->as_buffer;
                        type->as_buffer.bf_getbuffer = get_buffer;
                        type->as_buffer.bf_releasebuffer = release_buffer;
                      }),
                      "A block of a Heap: a writable buffer (memoryview, numpy.frombuffer).");
  c.def_property_readonly("offset", &Block::offset,
                          "From the region's base: the same in every process.");
  c.def_property_readonly("size", &Block::size, "The bytes a buffer over it shows.");
  c.def_property_readonly(
      "live", &Block::live,
      "False once freed, destroyed or handed over (through any of its Blocks).");
  c.def_property_readonly("named", &Block::named, "Made by Heap.named: freed by Heap.destroy.");
  c.def("__len__", &Block::size, "The block's size in bytes.");
  // Pickled as its Heap, offset and size: the receiver adopts it (Heap.block).
  c.def(py::pickle(&block_state, &adopt_block));
  c.def("free", &Block::free,
        "Gives the block back to its heap; every Block of it is then unusable. A named block is "
        "freed by Heap.destroy.");
  c.def("__repr__", [](Block& b) {
    return "<talc.Block offset=" + std::to_string(b.offset()) +
           " size=" + std::to_string(b.size()) + " " + state_name(b.state().state) +
           (b.named() ? " named" : "") + ">";
  });
  return c;
}

// A timeout in seconds, as Python's own waits take one: None for no bound, or a number >= 0.
Timeout timeout_of(const std::optional<double>& seconds) {
  if (!seconds) return std::nullopt;
  if (std::isnan(*seconds) || *seconds < 0)
    throw py::value_error("timeout must be a non-negative number of seconds, or None");
  if (*seconds >= 1e9) return std::nullopt;  // 30 years: beyond any clock's care
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(*seconds));
}

std::optional<talc::RingEnd> end_of(const std::optional<std::string>& end) {
  if (!end) return std::nullopt;
  if (*end == "producer") return talc::RingEnd::producer;
  if (*end == "consumer") return talc::RingEnd::consumer;
  throw py::value_error("a ring's end is 'producer' or 'consumer', not " + quoted(*end));
}

void bind_ring(py::module_& m) {
  py::class_<Ring> c(m, "Ring",
                     "A single-producer, single-consumer ring of blocks, by offset and size. "
                     "push and pop wait (on a futex in the region, not spinning) and say how the "
                     "other end left; try_push and try_pop never wait. Iterating pops until the "
                     "end of the stream.");
  const py::arg_v timeout = "timeout"_a = py::none();
  c.def(
      "push", [](Ring& r, Block& b, const std::optional<double>& t) { r.push(b, timeout_of(t)); },
      "block"_a, timeout,
      "Hands the block over, waiting up to `timeout` seconds (None: no bound; 0: no wait) for "
      "room; the Block is then no longer usable here. Raises TimeoutError when the ring stayed "
      "full, BrokenPipeError when the consumer closed the ring or its process died; the block "
      "then stays the caller's.");
  c.def("try_push", &Ring::try_push, "block"_a,
        "Hands the block over if there is room: True, and the Block is no longer usable here; "
        "False when full. Never waits.");
  c.def(
      "pop", [](Ring& r, const std::optional<double>& t) { return r.pop(timeout_of(t)); }, timeout,
      "(offset, size) of the next block, waiting up to `timeout` seconds (None: no bound; 0: no "
      "wait); open it with Heap.block. None at the end of the stream: the producer closed the "
      "ring and every block it pushed was taken. Raises TimeoutError when the ring stayed empty, "
      "BrokenPipeError when it is empty and the producer's process died.");
  c.def("try_pop", &Ring::try_pop,
        "(offset, size) of the next block, or None when the ring is empty now. Never waits.");
  c.def(
      "close", [](Ring& r, const std::optional<std::string>& end) { r.close(end_of(end)); },
      "end"_a = py::none(),
      "Says this end is done: 'producer' (no more blocks: the consumer's pop gives None once "
      "the ring is empty) or 'consumer' (no more reading: the producer's push raises "
      "BrokenPipeError). By default, the ends this Ring pushed or popped through. A later push "
      "or pop opens the end again.");
  c.def(
      "__iter__", [](Ring& r) -> Ring& { return r; }, py::return_value_policy::reference_internal,
      "The ring itself: iterating pops, with no bound, until the end of the stream.");
  c.def(
      "__next__",
      [](Ring& r) {
        const auto item = r.pop(std::nullopt);
        if (!item) throw py::stop_iteration();
        return *item;
      },
      "The next (offset, size), as pop(); StopIteration at the end of the stream.");
  c.def("__len__", &Ring::size, "How many blocks wait in the ring.");
  c.def_property_readonly("offset", &Ring::offset, "The ring's offset in the region.");
  c.def("__repr__", &ring_repr);
}

}  // namespace
}  // namespace talc_py

PYBIND11_MODULE(talc, m) {
  m.doc() = "A heap that several processes share inside one memory region, by offsets.";
  talc_py::register_errors(m);
  // Block and Ring first: Heap's signatures then name them as Python does (-> Block).
  auto block = talc_py::bind_block(m);
  talc_py::bind_ring(m);
  auto heap = talc_py::bind_heap(m);
  talc_py::bind_arrays(heap, block);
  m.def("remove_shm", &talc_py::MapTalc::remove_shm, "name"_a,
        "Removes the shared memory object's name; False when there was none.");
  m.attr("RING_CAPACITY") = talc::kNamedRingCapacity;
  m.attr("__version__") = TALC_VERSION;  // the project's, from CMake
}
