// sync/ (layer 5): process identity, the futex, the region lock, a ring's ends, TalckMeta.
// May include: core.
//
// What makes the core heap safe to share: a lock that lives in the region and works across
// processes, with the identity of the processes that hold it, so that a dead holder is found
// and its half-done operation rolled back. The ends of a ring wait on each other with the same
// identity and the same futex calls.
#pragma once

#include "talc/sync/futex.hpp"
#include "talc/sync/process.hpp"
#include "talc/sync/region_lock.hpp"
#include "talc/sync/ring_ends.hpp"
#include "talc/sync/talck_meta.hpp"
