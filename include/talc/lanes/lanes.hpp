// lanes/ (layer 5b): each thread's share of the heap's pages, in the region.
// May include: core, sync, pages.
//
// A lane serves a thread's small requests from its pages without the heap's lock; LaneHeap is
// the synchronised heap with its lanes and pages, and lane_local.hpp says which lane each thread
// of this process holds.
#pragma once

#include "talc/lanes/lane.hpp"
#include "talc/lanes/lane_heap.hpp"
#include "talc/lanes/lane_local.hpp"
