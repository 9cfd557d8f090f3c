// `talc stress REGION --procs N --seconds S`: N forked processes hammer one heap.
//
// Each worker opens the region by name (its own mapping, at its own address) and, until the
// time is up, allocates, frees and reallocates blocks filled with a pattern that names the
// block; it verifies the pattern before every free and after every reallocation (which must
// keep the bytes, moved or not), so any byte another process wrote into its blocks is counted
// as damage.
// Workers report through a block of the heap itself. The parent then runs check() under the
// lock and compares the live chunk count with the one before the run (nothing may leak).
//
// This is the one file of the tool that calls the OS directly: fork and waitpid.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <vector>

#include "commands.hpp"
#include "inspect.hpp"
#include "region_spec.hpp"
#include "talc/talc.hpp"
#include "tool_error.hpp"

namespace talc_tool {

namespace {

// What one worker reports, in its slot of the report block.
struct WorkerReport {
  std::uint64_t ops;
  std::uint64_t damaged;   // blocks whose pattern was not intact
  std::uint64_t refused;   // operations the heap refused for another reason than "full"
  std::uint64_t finished;  // 1 once the worker wrote its report
};

struct Block {
  talc::Meta meta;
  std::uint64_t id;
};

std::uint8_t pattern_byte(std::uint64_t id, std::size_t i) {
  return static_cast<std::uint8_t>((id * 0x9e3779b97f4a7c15ULL + i * 31) >> 56) ^
         static_cast<std::uint8_t>(i);
}

void fill(const Block& b, std::size_t from) {
  auto* p = static_cast<std::uint8_t*>(b.meta.ptr());
  for (std::size_t i = from; i < b.meta.size; ++i) p[i] = pattern_byte(b.id, i);
}

bool intact(const Block& b) {
  const auto* p = static_cast<const std::uint8_t*>(b.meta.ptr());
  for (std::size_t i = 0; i < b.meta.size; ++i)
    if (p[i] != pattern_byte(b.id, i)) return false;
  return true;
}

talc::MapTalc<> open_heap(const RegionSpec& spec) {
  return spec.kind == RegionSpec::Kind::shm ? talc::MapTalc<>::open_shm(spec.name)
                                            : talc::MapTalc<>::open_file(spec.name);
}

// The body of worker `index`; returns its exit status.
int work(const RegionSpec& spec, std::uint64_t report_offset, unsigned index,
         const StressOptions& opts) {
  auto heap = open_heap(spec);
  WorkerReport rep{0, 0, 0, 0};
  std::mt19937_64 rng(
      0x5eed0000ULL + index * 7919ULL +
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<std::size_t> size_dist(1, opts.max_block);
  std::uniform_int_distribution<int> op_dist(0, 99);
  std::vector<Block> live;
  constexpr std::size_t kMaxLive = 64;
  std::uint64_t next_id = (std::uint64_t{index} << 40) + 1;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(opts.seconds);

  const auto release = [&](std::size_t at) {
    if (!intact(live[at])) ++rep.damaged;
    if (heap.deallocate(live[at].meta) != talc::Errc::ok) ++rep.refused;
    live[at] = live.back();
    live.pop_back();
  };

  while ((rep.ops & 63) != 0 || std::chrono::steady_clock::now() < deadline) {
    ++rep.ops;
    const int op = op_dist(rng);
    const bool may_grow = live.size() < kMaxLive;
    if (live.empty() || (may_grow && op < 50)) {
      const talc::Result<talc::Meta> m = heap.try_allocate(size_dist(rng));
      if (!m) {
        if (m.error() != talc::Errc::out_of_memory) ++rep.refused;
        if (!live.empty()) release(rng() % live.size());
        continue;
      }
      live.push_back({*m, next_id++});
      fill(live.back(), 0);
    } else if (op < 80) {
      release(rng() % live.size());
    } else {
      Block& old = live[rng() % live.size()];
      const talc::Result<talc::Meta> m = heap.try_reallocate(old.meta, size_dist(rng));
      if (!m) {
        if (m.error() != talc::Errc::out_of_memory) ++rep.refused;
        if (!intact(old)) ++rep.damaged;  // a refusal leaves the block as it was
        continue;
      }
      const std::size_t keep = old.meta.size < m->size ? old.meta.size : m->size;
      const Block moved{*m, old.id};
      if (!intact(Block{talc::Meta{m->base, m->offset, keep}, old.id})) ++rep.damaged;
      fill(moved, keep);
      old = moved;
    }
  }
  if (!opts.keep)
    while (!live.empty()) release(live.size() - 1);
  rep.finished = 1;
  std::memcpy(static_cast<WorkerReport*>(heap.address_of(report_offset)) + index, &rep, sizeof rep);
  return 0;
}

}  // namespace

int cmd_stress(const std::string& region, const StressOptions& opts) {
  const RegionSpec spec = parse_region(region);
  if (opts.procs == 0 || opts.procs > 1024) throw UsageError("--procs must be 1 to 1024");
  if (!(opts.seconds > 0) || opts.seconds > 86400)
    throw UsageError("--seconds must be more than 0 and at most 86400");
  if (opts.max_block == 0) throw UsageError("--max-block must be at least 1");

  auto heap = [&] {
    try {
      return open_heap(spec);
    } catch (const std::exception& e) {
      throw ToolError("cannot open " + spec.display() + ": " + e.what());
    }
  }();
  const talc::Result<talc::Meta> reports =
      heap.try_allocate(sizeof(WorkerReport) * opts.procs, alignof(WorkerReport));
  if (!reports)
    throw ToolError("cannot allocate the workers' reports in " + spec.display() + ": " +
                    talc::describe(reports.error()));
  std::memset(reports->ptr(), 0, reports->size);
  const std::uint64_t live_before = heap.census().live_chunks;

  std::fflush(nullptr);  // nothing buffered may be written twice
  const auto start = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  for (unsigned i = 0; i < opts.procs; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::fprintf(stderr, "talc: fork failed; going on with %zu workers\n", pids.size());
      break;
    }
    if (pid == 0) {
      int status = 3;
      try {
        status = work(spec, reports->offset, i, opts);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "talc: worker %u: %s\n", i, e.what());
      } catch (...) {
        std::fprintf(stderr, "talc: worker %u failed\n", i);
      }
      std::fflush(nullptr);
      ::_exit(status);
    }
    pids.push_back(pid);
  }
  unsigned failed_workers = 0;
  for (const pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed_workers;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  WorkerReport total{0, 0, 0, 0};
  for (unsigned i = 0; i < opts.procs; ++i) {
    WorkerReport r;
    std::memcpy(&r, static_cast<const WorkerReport*>(reports->ptr()) + i, sizeof r);
    if (r.finished == 0 && i < pids.size()) continue;  // counted among failed_workers
    total.ops += r.ops;
    total.damaged += r.damaged;
    total.refused += r.refused;
  }
  const talc::CheckReport rep = heap.check();
  const std::uint64_t live_after = heap.census().live_chunks;
  const bool leaked = !opts.keep && live_after != live_before;
  const talc::Errc freed = heap.deallocate(*reports);

  std::printf("%s: %zu processes, %.2f s, %" PRIu64 " operations, %.0f operations/s\n",
              spec.display().c_str(), pids.size(), elapsed, total.ops,
              elapsed > 0 ? static_cast<double>(total.ops) / elapsed : 0.0);
  std::printf("damaged blocks: %" PRIu64 ", refused operations: %" PRIu64
              ", failed processes: %u, recoveries: %" PRIu64 "\n",
              total.damaged, total.refused, failed_workers, heap.recoveries());
  if (rep.ok())
    std::printf("check: consistent\n");
  else
    std::printf("check: inconsistent at offset %#" PRIx64 ": %s (value %" PRIu64 ")\n",
                rep.offset + kCoreOffset, rep.what, rep.detail);
  if (leaked)
    std::printf("leak: %" PRIu64 " live chunks before, %" PRIu64 " after\n", live_before,
                live_after);

  const bool good = pids.size() == opts.procs && failed_workers == 0 && total.damaged == 0 &&
                    total.refused == 0 && rep.ok() && !leaked && freed == talc::Errc::ok;
  if (!good) std::fprintf(stderr, "talc: stress on %s found problems\n", spec.display().c_str());
  return good ? kExitOk : kExitFailed;
}

}  // namespace talc_tool
