// The lifetime rules of heap.hpp, and the calls into the face that follow them.
#include "heap.hpp"

#include <pybind11/pybind11.h>

#include "errors.hpp"

namespace py = pybind11;

namespace talc_py {

Heap::~Heap() {
  if (!talc_) return;
  if (PyGILState_Check() != 0 && _Py_IsFinalizing() == 0) {
    py::gil_scoped_release nogil;
    talc_.reset();
  } else {
    talc_.reset();
  }
}

void Heap::close() {
  if (views_ != 0)
    throw py::buffer_error("the heap cannot close while a buffer over one of its blocks is held");
  // From here no new call and no new buffer is let in (use() refuses), with the GIL still held:
  // what runs already finishes before the mapping goes.
  closing_.store(true, std::memory_order_release);
  std::optional<MapTalc> gone;
  py::gil_scoped_release nogil;
  std::unique_lock lock(mu_);
  gone.swap(talc_);
  gone.reset();  // gives the lanes back and unmaps, without the GIL
}

bool Heap::closed() {
  std::shared_lock lock(mu_);
  return !talc_;
}

std::shared_ptr<BlockState> Heap::state_of(std::uint64_t offset, std::uint64_t size, bool named,
                                           bool fresh) {
  std::weak_ptr<BlockState>& w = blocks_[offset];
  std::shared_ptr<BlockState> s = w.lock();
  if (s && fresh) {
    // The heap just gave this offset out: a Block still holding it held a block another process
    // freed since. It is gone to its holders, as a freed one is.
    s->state = BlockState::State::freed;
    s.reset();
  }
  if (!s) {
    s = std::make_shared<BlockState>(BlockState{offset, size});
    w = s;
  }
  if (size > s->size) s->size = size;
  s->named = s->named || named;
  return s;
}

void Heap::forget(const BlockState& s) {
  const auto it = blocks_.find(s.offset);
  if (it == blocks_.end()) return;
  const std::shared_ptr<BlockState> there = it->second.lock();
  if (!there || there.get() == &s) blocks_.erase(it);
}

void Heap::moved(std::uint64_t from, const std::shared_ptr<BlockState>& s) {
  const auto it = blocks_.find(from);
  if (it != blocks_.end() && it->second.lock() == s) blocks_.erase(it);
  std::weak_ptr<BlockState>& w = blocks_[s->offset];
  // As for a fresh allocation (state_of): a Block still holding the new place is stale.
  if (const std::shared_ptr<BlockState> old = w.lock(); old && old != s)
    old->state = BlockState::State::freed;
  w = s;
}

void Heap::throw_closed() {
  throw py::value_error("the heap is closed");
}

Block::~Block() {
  // The last Block of a state: its entry goes with it (the state's lifetime is the Blocks').
  if (s_ && s_.use_count() == 1) heap_->forget(*s_);
}

void Block::require_live() const {
  switch (s_->state) {
    case BlockState::State::live:
      return;
    case BlockState::State::busy:
      throw py::buffer_error("another thread is freeing, moving or handing over the block");
    case BlockState::State::freed:
      fail(talc::Errc::not_allocated, "the block was freed");
    case BlockState::State::handed_over:
      fail(talc::Errc::not_allocated, "the block was handed over through a ring");
  }
}

void Block::require_unviewed() const {
  if (s_->views != 0)
    throw py::buffer_error("a buffer over the block is still held (a memoryview, an array)");
}

void Block::require_unnamed() const {
  if (s_->named)
    throw py::value_error("a named block is freed with Heap.destroy(name), and stays put");
}

std::byte* Block::open_view() {
  require_live();
  std::byte* p = heap_->use([&](MapTalc& t) { return t.base() + s_->offset; });
  heap_->add_view(*s_);
  return p;
}

namespace {

// Runs op() (which returns an Errc) without the GIL while `s` is busy: no other thread uses the
// block meanwhile. On success the state becomes `after`; on a refusal it is live again.
template <class Op>
talc::Errc while_busy(BlockState& s, BlockState::State after, Op&& op) {
  s.state = BlockState::State::busy;
  talc::Errc e = talc::Errc::corrupted;
  try {
    py::gil_scoped_release nogil;
    e = op();
  } catch (...) {
    s.state = BlockState::State::live;
    throw;
  }
  s.state = e == talc::Errc::ok ? after : BlockState::State::live;
  return e;
}

}  // namespace

void Block::free() {
  require_live();
  require_unviewed();
  require_unnamed();
  const talc::Errc e = while_busy(*s_, BlockState::State::freed, [&] {
    return heap_->use([&](MapTalc& t) {
      return t.deallocate(talc::Meta{t.base(), s_->offset, s_->size});
    });
  });
  if (e != talc::Errc::ok) fail(e);  // a refusal changes nothing
  heap_->forget(*s_);
}

void Block::reallocate(std::size_t size, std::size_t align) {
  if (size == 0) throw py::value_error("a block of 0 bytes");
  require_live();
  require_unviewed();
  require_unnamed();
  talc::Result<talc::Meta> r = talc::Errc::corrupted;
  const talc::Errc e = while_busy(*s_, BlockState::State::live, [&] {
    r = heap_->use([&](MapTalc& t) {
      return t.try_reallocate(talc::Meta{t.base(), s_->offset, s_->size}, size, align);
    });
    return r.error();
  });
  if (e != talc::Errc::ok) fail(e);
  const std::uint64_t from = s_->offset;
  s_->offset = r->offset;
  s_->size = size;
  heap_->moved(from, s_);
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
  return Block(h, h->state_of(r->offset, size, false, true));
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
  return Block(h, h->state_of(offset, r->size, false, false));
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
  return Block(h, h->state_of(r->offset, r->size, true, false));
}

Block find_named(const std::shared_ptr<Heap>& h, const std::string& name) {
  talc::Result<talc::Meta> r = talc::Errc::corrupted;
  {
    py::gil_scoped_release nogil;
    r = h->use([&](MapTalc& t) { return t.find_named(name); });
  }
  if (!r) fail(r.error());
  return Block(h, h->state_of(r->offset, r->size, true, false));
}

void destroy_named(const std::shared_ptr<Heap>& h, const std::string& name) {
  Block b = find_named(h, name);
  b.require_live();
  b.require_unviewed();
  // Busy while the name and its block go: no buffer opens over it meanwhile, through any Block.
  const talc::Errc e = while_busy(b.state(), BlockState::State::freed, [&] {
    return h->use([&](MapTalc& t) { return t.destroy_named(name); });
  });
  if (e != talc::Errc::ok) fail(e);
  h->forget(b.state());
}

bool Ring::push(Block& b) {
  if (b.heap() != heap_) fail(talc::Errc::foreign_pointer, "the block is of another Heap");
  b.require_live();
  b.require_unviewed();
  b.require_unnamed();
  const talc::RelMeta rel(talc::Rel<std::byte>::from_offset(b.offset()), b.size());
  const bool pushed = heap_->use([&](MapTalc& t) { return at(t).try_push(rel); });
  if (pushed) {
    b.state().state = BlockState::State::handed_over;
    heap_->forget(b.state());
  }
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
