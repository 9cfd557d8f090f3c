// Layer 8 — the face: a Talc that owns its mapping.
//
// `MapTalc` opens a region by name (a POSIX shared memory object), by path (a file), by
// descriptor (a memfd received from elsewhere) or as anonymous shared memory, maps it, and opens
// the heap inside: built by the first opener, attached to by every other. It keeps the mapping
// for as long as it lives, records a region this process may grow (region/growth.hpp), and
// removes a region it created when it could not make a heap of it.
#pragma once

#include <string>
#include <utility>

#include "talc/face/talc.hpp"
#include "talc/region/growth.hpp"
#include "talc/region/mapping.hpp"

namespace talc {

/// A Talc that owns the mapping of its region.
template <class Bins = DefaultBinConfig>
class MapTalc : public Talc<Bins> {
 public:
  static MapTalc create_shm(const std::string& name, std::size_t size, OpenOptions o = {}) {
    return make(MappedRegion::shm(name, OpenMode::create_only, layout(size, o)), OpenRole::create,
                o);
  }
  static MapTalc open_shm(const std::string& name, OpenOptions o = {}) {
    return make(MappedRegion::shm(name, OpenMode::open_only), OpenRole::attach, o);
  }
  static MapTalc open_or_create_shm(const std::string& name, std::size_t size, OpenOptions o = {}) {
    return make(MappedRegion::shm(name, OpenMode::open_or_create, layout(size, o)),
                OpenRole::either, o);
  }
  static bool remove_shm(const std::string& name) { return MappedRegion::remove_shm(name); }

  static MapTalc create_file(const std::string& path, std::size_t size, OpenOptions o = {}) {
    return make(MappedRegion::file(path, OpenMode::create_only, layout(size, o)), OpenRole::create,
                o);
  }
  static MapTalc open_file(const std::string& path, OpenOptions o = {}) {
    return make(MappedRegion::file(path, OpenMode::open_only), OpenRole::attach, o);
  }
  static MapTalc open_or_create_file(const std::string& path, std::size_t size,
                                     OpenOptions o = {}) {
    return make(MappedRegion::file(path, OpenMode::open_or_create, layout(size, o)),
                OpenRole::either, o);
  }

  /// A descriptor from elsewhere (a memfd received over a socket): builds a heap if the bytes
  /// are fresh zeros, attaches otherwise, as `role` allows.
  static MapTalc from_fd(Fd fd, OpenRole role = OpenRole::either, OpenOptions o = {}) {
    return make(MappedRegion::from_fd(std::move(fd), layout(0, o)), role, o);
  }
  /// A heap in anonymous shared memory, for this process and the children it forks. It has no
  /// source to grow, so OpenOptions::max_size does not apply.
  static MapTalc anonymous(std::size_t size, OpenOptions o = {}) {
    o.max_size = 0;
    return make(MappedRegion::anonymous({.size = size}), OpenRole::create, o);
  }

  const MappedRegion& region() const noexcept { return region_; }
  /// Whether no other open of the region existed when this one was made: it then re-initialised
  /// the region's locks (see Talc::fresh_start). What `talc repair` requires.
  bool opened_alone() const noexcept { return alone_; }

  /// A region this process may grow is recorded in Growers while a MapTalc holds its mapping.
  MapTalc(MapTalc&& o) noexcept = default;  // the mapping, and so the record's key, stay put
  MapTalc& operator=(MapTalc&& o) noexcept {
    if (this != &o) {
      this->close_lanes();
      forget();
      Talc<Bins>::operator=(std::move(o));
      region_ = std::move(o.region_);
      alone_ = o.alone_;
    }
    return *this;
  }
  ~MapTalc() {
    this->close_lanes();  // while the mapping is still there
    forget();
  }

 private:
  MapTalc(MappedRegion r, Talc<Bins> t) noexcept
      : Talc<Bins>(std::move(t)), region_(std::move(r)) {}

  /// Opens the header over the bytes the source has now. Another process may grow the region
  /// between the measure and the header's check of it (which then finds the heap longer than the
  /// bytes measured): measured again, a few times, before that counts as a truncated region.
  static Talc<Bins> open_growing(const MappedRegion& r, OpenRole role, const OpenOptions& o) {
    for (int tries = 0;; ++tries) {
      const std::size_t len = r.source_size();
      try {
        return Talc<Bins>::open_header(r.base(), len, role, o);
      } catch (const OpenError& e) {
        if (e.code() != make_error_code(Errc::region_truncated) || tries == 8 ||
            r.source_size() == len)
          throw;
      }
    }
  }

  void forget() noexcept {
    if (region_.base() != nullptr) Growers::remove(region_.base());  // null once moved from
  }

  static MapLayout layout(std::size_t size, const OpenOptions& o) {
    return MapLayout{.size = size, .reserve = o.max_size, .mode = o.mode};
  }

  static MapTalc make(MappedRegion r, OpenRole role, OpenOptions o) {
    try {
      Talc<Bins> t = open_growing(r, role, o);
      if (r.fd() >= 0 && t.max_size() > r.size()) {
        // Built to grow further than this mapping reaches: map the maximum, then attach again
        // at the new base (nothing points into the region yet).
        r.reserve(t.max_size());
        t = open_growing(r, OpenRole::attach, o);
      }
      t.set_reach(r.size());
      Company company;
      try {
        company = r.join(o.wait);
      } catch (const MapError& e) {
        throw OpenError(Errc::init_timeout, e.what());
      }
      if (company == Company::alone) {
        (void)t.fresh_start();  // what it finds is refused by every later call, and check()
        r.settle();
      }
      t.follow_boot(o.wait);
      // Read from the header, not under the heap's lock: an open must not wait a live holder's
      // whole bound, and say nothing, to learn what the header already says. A heap already at
      // its maximum is registered too; its requests find no room, as they would anyway.
      if (r.fd() >= 0 && t.max_size() > t.header().region_size()) {
        const int fd = r.fd();  // owned by the region, which lives as long as the record
        Growers::add(r.base(), r.size(), [fd](std::size_t from, std::size_t to) {
          return MappedRegion::extend(fd, from, to);
        });
      }
      MapTalc made(std::move(r), std::move(t));
      made.alone_ = company == Company::alone;
      return made;
    } catch (...) {
      // A region this call created and could not turn into a heap is not left behind.
      if (r.created()) r.unlink_source();
      throw;
    }
  }
  using Company = MappedRegion::Company;
  MappedRegion region_;
  bool alone_ = false;
};

}  // namespace talc
