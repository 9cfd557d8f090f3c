// Layer 6 — the region's side of opening: which boot of the machine its locks belong to.
//
// A lock word names a process of one boot. The header records the boot its locks belong to
// (Header::boot); an opener of another boot finds a record that differs, and one opener, the
// one that wins a compare-and-swap of the header's boot claim, re-initialises the locks
// (what that means is the face's business: Talc::fresh_start, passed in) while the others wait
// for it. A claimant that died is replaced; a wait past its bound ends with init_timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#include "talc/core/errors.hpp"
#include "talc/sync/process.hpp"
#include "talc/sync/region_lock.hpp"

namespace talc {

// Makes the header's locks belong to this boot, running `restart()` first when they do not.
// A boot that this process cannot read now, or that the record's writer could not, matches:
// a holder's tag does not depend on it, so the locks need no restart to be judged right.
template <class HeaderT, class Restart>
Errc follow_boot(HeaderT& header, std::chrono::milliseconds wait, Restart&& restart) {
  const std::uint64_t now = boot_hash(), me = RegionLock::self();
  const auto deadline = std::chrono::steady_clock::now() + wait;
  if (now == 0 || header.boot() == 0) return Errc::ok;
  while (header.boot() != now) {
    const std::uint64_t claim = header.boot_claim();
    if ((claim == 0 || RegionLock::holder_dead(claim)) && header.exchange_boot_claim(claim, me)) {
      if (header.boot() != now) (void)restart();  // what it finds is refused by later calls
      header.set_boot(now);
      header.exchange_boot_claim(me, 0);
      return Errc::ok;
    }
    if (std::chrono::steady_clock::now() >= deadline) return Errc::init_timeout;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Errc::ok;
}

}  // namespace talc
