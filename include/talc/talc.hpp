// talc for C++: a relocatable heap for memory that several processes share.
//
// Include this for the whole library. The layers are folders, each with an umbrella header,
// bottom up: core/ (offsets, the byte layout, size classes, the core heap TalcMeta), sync/ (the
// cross-process lock, TalckMeta), lanes/ (per-thread caches of small blocks), region/ (the
// header, the mapping, growth), face/ (what users call: Talc, MapTalc, Meta) and named/
// (objects found by name). Beside this file: offset_ptr.hpp, allocator.hpp and
// memory_resource.hpp (containers in the heap), offset_ring.hpp (a ring of handles) and
// talc.h (the C API).
#pragma once

#include "talc/allocator.hpp"
#include "talc/core/core.hpp"
#include "talc/face/face.hpp"
#include "talc/lanes/lanes.hpp"
#include "talc/memory_resource.hpp"
#include "talc/named/named.hpp"
#include "talc/offset_ptr.hpp"
#include "talc/pages/pages.hpp"
#include "talc/region/region.hpp"
#include "talc/sync/sync.hpp"
