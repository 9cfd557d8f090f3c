// named/: objects found by name in every process, above the face.
// May include: core, sync, pages, lanes, region, face.
//
// NamedDirectory keeps objects and raw blocks under names; Talc's find_or_construct, find,
// destroy and the named blocks delegate to it, so a program that calls them includes this layer
// (talc/talc.hpp does). Named arrays (array.hpp) are raw blocks whose header says their element
// type and shape, for programs in other languages.
#pragma once

#include "talc/named/array.hpp"
#include "talc/named/directory.hpp"
