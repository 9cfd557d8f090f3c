// The C API (include/talc/talc.h) over the C++ face: a talc_heap is a MapTalc, each call the
// face's non-throwing one, and the opening calls, which throw, are caught here. Nothing thrown
// crosses into C: every exception becomes a talc_errc, with a text kept per thread.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <system_error>

#include "talc/offset_ring.hpp"
#include "talc/talc.h"
#include "talc/talc.hpp"

// The project's version, from CMake's project() (CMakeLists.txt), and talc.h's macros: one.
#ifndef TALC_PROJECT_VERSION
#error "TALC_PROJECT_VERSION: the build defines it from project(talc VERSION ...)"
#endif
#define TALC_STRINGIFY_(x) #x
#define TALC_STRINGIFY(x) TALC_STRINGIFY_(x)
#define TALC_HEADER_VERSION          \
  TALC_STRINGIFY(TALC_VERSION_MAJOR) \
  "." TALC_STRINGIFY(TALC_VERSION_MINOR) "." TALC_STRINGIFY(TALC_VERSION_PATCH)
static_assert(std::string_view(TALC_PROJECT_VERSION) == TALC_HEADER_VERSION,
              "talc.h's TALC_VERSION_* macros disagree with project(talc VERSION ...)");

struct talc_heap {
  talc::MapTalc<> t;
};

// A talc_ring is never defined: a pointer to one is the NamedRing in this process's mapping.
static_assert(TALC_RING_CAPACITY == talc::kNamedRingCapacity);
static_assert(std::chrono::milliseconds(TALC_RING_LOOK_MS) == talc::kRingLook);

namespace {

using talc::Errc;

// C's codes are the C++ ones, value for value (both are made from errors_table.h), so a cast
// converts. Whether a C code is one of them: a C caller may pass any int. TALC_OS_ERROR is a
// case too, so that no row of the table can take its value (two equal cases do not compile).
bool is_errc(talc_errc code) noexcept {
#define TALC_ERRC_CASE(name, NAME, value, text) case TALC_##NAME:
  switch (code) {
    TALC_ERRORS(TALC_ERRC_CASE)
    return true;
    case TALC_OS_ERROR:
      break;
  }
#undef TALC_ERRC_CASE
  return false;
}

// The outcome of the calling thread's last call that returned a talc_errc (talc.h): a refusal's
// text and errno, or "" and 0 after a success. A fixed buffer: writing it cannot throw, and a
// success costs two stores.
thread_local char last_message[256];
thread_local int last_os = 0;

talc_errc refused(const char* call, talc_errc code, const char* detail, int os = 0) noexcept {
  std::snprintf(last_message, sizeof last_message, "%s: %s", call, detail);
  last_os = os;
  return code;
}
// Every success of a call that returns a talc_errc ends here.
talc_errc succeeded() noexcept {
  last_message[0] = '\0';
  last_os = 0;
  return TALC_OK;
}
talc_errc reply(const char* call, Errc e) noexcept {
  if (e == Errc::ok) return succeeded();
  return refused(call, static_cast<talc_errc>(e), talc::describe(e));
}

// Runs f() (which returns an Errc), turning whatever it throws into a code.
template <class F>
talc_errc guarded(const char* call, F&& f) noexcept {
  try {
    return reply(call, f());
  } catch (const talc::OpenError& e) {
    return refused(call, static_cast<talc_errc>(e.code().value()), e.what());
  } catch (const std::system_error& e) {  // MapError: an OS call, with its errno
    const bool os = e.code().category() == std::system_category() ||
                    e.code().category() == std::generic_category();
    return refused(call, TALC_OS_ERROR, e.what(), os ? e.code().value() : 0);
  } catch (const std::bad_alloc&) {
    return refused(call, TALC_OUT_OF_MEMORY, "not enough process memory");
  } catch (const std::exception& e) {
    return refused(call, TALC_OS_ERROR, e.what());
  } catch (...) {
    return refused(call, TALC_OS_ERROR, "an unknown failure");
  }
}

// Zero in a field means its default (talc.h).
talc::OpenOptions convert(const talc_options* o) noexcept {
  talc::OpenOptions r;
  if (o == nullptr) return r;
  r.max_size = o->max_size;
  if (o->mode != 0) r.mode = o->mode;
  r.lanes = o->no_lanes == 0;
  if (o->wait_ms != 0) r.wait = std::chrono::milliseconds(o->wait_ms);
  if (o->lock_wait_ms != 0) r.lock_wait = std::chrono::milliseconds(o->lock_wait_ms);
  return r;
}

// Opens with `make` (a MapTalc factory) into *heap.
template <class Make>
talc_errc open_with(const char* call, const char* name, talc_heap** heap, Make&& make) noexcept {
  if (name == nullptr || heap == nullptr) return reply(call, Errc::null_pointer);
  return guarded(call, [&] {
    *heap = new talc_heap{make(std::string(name))};
    return Errc::ok;
  });
}

// Runs find() (which returns a Result<NamedArray>) into *out. A header refused sets `why`:
// the message says what was wrong with it rather than only "inconsistent".
template <class Find>
talc_errc found_array(const char* call, talc_array* out, const char*& why, Find&& find) noexcept {
  const talc_errc e = guarded(call, [&] {
    const talc::Result<talc::NamedArray> r = find();
    if (!r) return r.error();
    const talc::ArrayInfo& a = r->info;
    *out = talc_array{};
    out->data = r->data();
    out->data_bytes = a.data_bytes;
    out->item_size = a.item_size;
    out->ndim = a.ndim;
    static_assert(sizeof out->type == sizeof a.type && TALC_ARRAY_MAX_DIMS == talc::kArrayMaxDims);
    std::memcpy(out->type, a.type, sizeof out->type);
    std::copy(a.dims().begin(), a.dims().end(), out->shape);
    return Errc::ok;
  });
  if (e == TALC_CORRUPTED && why != nullptr) {
    char detail[160];
    std::snprintf(detail, sizeof detail, "the named array's header is refused: %s", why);
    return refused(call, e, detail);
  }
  return e;
}

std::size_t align_or_default(std::size_t align) noexcept {
  return align == 0 ? talc::kGranule : align;
}

// Where p lies in the region, as an offset: computed on addresses, since p may be any pointer
// (subtracting pointers into two objects is undefined). The region's size or more: outside.
std::uint64_t offset_in(const talc_heap* h, const void* p) noexcept {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p) -
                                    reinterpret_cast<std::uintptr_t>(h->t.address_of(0)));
}

