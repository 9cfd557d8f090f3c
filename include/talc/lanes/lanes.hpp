// lanes/ (layer 5b): small blocks in per-thread caches that live in the region.
// May include: core, sync, pages.
//
// A lane serves a thread's small requests without the heap's lock; LaneHeap is the synchronised
// heap with its lanes, and lane_local.hpp says which lane each thread of this process holds.
#pragma once

#include "talc/lanes/lane.hpp"
#include "talc/lanes/lane_heap.hpp"
#include "talc/lanes/lane_local.hpp"
