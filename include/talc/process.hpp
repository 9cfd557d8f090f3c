// Process identity, for the init protocol of a region's header: who is initialising it, and
// is that process still alive. The OS calls stay in src/process.cpp.
#pragma once

#include <cstdint>

namespace talc {

std::uint32_t current_process_id() noexcept;
// False only when the process certainly does not exist (a pid of another PID namespace, or
// one we may not signal, counts as alive: waiting is safer than taking over).
bool process_alive(std::uint32_t pid) noexcept;

}  // namespace talc
