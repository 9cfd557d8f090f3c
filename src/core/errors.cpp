// The text of every talc::Errc, and its std::error_category.
#include "talc/core/errors.hpp"

#include <string>

namespace talc {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::ok:
      return "success";
    case Errc::null_region:
      return "the region is null";
    case Errc::region_too_small:
      return "the region is too small for a heap";
    case Errc::region_too_large:
      return "the region is larger than heap offsets can describe";
    case Errc::bad_alignment:
      return "the alignment is not a power of two";
    case Errc::alignment_too_large:
      return "the alignment is larger than the heap supports";
    case Errc::size_overflow:
      return "the requested size is larger than any heap can hold";
    case Errc::out_of_memory:
      return "no free chunk is large enough";
    case Errc::null_pointer:
      return "the pointer is null";
    case Errc::foreign_pointer:
      return "the pointer is not the start of a block of this heap";
    case Errc::not_allocated:
      return "the block is not allocated (double free?)";
    case Errc::corrupted:
      return "the heap's metadata is inconsistent";
    case Errc::not_a_heap:
      return "the region does not hold a talc heap";
    case Errc::version_mismatch:
      return "the heap has another format version";
    case Errc::config_mismatch:
      return "the heap was built with another configuration";
    case Errc::region_truncated:
      return "the region is smaller than the heap it holds";
    case Errc::already_initialised:
      return "the region already holds a heap";
    case Errc::not_initialised:
      return "the region holds no heap yet";
    case Errc::init_abandoned:
      return "the process building the heap died before finishing";
    case Errc::init_timeout:
      return "the heap was still being built when the wait ran out";
    case Errc::not_found:
      return "no object of that name";
    case Errc::already_exists:
      return "an object of that name already exists";
    case Errc::type_mismatch:
      return "the named object has another type";
    case Errc::size_mismatch:
      return "the named object has another size";
    case Errc::empty_name:
      return "the name is empty";
    case Errc::name_too_long:
      return "the name is longer than the directory stores";
    case Errc::directory_reentered:
      return "the directory was called from a constructor or destructor it runs";
    case Errc::lock_damaged:
      return "a lock word in the region holds a value no holder writes (see talc repair)";
    case Errc::lock_timeout:
      return "another live process held the lock past the wait's bound";
    case Errc::slot_occupied:
      return "the slot already names a block";
    case Errc::namespace_mismatch:
      return "the heap was built in another PID or time namespace, whose process ids mean "
             "other processes";
  }
  return "unknown talc error";
}

const char* name_of(Errc e) noexcept {
  switch (e) {
    case Errc::ok:
      return "ok";
    case Errc::null_region:
      return "null_region";
    case Errc::region_too_small:
      return "region_too_small";
    case Errc::region_too_large:
      return "region_too_large";
    case Errc::bad_alignment:
      return "bad_alignment";
    case Errc::alignment_too_large:
      return "alignment_too_large";
    case Errc::size_overflow:
      return "size_overflow";
    case Errc::out_of_memory:
      return "out_of_memory";
    case Errc::null_pointer:
      return "null_pointer";
    case Errc::foreign_pointer:
      return "foreign_pointer";
    case Errc::not_allocated:
      return "not_allocated";
    case Errc::corrupted:
      return "corrupted";
    case Errc::not_a_heap:
      return "not_a_heap";
    case Errc::version_mismatch:
      return "version_mismatch";
    case Errc::config_mismatch:
      return "config_mismatch";
    case Errc::region_truncated:
      return "region_truncated";
    case Errc::already_initialised:
      return "already_initialised";
    case Errc::not_initialised:
      return "not_initialised";
    case Errc::init_abandoned:
      return "init_abandoned";
    case Errc::init_timeout:
      return "init_timeout";
    case Errc::not_found:
      return "not_found";
    case Errc::already_exists:
      return "already_exists";
    case Errc::type_mismatch:
      return "type_mismatch";
    case Errc::size_mismatch:
      return "size_mismatch";
    case Errc::empty_name:
      return "empty_name";
    case Errc::name_too_long:
      return "name_too_long";
    case Errc::directory_reentered:
      return "directory_reentered";
    case Errc::lock_damaged:
      return "lock_damaged";
    case Errc::lock_timeout:
      return "lock_timeout";
    case Errc::slot_occupied:
      return "slot_occupied";
    case Errc::namespace_mismatch:
      return "namespace_mismatch";
  }
  return "unknown";
}

namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "talc"; }
  std::string message(int ev) const override { return describe(static_cast<Errc>(ev)); }
};
}  // namespace

const std::error_category& talc_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace talc
