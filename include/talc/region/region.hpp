// region/ (layers 6-7): the region's header, its mapping, its growth.
// May include: core, sync, pages, lanes.
//
// What a region holds (Header: magic, format, configuration, the init state machine), where its
// bytes come from (MapLayout, MappedRegion), and how a heap grows its region. Nothing above this
// layer knows about the operating system's mapping calls.
#pragma once

#include "talc/region/boot.hpp"
#include "talc/region/growth.hpp"
#include "talc/region/header.hpp"
#include "talc/region/mapping.hpp"