// This process's handle of the block at p, for the face's calls that take one; foreign_pointer
// for a pointer outside the region, which no call then sees.
talc::Result<talc::Meta> meta_of(const talc_heap* h, const void* p) noexcept {
  const std::uint64_t off = offset_in(h, p);
  if (off >= h->t.size()) return Errc::foreign_pointer;
  return talc::Meta{static_cast<std::byte*>(h->t.address_of(0)), off, 0};
}

talc::NamedRing* ring_of(talc_ring* r) noexcept {
  return reinterpret_cast<talc::NamedRing*>(r);
}

// A bound in C's milliseconds: negative for none, and so is one too long for the clock.
std::chrono::nanoseconds bound_of(std::int64_t timeout_ms) noexcept {
  constexpr std::int64_t kYear = std::int64_t{365} * 24 * 3600 * 1000;
  if (timeout_ms < 0 || timeout_ms >= kYear) return talc::kWaitForever;
  return std::chrono::milliseconds(timeout_ms);
}

// Sets *out to the block of a successful result.
talc_errc give(const char* call, const talc::Result<talc::Meta>& r, void** out) noexcept {
  if (!r) return reply(call, r.error());
  *out = r->ptr();
  return succeeded();
}

}  // namespace

extern "C" {

void talc_options_init(talc_options* options) noexcept {
  if (options != nullptr) *options = talc_options{};
}

talc_errc talc_create_shm(const char* name, size_t size, const talc_options* options,
                          talc_heap** heap) noexcept {
  return open_with("talc_create_shm", name, heap, [&](const std::string& n) {
    return talc::MapTalc<>::create_shm(n, size, convert(options));
  });
}
talc_errc talc_open_shm(const char* name, const talc_options* options, talc_heap** heap) noexcept {
  return open_with("talc_open_shm", name, heap, [&](const std::string& n) {
    return talc::MapTalc<>::open_shm(n, convert(options));
  });
}
talc_errc talc_open_or_create_shm(const char* name, size_t size, const talc_options* options,
                                  talc_heap** heap) noexcept {
  return open_with("talc_open_or_create_shm", name, heap, [&](const std::string& n) {
    return talc::MapTalc<>::open_or_create_shm(n, size, convert(options));
  });
}
talc_errc talc_create_file(const char* path, size_t size, const talc_options* options,
                           talc_heap** heap) noexcept {
  return open_with("talc_create_file", path, heap, [&](const std::string& n) {
    return talc::MapTalc<>::create_file(n, size, convert(options));
  });
}
talc_errc talc_open_file(const char* path, const talc_options* options, talc_heap** heap) noexcept {
  return open_with("talc_open_file", path, heap, [&](const std::string& n) {
    return talc::MapTalc<>::open_file(n, convert(options));
  });
}
talc_errc talc_open_or_create_file(const char* path, size_t size, const talc_options* options,
                                   talc_heap** heap) noexcept {
  return open_with("talc_open_or_create_file", path, heap, [&](const std::string& n) {
    return talc::MapTalc<>::open_or_create_file(n, size, convert(options));
  });
}
talc_errc talc_open_fd(int fd, const talc_options* options, talc_heap** heap) noexcept {
  if (heap == nullptr) return reply("talc_open_fd", Errc::null_pointer);
  const int own = ::dup(fd);
  if (own < 0) return refused("talc_open_fd", TALC_OS_ERROR, std::strerror(errno), errno);
  talc::Fd owned(own);  // closed here if the open fails before taking it
  return open_with("talc_open_fd", "", heap, [&](const std::string&) {
    return talc::MapTalc<>::from_fd(std::move(owned), talc::OpenRole::either, convert(options));
  });
}
talc_errc talc_remove_shm(const char* name) noexcept {
  if (name == nullptr) return reply("talc_remove_shm", Errc::null_pointer);
  bool removed = false;
  const talc_errc e = guarded("talc_remove_shm", [&] {
    removed = talc::MapTalc<>::remove_shm(name);
    return Errc::ok;
  });
  if (e != TALC_OK || removed) return e;
  return refused("talc_remove_shm", TALC_OS_ERROR, std::strerror(ENOENT), ENOENT);
}
void talc_close(talc_heap* heap) noexcept {
  delete heap;
}

talc_errc talc_allocate(talc_heap* heap, size_t size, size_t align, void** out) noexcept {
  if (heap == nullptr || out == nullptr) return reply("talc_allocate", Errc::null_pointer);
  return give("talc_allocate", heap->t.try_allocate(size, align_or_default(align)), out);
}
talc_errc talc_allocate_zeroed(talc_heap* heap, size_t size, size_t align, void** out) noexcept {
  if (heap == nullptr || out == nullptr) return reply("talc_allocate_zeroed", Errc::null_pointer);
  return give("talc_allocate_zeroed", heap->t.try_allocate_zeroed(size, align_or_default(align)),
              out);
}
talc_errc talc_free(talc_heap* heap, void* block) noexcept {
  if (heap == nullptr || block == nullptr) return reply("talc_free", Errc::null_pointer);
  const talc::Result<talc::Meta> m = meta_of(heap, block);
  return reply("talc_free", m ? heap->t.deallocate(*m) : m.error());
}
talc_errc talc_reallocate(talc_heap* heap, void* block, size_t size, size_t align,
                          void** out) noexcept {
  if (heap == nullptr || block == nullptr || out == nullptr)
    return reply("talc_reallocate", Errc::null_pointer);
  const talc::Result<talc::Meta> m = meta_of(heap, block);
  if (!m) return reply("talc_reallocate", m.error());
  return give("talc_reallocate", heap->t.try_reallocate(*m, size, align_or_default(align)), out);
}
talc_errc talc_usable_size(talc_heap* heap, const void* block, size_t* out) noexcept {
  if (heap == nullptr || block == nullptr || out == nullptr)
    return reply("talc_usable_size", Errc::null_pointer);
  const talc::Result<talc::Meta> m = meta_of(heap, block);
  if (!m) return reply("talc_usable_size", m.error());
  const talc::Result<std::size_t> r = heap->t.usable_size(m->ptr());
  if (!r) return reply("talc_usable_size", r.error());
  *out = *r;
  return succeeded();
}

talc_errc talc_allocate_into(talc_heap* heap, void* owner, size_t word, size_t size, size_t align,
                             void** out) noexcept {
  if (heap == nullptr || owner == nullptr || out == nullptr)
    return reply("talc_allocate_into", Errc::null_pointer);
  const talc::Result<talc::Meta> m = meta_of(heap, owner);
  if (!m) return reply("talc_allocate_into", m.error());
  return give("talc_allocate_into",
              heap->t.try_allocate_into(*m, word, size, align_or_default(align)), out);
}
talc_errc talc_deallocate_from(talc_heap* heap, void* owner, size_t word) noexcept {
  if (heap == nullptr || owner == nullptr) return reply("talc_deallocate_from", Errc::null_pointer);
  const talc::Result<talc::Meta> m = meta_of(heap, owner);
  return reply("talc_deallocate_from", m ? heap->t.deallocate_from(*m, word) : m.error());
}
talc_errc talc_reallocate_from(talc_heap* heap, void* owner, size_t word, size_t size, size_t align,
                               void** out) noexcept {
  if (heap == nullptr || owner == nullptr || out == nullptr)
    return reply("talc_reallocate_from", Errc::null_pointer);
  const talc::Result<talc::Meta> m = meta_of(heap, owner);
  if (!m) return reply("talc_reallocate_from", m.error());
  return give("talc_reallocate_from",
              heap->t.try_reallocate_from(*m, word, size, align_or_default(align)), out);
}

uint64_t talc_offset_of(const talc_heap* heap, const void* p) noexcept {
  if (heap == nullptr || p == nullptr) return TALC_NULL_OFFSET;
  const std::uint64_t off = offset_in(heap, p);
  return off < heap->t.size() ? off : TALC_NULL_OFFSET;
}
void* talc_address_of(const talc_heap* heap, uint64_t offset) noexcept {
  return heap == nullptr ? nullptr : heap->t.address_of(offset);
}
talc_errc talc_adopt(talc_heap* heap, uint64_t offset, size_t size, void** out) noexcept {
  if (heap == nullptr || out == nullptr) return reply("talc_adopt", Errc::null_pointer);
  return give("talc_adopt",
              heap->t.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(offset), size)), out);
}

