// A heap whose lanes keep their small blocks in stacks (OpenOptions::pages = false), for the
// tests of the stacks themselves: every other test takes the default, pages.
#pragma once

#include <cstddef>

#include "talc/talc.hpp"

namespace talc_test {

inline talc::MapTalc<> StackHeap(std::size_t size, talc::OpenOptions o = {}) {
  o.pages = false;
  return talc::MapTalc<>::anonymous(size, o);
}

}  // namespace talc_test
