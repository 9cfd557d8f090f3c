// face/ (layer 8): Talc, MapTalc and the handles users hold.
// May include: core, sync, pages, lanes, region.
//
// Start at face/talc.hpp: the calls users make and their fast path, top-down.
//
// One bond goes up, through templates only: Talc's named calls, and fresh_start (which the
// opening protocol runs on a new boot or an open alone), use NamedDirectory, the layer above.
// The face declares it and never includes it; a program that opens a heap includes a public
// header (talc/talc.hpp, allocator.hpp, memory_resource.hpp), each of which
// brings named/ in. tests/CMakeLists.txt compiles each public header alone to keep that true.
#pragma once

#include "talc/face/map_talc.hpp"
#include "talc/face/meta.hpp"
#include "talc/face/talc.hpp"