uint64_t talc_root(const talc_heap* heap) noexcept {
  return heap == nullptr ? TALC_NULL_OFFSET : heap->t.root();
}
void talc_set_root(talc_heap* heap, uint64_t offset) noexcept {
  if (heap != nullptr) heap->t.set_root(offset);
}
int talc_exchange_root(talc_heap* heap, uint64_t expected, uint64_t offset) noexcept {
  return heap != nullptr && heap->t.exchange_root(expected, offset) ? 1 : 0;
}

talc_errc talc_named_find_or_allocate(talc_heap* heap, const char* name, size_t size, size_t align,
                                      void** out) noexcept {
  if (heap == nullptr || name == nullptr || out == nullptr)
    return reply("talc_named_find_or_allocate", Errc::null_pointer);
  return guarded("talc_named_find_or_allocate", [&] {
    const talc::Result<talc::Meta> r =
        heap->t.find_or_allocate_named(name, size, align_or_default(align));
    if (r) *out = r->ptr();
    return r.error();
  });
}
talc_errc talc_named_find(talc_heap* heap, const char* name, void** out, size_t* size) noexcept {
  if (heap == nullptr || name == nullptr || out == nullptr)
    return reply("talc_named_find", Errc::null_pointer);
  return guarded("talc_named_find", [&] {
    const talc::Result<talc::Meta> r = heap->t.find_named(name);
    if (r) {
      *out = r->ptr();
      if (size != nullptr) *size = r->size;
    }
    return r.error();
  });
}
talc_errc talc_named_destroy(talc_heap* heap, const char* name) noexcept {
  if (heap == nullptr || name == nullptr) return reply("talc_named_destroy", Errc::null_pointer);
  return guarded("talc_named_destroy", [&] { return heap->t.destroy_named(name); });
}

