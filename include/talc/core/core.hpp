// core/ (layers 1-4): offsets, chunk metadata, binning, the journal, TalcMeta.
// May include: no other layer.
//
// The core heap, unsynchronised: it works on any buffer in one process, and every layer above
// builds on it. Include order of the layers (each includes only its own and those before it,
// checked by scripts/check-layers): core, sync, lanes, region, face, named; the public headers
// at the top of include/talc/ may include any of them.
#pragma once

#include "talc/core/assert.hpp"
#include "talc/core/bin_config.hpp"
#include "talc/core/chunk.hpp"
#include "talc/core/errors.hpp"
#include "talc/core/fingerprint.hpp"
#include "talc/core/heap_stats.hpp"
#include "talc/core/journal.hpp"
#include "talc/core/rel.hpp"
#include "talc/core/talc_meta.hpp"
