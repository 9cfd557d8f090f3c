// named/ — named arrays: a named block that says what it holds, for every language to read.
//
// A named block of bytes carries only its size: a Python program and a C program that share one
// need another channel to agree on its element type and shape. A named array keeps them in the
// block itself, in front of the data, in a layout any program can read without this library:
//
//   offset  size        field
//   0       8           magic, the bytes "talcarr1"
//   8       4           version (kArrayVersion); another version is refused, not guessed at
//   12      4           ndim, at most kArrayMaxDims (0: a single element)
//   16      8           item_size, the bytes of one element (> 0)
//   24      8           data_offset, from the block's start: round_up(64 + 8 * ndim, 64)
//   32      8           data_bytes = item_size * shape[0] * ... * shape[ndim - 1]
//   40      24          type, NUL-terminated printable ASCII: numpy's dtype.str ("<f8", "|u1")
//   64      8 * ndim    shape[], in elements, C order (the last index varies fastest)
//   data_offset         the data, data_bytes of them
//
// Every integer is in the machine's byte order. The block is aligned to 64, so the data is too,
// in every process (every mapping of a region is 2 MiB-aligned). The directory records a named
// array under a type key of its own (named_detail::Array): it is not found as a block of bytes,
// and listings tell it apart.
//
// A header read from the region is another process's data: read_array() copies it out first
// (the bytes may change while they are checked) and refuses whatever is inconsistent, with the
// reason, before anything computes an address from it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "talc/core/errors.hpp"
#include "talc/face/meta.hpp"
#include "talc/named/directory.hpp"

namespace talc {

inline constexpr char kArrayMagic[8] = {'t', 'a', 'l', 'c', 'a', 'r', 'r', '1'};
inline constexpr std::uint32_t kArrayVersion = 1;
inline constexpr std::size_t kArrayMaxDims = 32;  // numpy's own bound (NPY_MAXDIMS)
inline constexpr std::size_t kArrayTypeBytes = 24;
inline constexpr std::size_t kArrayAlign = 64;

/// The fixed part of a named array's header (the table above); the shape follows it.
struct ArrayHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t ndim;
  std::uint64_t item_size;
  std::uint64_t data_offset;
  std::uint64_t data_bytes;
  char type[kArrayTypeBytes];
};
static_assert(sizeof(ArrayHeader) == 64 && offsetof(ArrayHeader, type) == 40);

/// What a named array holds, copied out of the region and checked.
struct ArrayInfo {
  char type[kArrayTypeBytes] = {};  // NUL-terminated
  std::uint32_t ndim = 0;
  std::uint64_t item_size = 0;
  std::array<std::uint64_t, kArrayMaxDims> shape = {};
  std::uint64_t data_offset = 0;  // from the block's start
  std::uint64_t data_bytes = 0;

  std::string_view type_name() const noexcept { return type; }
  std::span<const std::uint64_t> dims() const noexcept { return {shape.data(), ndim}; }
  /// The bytes a block needs for this array: header, shape and data.
  std::uint64_t block_bytes() const noexcept { return data_offset + data_bytes; }
};

/// Whether two arrays have the same type and shape.
inline bool same_array(const ArrayInfo& a, const ArrayInfo& b) noexcept {
  return a.type_name() == b.type_name() && a.item_size == b.item_size && a.ndim == b.ndim &&
         std::equal(a.dims().begin(), a.dims().end(), b.dims().begin());
}

namespace named_detail {

constexpr std::uint64_t array_data_offset(std::uint64_t ndim) noexcept {
  return (sizeof(ArrayHeader) + ndim * sizeof(std::uint64_t) + kArrayAlign - 1) / kArrayAlign *
         kArrayAlign;
}

/// Why `type` cannot be an array's type, or null.
inline const char* bad_type(std::string_view type) noexcept {
  if (type.empty() || type.size() >= kArrayTypeBytes)
    return "the type is empty or longer than 23 characters";
  for (const char c : type)
    if (c < 0x21 || c > 0x7e) return "the type is not printable ASCII";
  return nullptr;
}

/// Fills the sizes of `a` from its type, item size and shape; why it cannot, or null.
inline const char* complete(ArrayInfo& a) noexcept {
  if (const char* why = bad_type(a.type_name())) return why;
  if (a.ndim > kArrayMaxDims) return "more than 32 dimensions";
  if (a.item_size == 0) return "an element of 0 bytes";
  std::uint64_t bytes = a.item_size;
  bool overflow = false;
  for (const std::uint64_t n : a.dims())
    overflow = overflow || __builtin_mul_overflow(bytes, n, &bytes);
  a.data_offset = array_data_offset(a.ndim);
  if (overflow || bytes > ~std::uint64_t{0} - a.data_offset)
    return "the array's size overflows 64 bits";
  a.data_bytes = bytes;
  return nullptr;
}

}  // namespace named_detail

