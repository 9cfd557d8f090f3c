// The lifetime rules of heap.hpp, and the calls into the face that follow them.
#include "heap.hpp"

#include <pybind11/pybind11.h>

#include <algorithm>
#include <cerrno>

#include "errors.hpp"
#include "gil.hpp"

namespace py = pybind11;

namespace talc_py {

namespace {

// Whether the interpreter is shutting down (then the GIL is not given away). Public from 3.13.
bool finalizing() noexcept {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

}  // namespace

Heap::~Heap() {
  if (!talc_) return;
  if (PyGILState_Check() != 0 && !finalizing()) {
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
  without_gil([&] {
    std::optional<MapTalc> gone;
    std::unique_lock lock(mu_);
    gone.swap(talc_);
    gone.reset();  // gives the lanes back and unmaps, without the GIL
  });
}

bool Heap::closed() {
  std::shared_lock lock(mu_);
  return !talc_;
}

std::shared_ptr<BlockState> Heap::state_of(std::uint64_t offset, std::uint64_t size,
                                           std::uint64_t usable, bool named, bool fresh) {
  std::weak_ptr<BlockState>& w = blocks_[offset];
  std::shared_ptr<BlockState> s = w.lock();
  if (s && (fresh || s->size > usable)) {
    // Stale. One busy with a free or a move in another thread is left to it: that operation
    // sets its final state.
    if (s->state != BlockState::State::busy) s->state = BlockState::State::freed;
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
  ++goings_;
  unlist(s);
}

void Heap::unlist(const BlockState& s) {
  const auto it = blocks_.find(s.offset);
  if (it == blocks_.end()) return;
  const std::shared_ptr<BlockState> there = it->second.lock();
  if (!there || there.get() == &s) blocks_.erase(it);
}

void Heap::moved(std::uint64_t from, const std::shared_ptr<BlockState>& s) {
  ++goings_;
  const auto it = blocks_.find(from);
  if (it != blocks_.end() && it->second.lock() == s) blocks_.erase(it);
  std::weak_ptr<BlockState>& w = blocks_[s->offset];
  // As for a fresh allocation (state_of): a Block still holding the new place is stale.
  if (const std::shared_ptr<BlockState> old = w.lock();
      old && old != s && old->state != BlockState::State::busy)
    old->state = BlockState::State::freed;
  w = s;
}

void Heap::throw_closed() {
  throw py::value_error("the heap is closed");
}

Block::~Block() {
  // The last Block of a state: its entry goes with it (the state's lifetime is the Blocks'). The
  // block itself stays: nothing went.
  if (s_ && s_.use_count() == 1) heap_->unlist(*s_);
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
    e = without_gil(op);
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
  // Copies: the state is read by other threads' adoptions, with the GIL, while this one runs.
  const std::uint64_t offset = s_->offset, size = s_->size;
  const talc::Errc e = while_busy(*s_, BlockState::State::freed, [&] {
    return heap_->use([&](MapTalc& t) { return t.deallocate(talc::Meta{t.base(), offset, size}); });
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
  const std::uint64_t from = s_->offset, old = s_->size;  // copies, as in free()
  const talc::Errc e = while_busy(*s_, BlockState::State::live, [&] {
    r = heap_->use([&](MapTalc& t) {
      return t.try_reallocate(talc::Meta{t.base(), from, old}, size, align);
    });
    return r.error();
  });
  if (e != talc::Errc::ok) fail(e);
  s_->offset = r->offset;
  s_->size = size;
  heap_->moved(from, s_);
}

Block allocate(const std::shared_ptr<Heap>& h, std::size_t size, std::size_t align, bool zeroed) {
  if (size == 0) throw py::value_error("a block of 0 bytes");
  // A thread ended as it takes the GIL back (a daemon thread while the interpreter finalises,
  // gil.hpp) never makes its Block: the block goes back to the heap, or nothing would name it.
  struct InFlight {
    Heap& heap;
    std::optional<talc::Meta> block;
    ~InFlight() {
      if (!block) return;
      try {
        (void)heap.use([&](MapTalc& t) { return t.deallocate(*block); });
      } catch (...) {  // the heap closed meanwhile: its mapping, and the block, are gone
      }
    }
  } in_flight{*h, std::nullopt};
  const talc::Result<talc::Meta> r = without_gil([&] {
    talc::Result<talc::Meta> got = h->use([&](MapTalc& t) {
      return zeroed ? t.try_allocate_zeroed(size, align) : t.try_allocate(size, align);
    });
    if (got) in_flight.block = *got;
    return got;
  });
  if (!r) fail(r.error());
  Block made(h, h->state_of(r->offset, size, size, false, true));
  in_flight.block.reset();
  return made;
}

namespace {

// What a lookup without the GIL found: a block's offset, the size its Blocks show, and its
// usable size.
struct Found {
  std::uint64_t offset = 0, size = 0, usable = 0;
};

// Runs `look` (which returns a Result<Found>, without the GIL) until no block of this Heap went
// or moved meanwhile, then gives the shared state of what it found. A block another thread freed
// in between is then looked up again, and refused by the heap, rather than coming back live.
template <class Look>
Block settled(const std::shared_ptr<Heap>& h, bool named, Look&& look) {
  for (int tries = 0;; ++tries) {
    const std::uint64_t seen = h->goings();
    const talc::Result<Found> r = without_gil([&] { return h->use(look); });
    if (!r) fail(r.error());
    if (h->goings() == seen)
      return Block(h, h->state_of(r->offset, r->size, r->usable, named, false));
    if (tries == 100)
      throw py::buffer_error("the heap's blocks kept going while this one was looked up");
  }
}

// The usable size of the live block at `offset`, for a lookup that has a Meta of it.
talc::Result<Found> found(MapTalc& t, const talc::Meta& m) {
  const talc::Result<std::size_t> usable = t.usable_size(m.ptr());
  if (!usable) return usable.error();
  return Found{m.offset, m.size != 0 ? m.size : *usable, *usable};
}

}  // namespace

Block adopt(const std::shared_ptr<Heap>& h, std::uint64_t offset,
            std::optional<std::uint64_t> size) {
  if (size && *size == 0) throw py::value_error("a block of 0 bytes");
  return settled(h, false, [&](MapTalc& t) -> talc::Result<Found> {
    const talc::Result<talc::Meta> m =
        t.adopt(talc::RelMeta(talc::Rel<std::byte>::from_offset(offset), size.value_or(0)));
    if (!m) return m.error();
    return found(t, *m);
  });
}

Ring ring(const std::shared_ptr<Heap>& h, const std::string& name) {
  const talc::Result<std::uint64_t> r = without_gil([&] {
    return h->use([&](MapTalc& t) -> talc::Result<std::uint64_t> {
      const talc::Result<OffsetRing*> found = t.find_or_construct<OffsetRing>(name);
      if (!found) return found.error();
      return t.offset_of(*found);
    });
  });
  if (!r) fail(r.error());
  return Ring(h, *r, name);
}

Block find_or_allocate_named(const std::shared_ptr<Heap>& h, const std::string& name,
                             std::size_t size, std::size_t align) {
  if (size == 0) throw py::value_error("a block of 0 bytes");
  return settled(h, true, [&](MapTalc& t) -> talc::Result<Found> {
    const talc::Result<talc::Meta> m = t.find_or_allocate_named(name, size, align);
    if (!m) return m.error();
    return found(t, *m);
  });
}

Block find_named(const std::shared_ptr<Heap>& h, const std::string& name) {
  return settled(h, true, [&](MapTalc& t) -> talc::Result<Found> {
    const talc::Result<talc::Meta> m = t.find_named(name);
    if (!m) return m.error();
    return found(t, *m);
  });
}

void destroy_named(const std::shared_ptr<Heap>& h, const std::string& name) {
  Block b = settled(h, true, [&](MapTalc& t) -> talc::Result<Found> {
    talc::Result<talc::Meta> m = t.find_named(name);
    if (!m && m.error() == talc::Errc::type_mismatch)
      m = t.names().find_raw<talc::named_detail::Array>(name);
    if (!m) return m.error();
    return found(t, *m);
  });
  b.require_live();
  b.require_unviewed();
  // Busy while the name and its block go: no buffer opens over it meanwhile, through any Block.
  const talc::Errc e = while_busy(b.state(), BlockState::State::freed, [&] {
    return h->use([&](MapTalc& t) { return t.destroy_named(name); });
  });
  if (e != talc::Errc::ok) fail(e);
  h->forget(b.state());
}

std::pair<Block, talc::ArrayInfo> named_array(const std::shared_ptr<Heap>& h,
                                              const std::string& name,
                                              const talc::ArrayInfo* want) {
  talc::ArrayInfo info;
  Block b = settled(h, true, [&](MapTalc& t) -> talc::Result<Found> {
    const char* why = nullptr;
    const talc::Result<talc::NamedArray> r = want != nullptr
                                                 ? talc::find_or_make_array(t, name, *want, &why)
                                                 : talc::find_array(t, name, &why);
    if (why != nullptr)
      fail(talc::Errc::corrupted, "the named array's header is refused: " + std::string(why));
    if (!r && want != nullptr &&
        (r.error() == talc::Errc::type_mismatch || r.error() == talc::Errc::size_mismatch))
      fail(r.error(), "the name holds another dtype or shape, or is not an array");
    if (!r) return r.error();
    info = r->info;
    return found(t, r->block);
  });
  return {std::move(b), info};
}

namespace {

// The longest a ring's wait runs without the GIL: how soon Ctrl-C interrupts it, and a close()
// of the heap gets in.
constexpr std::chrono::milliseconds kRingSlice{100};

// Raises what a ring call refused with, as Python says it. `peer` is the other end.
[[noreturn]] void ring_refused(talc::Errc e, talc::RingEnd peer) {
  const bool consumer = peer == talc::RingEnd::consumer;
  switch (e) {
    case talc::Errc::timed_out:
      fail_as(PyExc_TimeoutError, e,
              consumer ? "the ring stayed full until the timeout"
                       : "the ring stayed empty until the timeout");
    case talc::Errc::peer_gone:
      fail_as(PyExc_BrokenPipeError, e,
              consumer ? "the ring's consumer died" : "the ring's producer died, the ring empty",
              EPIPE);
    case talc::Errc::ring_closed:  // a pop's is the end of the stream, no error
      fail_as(PyExc_BrokenPipeError, e, "the ring's consumer closed it: it reads no more", EPIPE);
    default:
      fail(e);
  }
}

}  // namespace

template <class Op>
talc::Errc Ring::waiting(const Timeout& timeout, Op&& op) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
  for (;;) {
    // The caller's bound, when it ends within this slice; the slice otherwise.
    std::chrono::nanoseconds bound = kRingSlice;
    if (timeout)
      bound = std::max<Clock::duration>(deadline - Clock::now(), Clock::duration::zero());
    const bool last = bound <= kRingSlice;
    bound = std::min<std::chrono::nanoseconds>(bound, kRingSlice);
    const talc::Errc e =
        without_gil([&] { return heap_->use([&](MapTalc& t) { return op(at(t), bound); }); });
    if (e != talc::Errc::timed_out || (timeout && last)) return e;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

void Ring::require_handable(const Block& b) const {
  if (b.heap() != heap_) fail(talc::Errc::foreign_pointer, "the block is of another Heap");
  b.require_live();
  b.require_unviewed();
  b.require_unnamed();
}

void Ring::push(Block& b, const Timeout& timeout) {
  require_handable(b);
  const talc::RelMeta rel(talc::Rel<std::byte>::from_offset(b.offset()), b.size());
  // Busy while it waits: no other thread frees, moves or opens a buffer over it meanwhile.
  BlockState& s = b.state();
  s.state = BlockState::State::busy;
  talc::Errc e = talc::Errc::corrupted;
  try {
    e = waiting(timeout,
                [&](OffsetRing& r, std::chrono::nanoseconds bound) { return r.push(rel, bound); });
  } catch (...) {
    s.state = BlockState::State::live;
    throw;
  }
  used(talc::RingEnd::producer);
  if (e != talc::Errc::ok) {
    s.state = BlockState::State::live;
    ring_refused(e, talc::RingEnd::consumer);
  }
  s.state = BlockState::State::handed_over;
  heap_->forget(s);
}

bool Ring::try_push(Block& b) {
  require_handable(b);
  const talc::RelMeta rel(talc::Rel<std::byte>::from_offset(b.offset()), b.size());
  const bool pushed = heap_->use([&](MapTalc& t) {
    OffsetRing& r = at(t);
    // So that the consumer can judge this end; polling needs no identity, and goes on without.
    (void)r.attach(talc::RingEnd::producer);
    return r.try_push(rel);
  });
  used(talc::RingEnd::producer);
  if (pushed) {
    b.state().state = BlockState::State::handed_over;
    heap_->forget(b.state());
  }
  return pushed;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> Ring::pop(const Timeout& timeout) {
  talc::Result<talc::RelMeta> got = talc::Errc::corrupted;
  const talc::Errc e = waiting(timeout, [&](OffsetRing& r, std::chrono::nanoseconds bound) {
    got = r.pop(bound);
    return got.error();
  });
  used(talc::RingEnd::consumer);
  if (e == talc::Errc::ring_closed) return std::nullopt;
  if (e != talc::Errc::ok) ring_refused(e, talc::RingEnd::producer);
  return std::make_pair(got->start().offset(), got->size());
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> Ring::try_pop() {
  const std::optional<talc::RelMeta> m = heap_->use([&](MapTalc& t) {
    OffsetRing& r = at(t);
    (void)r.attach(talc::RingEnd::consumer);  // as in try_push
    return r.try_pop();
  });
  used(talc::RingEnd::consumer);
  if (!m) return std::nullopt;
  return std::make_pair(m->start().offset(), m->size());
}

void Ring::close(std::optional<talc::RingEnd> end) {
  const unsigned ends = end ? 1u << static_cast<unsigned>(*end) : used_;
  if (ends == 0)
    throw py::value_error(
        "this Ring pushed and popped nothing: name the end, close('producer') or "
        "close('consumer')");
  heap_->use([&](MapTalc& t) {
    for (const talc::RingEnd e : {talc::RingEnd::producer, talc::RingEnd::consumer})
      if ((ends & (1u << static_cast<unsigned>(e))) != 0) at(t).close(e);
  });
}

std::uint64_t Ring::size() {
  return heap_->use([&](MapTalc& t) { return at(t).size(); });
}

}  // namespace talc_py