talc_errc talc_named_each(talc_heap* heap, talc_named_visit visit, void* context) noexcept {
  if (heap == nullptr || visit == nullptr) return reply("talc_named_each", Errc::null_pointer);
  return guarded("talc_named_each", [&] {
    const auto names = heap->t.named_objects();  // read whole, so that visit may call the heap
    if (!names) return names.error();
    for (const talc::NamedInfo& n : *names)
      if (visit(n.name.c_str(), n.offset, n.size, n.type, context) != 0) break;
    return Errc::ok;
  });
}

const char* talc_named_kind(uint64_t type) noexcept {
  return talc::kind_name(talc::named_kind(type));
}

talc_errc talc_named_array_make(talc_heap* heap, const char* name, const char* type,
                                size_t item_size, uint32_t ndim, const uint64_t* shape,
                                talc_array* out) noexcept {
  constexpr const char* call = "talc_named_array_make";
  if (heap == nullptr || name == nullptr || type == nullptr || out == nullptr ||
      (shape == nullptr && ndim != 0))
    return reply(call, Errc::null_pointer);
  talc::ArrayInfo want;
  const char* why = nullptr;
  if (!talc::make_array_info(type, item_size, {shape, ndim}, want, why))
    return refused(call, TALC_SIZE_OVERFLOW, why);
  return found_array(call, out, why,
                     [&] { return talc::find_or_make_array(heap->t, name, want, &why); });
}

