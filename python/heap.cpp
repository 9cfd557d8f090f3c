// The lifetime rules of heap.hpp, and the calls into the face that follow them.
#include "heap.hpp"

#include <pybind11/pybind11.h>

#include "errors.hpp"

namespace py = pybind11;

namespace talc_py {

void Heap::close() {
  if (!views_.empty())
    throw py::buffer_error("the heap cannot close while a buffer over one of its blocks is held");
  std::optional<MapTalc> gone;
  {
    py::gil_scoped_release nogil;
    std::unique_lock lock(mu_);
    gone.swap(talc_);
    gone.reset();  // gives the lanes back and unmaps, without the GIL
  }
}

bool Heap::closed() {
  std::shared_lock lock(mu_);
  return !talc_;
}

void Heap::drop_view(std::uint64_t offset) {
  const auto it = views_.find(offset);
  if (it != views_.end() && --it->second == 0) views_.erase(it);
}

void Heap::throw_closed() {
  throw py::value_error("the heap is closed");
}

void Block::require_live() const {
  switch (state_) {
    case State::live:
      return;
    case State::freed:
      fail(talc::Errc::not_allocated, "the block was freed");
    case State::handed_over:
      fail(talc::Errc::not_allocated, "the block was handed over through a ring");
  }
}

void Block::require_unviewed() const {
  if (heap_->viewed(offset_))
    throw py::buffer_error("a buffer over the block is still held (a memoryview, an array)");
}

void Block::require_unnamed() const {
  if (named_)
    throw py::value_error("a named block is freed with Heap.destroy(name), and stays put");
}

std::byte* Block::open_view() {
  require_live();
  std::byte* p = heap_->use([&](MapTalc& t) { return t.base() + offset_; });
  heap_->add_view(offset_);
  return p;
}

void Block::free() {
  require_live();
  require_unviewed();
  require_unnamed();
  // No new view while the heap frees the block: the state says freed from here on.
  state_ = State::freed;
  talc::Errc e = talc::Errc::corrupted;
  try {
    py::gil_scoped_release nogil;
    e = heap_->use([&](MapTalc& t) { return t.deallocate(talc::Meta{t.base(), offset_, size_}); });
  } catch (...) {
    state_ = State::live;
    throw;
  }
  if (e != talc::Errc::ok) {
    state_ = State::live;  // a refusal changes nothing
    fail(e);
  }
}

void Block::reallocate(std::size_t size, std::size_t align) {
  if (size == 0) throw py::value_error("a block of 0 bytes");
  require_live();
  require_unviewed();
  require_unnamed();
  talc::Result<talc::Meta> r = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    r = heap_->use([&](MapTalc& t) {
      return t.try_reallocate(talc::Meta{t.base(), offset_, size_}, size, align);
    });
  }
  if (!r) fail(r.error());
  offset_ = r->offset;
  size_ = size;
}

void Block::hand_over() {
  state_ = State::handed_over;
}

Block allocate(const std::shared_ptr<Heap>& h, std::size_t size, std::size_t align, bool zeroed) {
  if (size == 0) throw py::value_error("a block of 0 bytes");
  talc::Result<talc::Meta> r = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    r = h->use([&](MapTalc& t) {
      return zeroed ? t.try_allocate_zeroed(size, align) : t.try_allocate(size, align);
    });
  }
  if (!r) fail(r.error());
  return Block(h, r->offset, size);
}

Block adopt(const std::shared_ptr<Heap>& h, std::uint64_t offset,
            std::optional<std::uint64_t> size) {
  if (size && *size == 0) throw py::value_error("a block of 0 bytes");
  talc::Result<talc::Meta> r = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    r = h->use([&](MapTalc& t) -> talc::Result<talc::Meta> {
      const talc::Result<talc::Meta> m =
          t.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(offset), size.value_or(0)));
      if (!m || size) return m;
      const talc::Result<std::size_t> usable = t.usable_size(m->ptr());
      if (!usable) return usable.error();
      return talc::Meta{t.base(), offset, *usable};
    });
  }
  if (!r) fail(r.error());
  return Block(h, offset, r->size);
}

Ring ring(const std::shared_ptr<Heap>& h, const std::string& name) {
  talc::Result<std::uint64_t> r = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    r = h->use([&](MapTalc& t) -> talc::Result<std::uint64_t> {
      const talc::Result<OffsetRing*> found = t.find_or_construct<OffsetRing>(name);
      if (!found) return found.error();
      return t.offset_of(*found);
    });
  }
  if (!r) fail(r.error());
  return Ring(h, *r);
}

Block find_or_allocate_named(const std::shared_ptr<Heap>& h, const std::string& name,
                             std::size_t size, std::size_t align) {
  if (size == 0) throw py::value_error("a block of 0 bytes");
  talc::Result<talc::Meta> r = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    r = h->use([&](MapTalc& t) { return t.find_or_allocate_named(name, size, align); });
  }
  if (!r) fail(r.error());
  return Block(h, r->offset, r->size, true);
}

Block find_named(const std::shared_ptr<Heap>& h, const std::string& name) {
  talc::Result<talc::Meta> r = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    r = h->use([&](MapTalc& t) { return t.find_named(name); });
  }
  if (!r) fail(r.error());
  return Block(h, r->offset, r->size, true);
}

void destroy_named(const std::shared_ptr<Heap>& h, const std::string& name) {
  const Block b = find_named(h, name);
  b.require_unviewed();
  talc::Errc e = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    e = h->use([&](MapTalc& t) { return t.destroy_named(name); });
  }
  if (e != talc::Errc::ok) fail(e);
}

bool Ring::push(Block& b) {
  if (b.heap() != heap_) fail(talc::Errc::foreign_pointer, "the block is of another Heap");
  b.require_live();
  b.require_unviewed();
  b.require_unnamed();
  const talc::RelMeta rel(talc::Rel<std::byte>::from_offset(b.offset()), b.size());
  const bool pushed = heap_->use([&](MapTalc& t) { return at(t).try_push(rel); });
  if (pushed) b.hand_over();
  return pushed;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> Ring::pop() {
  const std::optional<talc::RelMeta> m = heap_->use([&](MapTalc& t) { return at(t).try_pop(); });
  if (!m) return std::nullopt;
  return std::make_pair(m->start().offset(), m->size());
}

std::uint64_t Ring::size() {
  return heap_->use([&](MapTalc& t) { return at(t).size(); });
}

}  // namespace talc_py
