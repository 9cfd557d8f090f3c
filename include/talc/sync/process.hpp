// Process identity, for everything in a region that names a process: the init protocol of the
// header (who is building it), the locks (who holds them) and the boot a region's locks
// belong to. The OS calls stay in src/sync/process.cpp.
#pragma once

#include <cstdint>

namespace talc {

std::uint32_t current_process_id() noexcept;
// The calling thread's id (gettid): what the tools show as a lane's owning thread.
std::uint32_t current_thread_id() noexcept;
// False only when the process certainly does not exist (a pid of another PID namespace, or
// one we may not signal, counts as alive: waiting is safer than taking over).
bool process_alive(std::uint32_t pid) noexcept;

// A pid names a process only until it is reused; a tag tells the two apart. It hashes the
// boot id of the machine with the process's start time, so it names one process of one boot.
// Never kTagGone or kTagUnknown for a live, readable process.
inline constexpr std::uint32_t kTagGone = 0;              // no such process, or a zombie
inline constexpr std::uint32_t kTagUnknown = 0xffffffff;  // it exists; its start time is hidden
std::uint32_t process_tag(std::uint32_t pid) noexcept;

// A hash of /proc/sys/kernel/random/boot_id: which boot of the machine this is; 0 where the
// kernel does not say (no /proc), which matches every boot.
std::uint64_t boot_hash() noexcept;

// The PID and time namespaces this process lives in, hashed; 0 when /proc cannot tell. Pids
// and start times mean the same process only to processes of one pair of namespaces.
std::uint64_t namespace_id() noexcept;

}  // namespace talc