talc_errc talc_named_array(talc_heap* heap, const char* name, talc_array* out) noexcept {
  constexpr const char* call = "talc_named_array";
  if (heap == nullptr || name == nullptr || out == nullptr) return reply(call, Errc::null_pointer);
  const char* why = nullptr;
  return found_array(call, out, why, [&] { return talc::find_array(heap->t, name, &why); });
}

talc_errc talc_get_stats(talc_heap* heap, talc_stats* out) noexcept {
  if (heap == nullptr || out == nullptr) return reply("talc_get_stats", Errc::null_pointer);
  const talc::Result<talc::HeapStats> r = heap->t.try_stats();
  if (!r) return reply("talc_get_stats", r.error());
  const talc::HeapStats& s = *r;
#define TALC_STATS_COPY(name) out->name = s.name;
  TALC_HEAP_STATS(TALC_STATS_COPY)
#undef TALC_STATS_COPY
  return succeeded();
}

talc_errc talc_check(talc_heap* heap, talc_check_report* report) noexcept {
  if (heap == nullptr) return reply("talc_check", Errc::null_pointer);
  return guarded("talc_check", [&] {
    const talc::CheckReport rep = heap->t.check();
    if (report != nullptr)
      *report = talc_check_report{static_cast<talc_errc>(rep.code), rep.offset, rep.what};
    return rep.code;
  });
}
talc_errc talc_trim(talc_heap* heap) noexcept {
  if (heap == nullptr) return reply("talc_trim", Errc::null_pointer);
  return reply("talc_trim", heap->t.trim());
}

talc_errc talc_ring_open(talc_heap* heap, const char* name, talc_ring** ring) noexcept {
  if (heap == nullptr || name == nullptr || ring == nullptr)
    return reply("talc_ring_open", Errc::null_pointer);
  return guarded("talc_ring_open", [&] {
    const talc::Result<talc::NamedRing*> r = heap->t.find_or_construct<talc::NamedRing>(name);
    if (r) *ring = reinterpret_cast<talc_ring*>(*r);
    return r.error();
  });
}
talc_errc talc_ring_push(talc_ring* ring, uint64_t offset, uint64_t size,
                         int64_t timeout_ms) noexcept {
  if (ring == nullptr) return reply("talc_ring_push", Errc::null_pointer);
  const talc::RelMeta m(talc::Rel<std::byte>::from_offset(offset), size);
  return reply("talc_ring_push", ring_of(ring)->push(m, bound_of(timeout_ms)));
}
talc_errc talc_ring_pop(talc_ring* ring, int64_t timeout_ms, uint64_t* offset,
                        uint64_t* size) noexcept {
  if (ring == nullptr || offset == nullptr || size == nullptr)
    return reply("talc_ring_pop", Errc::null_pointer);
  const talc::Result<talc::RelMeta> r = ring_of(ring)->pop(bound_of(timeout_ms));
  if (!r) return reply("talc_ring_pop", r.error());
  *offset = r->start().offset();
  *size = r->size();
  return succeeded();
}
talc_errc talc_ring_close_producer(talc_ring* ring) noexcept {
  if (ring == nullptr) return reply("talc_ring_close_producer", Errc::null_pointer);
  ring_of(ring)->close(talc::RingEnd::producer);
  return succeeded();
}
talc_errc talc_ring_close_consumer(talc_ring* ring) noexcept {
  if (ring == nullptr) return reply("talc_ring_close_consumer", Errc::null_pointer);
  ring_of(ring)->close(talc::RingEnd::consumer);
  return succeeded();
}
uint64_t talc_ring_length(const talc_ring* ring) noexcept {
  return ring == nullptr ? 0 : reinterpret_cast<const talc::NamedRing*>(ring)->size();
}

const char* talc_version(void) noexcept {
  return TALC_PROJECT_VERSION;
}

const char* talc_strerror(talc_errc code) noexcept {
  if (code == TALC_OS_ERROR) return "an operating-system call failed";
  return is_errc(code) ? talc::describe(static_cast<Errc>(code)) : "unknown";
}
const char* talc_errc_name(talc_errc code) noexcept {
  if (code == TALC_OS_ERROR) return "os_error";
  return is_errc(code) ? talc::name_of(static_cast<Errc>(code)) : "unknown";
}
const char* talc_last_error_message(void) noexcept {
  return last_message;
}
int talc_last_os_error(void) noexcept {
  return last_os;
}

}  // extern "C"
