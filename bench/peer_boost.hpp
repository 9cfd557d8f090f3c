// Boost.Interprocess, the C++ shared-memory peer, as two peers: its segment manager over a
// region of the same size and kind as this project's (anonymous shared memory, 2 MiB aligned,
// inherited by forked processes), with each of its two memory algorithms, rbtree_best_fit (the
// default of managed_shared_memory) and simple_seq_fit. Both keep their own process-shared
// mutex (mutex_family), as managed_shared_memory does.
//
// Boost has no realloc. A reallocation is built from allocation_command, the call Boost offers
// for resizing in place: a shrink asks for shrink_in_place (the tail goes back to the free
// memory; without it the efficiency workload would count Boost's unshrunk blocks as waste); a
// growth asks for expand_fwd (in place) and, when that fails, allocates a new block, copies and
// frees the old one.
#pragma once

#include <boost/interprocess/indexes/iset_index.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/mem_algo/simple_seq_fit.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>
#include <cstddef>
#include <cstring>
#include <new>

#include "peer.hpp"
#include "talc/region/mapping.hpp"

namespace talc_bench {

namespace bip = boost::interprocess;

template <class Algorithm, const PeerInfo& Info>
class BoostPeer {
 public:
  static constexpr PeerInfo kInfo = Info;
  using Segment = bip::basic_managed_external_buffer<char, Algorithm, bip::iset_index>;

  explicit BoostPeer(std::size_t arena)
      : map_(talc::Mapping::anonymous_shared(arena, talc::kRegionAlign)),
        seg_(bip::create_only, map_.base(), arena) {}

  void* allocate(std::size_t size, std::size_t align) noexcept {
    return align <= kNaturalAlign ? seg_.allocate(size, std::nothrow)
                                  : seg_.allocate_aligned(size, align, std::nothrow);
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { seg_.deallocate(p); }
  void* reallocate(void* p, std::size_t old_size, std::size_t size, std::size_t align) noexcept {
    std::size_t got = size;
    char* reuse = static_cast<char*>(p);
    if (size <= old_size) {
      // A refused shrink still leaves a block large enough: the reallocation has succeeded.
      seg_.template allocation_command<char>(bip::shrink_in_place | bip::nothrow_allocation,
                                             old_size, got, reuse);
      return p;
    }
    if (seg_.template allocation_command<char>(bip::expand_fwd | bip::nothrow_allocation, size, got,
                                               reuse) != nullptr)
      return p;
    void* q = allocate(size, align);
    if (q == nullptr) return nullptr;
    std::memcpy(q, p, old_size < size ? old_size : size);
    seg_.deallocate(p);
    return q;
  }

 private:
  talc::Mapping map_;
  Segment seg_;
};

inline constexpr PeerInfo kBoostRbtreeInfo{"boost_rbtree", true, true, true};
inline constexpr PeerInfo kBoostSeqFitInfo{"boost_seqfit", true, true, true};

using BoostRbtreePeer = BoostPeer<bip::rbtree_best_fit<bip::mutex_family>, kBoostRbtreeInfo>;
using BoostSeqFitPeer = BoostPeer<bip::simple_seq_fit<bip::mutex_family>, kBoostSeqFitInfo>;

}  // namespace talc_bench
