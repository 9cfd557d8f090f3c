// talc for C++: a relocatable heap for memory that several processes share.
//
// Include this for the whole library. The layers, bottom up: rel.hpp (offsets), chunk.hpp
// (the byte layout), bin_config.hpp (size classes), talc_meta.hpp (the core heap),
// region_lock.hpp and talck_meta.hpp (the cross-process lock), header.hpp (what a region
// holds and who builds it), mapping.hpp (where the bytes come from), meta.hpp and face.hpp
// (what users call: Talc, MapTalc, Meta), with named.hpp (objects found by name),
// offset_ptr.hpp, allocator.hpp and memory_resource.hpp (containers in the heap).
#pragma once

#include "talc/allocator.hpp"
#include "talc/bin_config.hpp"
#include "talc/chunk.hpp"
#include "talc/errors.hpp"
#include "talc/face.hpp"
#include "talc/header.hpp"
#include "talc/mapping.hpp"
#include "talc/memory_resource.hpp"
#include "talc/meta.hpp"
#include "talc/named.hpp"
#include "talc/offset_ptr.hpp"
#include "talc/rel.hpp"
#include "talc/talc_meta.hpp"
#include "talc/talck_meta.hpp"
