// The blocks users hold in a heap's pages, for the tests that account for every block (the page
// fault test, the kill torture's audit): read from the maps without stopping anyone, so exact
// only when the owners are still (the caller holds the lock, or every worker is dead).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "talc/talc.hpp"

namespace talc_test {

// f(page, b, cls, user) for each block handed out and not given back: the page's user offset,
// the block's index and class, and its own user offset, all from the core heap's base.
template <class F>
void ForEachHeldBlock(std::byte* core, const talc::PageTable& pages, std::uint64_t end, F&& f) {
  for (std::uint64_t i = 0; i < pages.cap; ++i) {
    const std::uint64_t u = pages.page_at(core, end, i);
    if (u == talc::PageTable::kNull) continue;
    const std::uint64_t cls = talc::page_word(core, u + offsetof(talc::PageHeader, cls)).load();
    if (cls >= talc::PageConfig::kClasses) continue;
    const talc::Page page{core, u, pages.geometry().layout(cls)};
    const std::uint64_t n = page.c.blocks();
    for (std::uint64_t w = 0; w < (n + 63) / 64; ++w)
      for (std::uint64_t bits =
               page.live(w).load() & ~page.freed(w).load() & talc::PageGeometry::mask(n, w);
           bits != 0; bits &= bits - 1) {
        const std::uint64_t b = w * 64 + static_cast<std::uint64_t>(std::countr_zero(bits));
        f(u, b, cls, page.user_of(b));
      }
  }
}

}  // namespace talc_test
