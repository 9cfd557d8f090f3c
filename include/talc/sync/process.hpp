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
// process's start time (in clock ticks since boot, from /proc/<pid>/stat), which every process
// reads from the same file: two processes that both read it right compute the same tag.
// Never kTagGone or kTagUnknown for a live, readable process. kTagUnknown means "cannot tell"
// (the read failed), which every caller takes as alive; a failed read is never remembered.
inline constexpr std::uint32_t kTagGone = 0;              // no such process, or a zombie
inline constexpr std::uint32_t kTagUnknown = 0xffffffff;  // it exists; its start time is hidden
std::uint32_t process_tag(std::uint32_t pid) noexcept;

// A hash of /proc/sys/kernel/random/boot_id: which boot of the machine this is; 0 where it
// cannot be read now (no /proc, a descriptor limit), which matches every boot. Kept once read.
std::uint64_t boot_hash() noexcept;

// The PID and time namespaces this process lives in, hashed; 0 when /proc cannot tell. Pids
// and start times mean the same process only to processes of one pair of namespaces.
std::uint64_t namespace_id() noexcept;

// Test hooks, for the tests that make a read of /proc fail in one process. Null in every program
// that does not set them.
namespace process_testing {
// Asked before each read of a /proc file (its path); true makes the read fail.
inline bool (*fail_read)(const char* path) = nullptr;
}  // namespace process_testing

}  // namespace talc
