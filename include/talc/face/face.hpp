// face/ (layer 8): Talc, MapTalc and the handles users hold.
// May include: core, sync, lanes, region.
//
// Start at face/talc.hpp: the calls users make and their fast path, top-down.
#pragma once

#include "talc/face/map_talc.hpp"
#include "talc/face/meta.hpp"
#include "talc/face/talc.hpp"