/// An array of `shape` elements of `item_size` bytes, of type `type` (numpy's dtype.str for
/// Python to read it back); `why` says what is wrong when it returns false.
inline bool make_array_info(std::string_view type, std::uint64_t item_size,
                            std::span<const std::uint64_t> shape, ArrayInfo& out,
                            const char*& why) noexcept {
  out = ArrayInfo{};
  if (shape.size() > kArrayMaxDims) {
    why = "more than 32 dimensions";
    return false;
  }
  if ((why = named_detail::bad_type(type)) != nullptr) return false;
  std::memcpy(out.type, type.data(), type.size());
  out.ndim = static_cast<std::uint32_t>(shape.size());
  out.item_size = item_size;
  std::copy(shape.begin(), shape.end(), out.shape.begin());
  why = named_detail::complete(out);
  return why == nullptr;
}

/// Writes the header of `a` at the start of `block` (at least a.block_bytes() long).
inline void write_array_header(std::byte* block, const ArrayInfo& a) noexcept {
  ArrayHeader h{};
  std::memcpy(h.magic, kArrayMagic, sizeof h.magic);
  h.version = kArrayVersion;
  h.ndim = a.ndim;
  h.item_size = a.item_size;
  h.data_offset = a.data_offset;
  h.data_bytes = a.data_bytes;
  std::memcpy(h.type, a.type, sizeof h.type);
  std::memcpy(block, &h, sizeof h);
  std::memcpy(block + sizeof h, a.shape.data(), a.ndim * sizeof(std::uint64_t));
}

/// Reads the header at the start of a block of `block_size` bytes into `out`, checking every
/// field against the others and the block; null, or why it is refused.
inline const char* read_array(const std::byte* block, std::uint64_t block_size,
                              ArrayInfo& out) noexcept {
  out = ArrayInfo{};
  if (block_size < sizeof(ArrayHeader)) return "the block is smaller than an array's header";
  ArrayHeader h;
  std::memcpy(&h, block, sizeof h);
  if (std::memcmp(h.magic, kArrayMagic, sizeof h.magic) != 0) return "no array header (magic)";
  if (h.version != kArrayVersion) return "an array header of another version";
  if (h.ndim > kArrayMaxDims) return "more than 32 dimensions";
  if (std::memchr(h.type, '\0', sizeof h.type) == nullptr) return "the type is not terminated";
  if (block_size - sizeof h < h.ndim * sizeof(std::uint64_t))
    return "the shape runs past the block";
  std::memcpy(out.type, h.type, sizeof out.type);
  out.ndim = h.ndim;
  out.item_size = h.item_size;
  std::memcpy(out.shape.data(), block + sizeof h, h.ndim * sizeof(std::uint64_t));
  if (const char* why = named_detail::complete(out)) return why;
  if (h.data_offset != out.data_offset) return "the data offset disagrees with ndim";
  if (h.data_bytes != out.data_bytes) return "the data size disagrees with the shape";
  if (out.block_bytes() > block_size) return "the data runs past the block";
  return nullptr;
}

/// A named array found or made: its block and what the header says.
struct NamedArray {
  Meta block;
  ArrayInfo info;
  std::byte* data() const noexcept { return block.as<std::byte>() + info.data_offset; }
};

/// The named array `name`, whatever its type and shape; a block of bytes or an object of
/// that name is refused (type_mismatch), a header that fails read_array() too (corrupted, with
/// the reason in `*why`).
template <class Bins>
Result<NamedArray> find_array(Talc<Bins>& t, std::string_view name, const char** why = nullptr) {
  const Result<Meta> m = t.names().template find_raw<named_detail::Array>(name);
  if (!m) return m.error();
  NamedArray got{*m, {}};
  if (const char* bad = read_array(m->as<std::byte>(), m->size, got.info)) {
    if (why != nullptr) *why = bad;
    return Errc::corrupted;
  }
  return got;
}

/// The named array `name`: made with `want`'s type and shape (its data zeroed) by the first
/// caller in any process, found by every later one. One of another type or shape is refused
/// (type_mismatch, size_mismatch), a block of bytes or an object of that name (type_mismatch),
/// and a header that fails read_array() (corrupted, with the reason in `*why`).
template <class Bins>
Result<NamedArray> find_or_make_array(Talc<Bins>& t, std::string_view name, const ArrayInfo& want,
                                      const char** why = nullptr) {
  const Result<Meta> m = t.names().template find_or_allocate_raw<named_detail::Array>(
      name, want.block_bytes(), kArrayAlign, [&](const Meta& b) {
        std::memset(b.ptr(), 0, b.size);
        write_array_header(b.as<std::byte>(), want);
      });
  if (!m) {
    // The directory compares the block's bytes before the header is read here: an array of
    // another type is type_mismatch whatever its size.
    if (m.error() == Errc::size_mismatch)
      if (const Result<NamedArray> old = find_array(t, name);
          old && old->info.type_name() != want.type_name())
        return Errc::type_mismatch;
    return m.error();
  }
  NamedArray got{*m, {}};
  if (const char* bad = read_array(m->as<std::byte>(), m->size, got.info)) {
    if (why != nullptr) *why = bad;
    return Errc::corrupted;
  }
  if (!same_array(got.info, want))
    return got.info.type_name() != want.type_name() ? Errc::type_mismatch : Errc::size_mismatch;
  return got;
}

}  // namespace talc
