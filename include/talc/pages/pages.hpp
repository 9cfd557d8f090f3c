// pages/ (layer 5b): small blocks in pages that one lane serves and anyone gives back to.
// May include: core, sync.
//
// A page is a run of blocks of one size class carved from the core heap (page.hpp); the page
// table (page_table.hpp) lists a heap's pages and each lane's lists of them. The lanes above
// decide which thread serves from which lane's pages.
#pragma once

#include "talc/pages/page.hpp"
#include "talc/pages/page_table.hpp"
