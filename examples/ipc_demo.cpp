// The main job: producers and consumers in separate processes passing variable-size messages
// through one shared heap.
//
// The parent creates a heap in a POSIX shared memory object, builds one OffsetRing per
// producer/consumer pair inside it and publishes their offset as the heap's root. It starts
// each child as a new process image (this program again, with --role); the child opens the
// object by name, so it maps it at an address of its own. Then a producer
// allocates a message of random size, writes a header and a pattern, and pushes its handle; a
// consumer pops the handle, adopts it (the heap checks it names a live block), verifies every
// byte and frees the block. The parent samples the heap's occupancy while they run, then
// prints throughput, occupancy and the heap's integrity check, frees the rings, checks that
// the heap is back to one free chunk, and removes the object. It does all this twice: on a heap
// with lanes (the default: small messages come from pages of each producer's lane, and each
// consumer gives them back without the lock) and on one without (every message through the
// heap's lock), and prints the two rates side by side.
//
//   talc_ipc_demo [--pairs N] [--seconds S] [--max-size BYTES] [--heap MIB]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "talc/offset_ring.hpp"
#include "talc/talc.hpp"

namespace {

constexpr std::size_t kMaxPairs = 16;
using Ring = talc::OffsetRing<1024>;

// What the parent builds in the heap for everyone: one ring per pair, and tallies.
struct Board {
  Ring rings[kMaxPairs];
  std::atomic<std::uint64_t> sent{0}, received{0}, bytes{0}, damaged{0}, refused{0};
  std::atomic<std::uint32_t> stop{0};
};

struct MessageHeader {
  std::uint64_t seq;
  std::uint64_t size;
};

struct Options {
  std::uint64_t pairs = 2, seconds = 3, max_size = 4096, heap_mib = 64;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    std::uint64_t* t = a == "--pairs"      ? &o.pairs
                       : a == "--seconds"  ? &o.seconds
                       : a == "--max-size" ? &o.max_size
                       : a == "--heap"     ? &o.heap_mib
                                           : nullptr;
    char* end = nullptr;
    if (t == nullptr || i + 1 == argc || (*t = std::strtoull(argv[++i], &end, 10), *end != '\0') ||
        *t == 0) {
      std::fprintf(stderr,
                   "usage: %s [--pairs 1..16] [--seconds S] [--max-size BYTES>=16] [--heap MIB]\n",
                   argv[0]);
      return false;
    }
  }
  return o.pairs <= kMaxPairs && o.max_size >= sizeof(MessageHeader);
}

unsigned char pattern(std::uint64_t seq, std::size_t i) {
  return static_cast<unsigned char>(seq * 31 + i);
}

int produce(const std::string& name, std::size_t index, const Options& opt) {
  auto heap = talc::MapTalc<>::open_shm(name);
  auto* board = static_cast<Board*>(heap.address_of(heap.root()));
  Ring& ring = board->rings[index];
  std::mt19937_64 rng(index + 1);
  std::uniform_int_distribution<std::uint64_t> size_of(sizeof(MessageHeader), opt.max_size);
  for (std::uint64_t seq = 0; board->stop.load(std::memory_order_relaxed) == 0; ++seq) {
    const std::size_t size = size_of(rng);
    const talc::Result<talc::Meta> m = heap.try_allocate(size);
    if (!m) {  // the heap is full of messages in flight: let the consumer catch up
      std::this_thread::yield();
      continue;
    }
    auto* bytes = m->as<unsigned char>();
    const MessageHeader h{seq, size};
    std::memcpy(bytes, &h, sizeof h);
    for (std::size_t i = sizeof h; i < size; ++i) bytes[i] = pattern(seq, i);
    while (!ring.try_push(m->rel())) std::this_thread::yield();
    board->sent.fetch_add(1, std::memory_order_relaxed);
  }
  while (!ring.try_push(talc::RelMeta())) std::this_thread::yield();  // end of stream
  return 0;
}

int consume(const std::string& name, std::size_t index) {
  auto heap = talc::MapTalc<>::open_shm(name);
  auto* board = static_cast<Board*>(heap.address_of(heap.root()));
  Ring& ring = board->rings[index];
  for (;;) {
    const std::optional<talc::RelMeta> handle = ring.try_pop();
    if (!handle) {
      std::this_thread::yield();
      continue;
    }
    if (handle->is_null()) return 0;
    const talc::Result<talc::Meta> m = heap.adopt(*handle);
    if (!m) {
      board->refused.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const auto* bytes = m->as<const unsigned char>();
    MessageHeader h;
    std::memcpy(&h, bytes, sizeof h);
    bool ok = h.size == m->size;
    for (std::size_t i = sizeof h; ok && i < h.size; ++i) ok = bytes[i] == pattern(h.seq, i);
    if (!ok) board->damaged.fetch_add(1, std::memory_order_relaxed);
    board->bytes.fetch_add(m->size, std::memory_order_relaxed);
    board->received.fetch_add(1, std::memory_order_relaxed);
    if (heap.deallocate(*m) != talc::Errc::ok)
      board->refused.fetch_add(1, std::memory_order_relaxed);
  }
}

// Starts this same program again as a producer or consumer: a process image of its own that
// finds the heap by name, as an unrelated program would.
pid_t start(const char* role, const std::string& name, std::size_t index, const Options& opt) {
  const std::string idx = std::to_string(index), max = std::to_string(opt.max_size);
  const char* argv[] = {"talc_ipc_demo", "--role",    role,   name.c_str(),
                        idx.c_str(),     max.c_str(), nullptr};
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr,
                                const_cast<char* const*>(argv), environ);
  if (err != 0) {
    std::fprintf(stderr, "posix_spawn: %s\n", std::strerror(err));
    return -1;
  }
  return pid;
}

// The child's side: `--role producer|consumer NAME INDEX MAX_SIZE`.
int run_role(char** argv) {
  try {
    Options opt;
    opt.max_size = std::strtoull(argv[5], nullptr, 10);
    const std::size_t index = std::strtoull(argv[4], nullptr, 10);
    if (std::string_view(argv[2]) == "producer") return produce(argv[3], index, opt);
    return consume(argv[3], index);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s %s: %s\n", argv[2], argv[4], e.what());
    return 1;
  }
}

// One run of the demo on a heap of its own, with lanes or without; the rate, and whether every
// check passed.
struct Outcome {
  bool ok = false;
  double rate = 0;
};

// `lanes`: small blocks are served from the pages of each thread's lane; else by the heap under
// its lock.
Outcome run(const Options& opt, bool lanes) {
  const char* what = lanes ? "lanes" : "no lanes";
  const std::string name =
      "/talc-demo-" + std::to_string(::getpid()) + "-" + (lanes ? "lanes" : "nolanes");
  auto heap = talc::MapTalc<>::create_shm(name, opt.heap_mib << 20, {.lanes = lanes});
  Board* board = heap.construct<Board>();
  heap.set_root(heap.offset_of(board));
  std::printf("talc IPC demo, %s: heap of %" PRIu64 " MiB in shared memory %s\n", what,
              opt.heap_mib, name.c_str());
  std::printf("  %" PRIu64 " producer and %" PRIu64 " consumer processes, messages of 16..%" PRIu64
              " bytes, %" PRIu64 " s\n",
              opt.pairs, opt.pairs, opt.max_size, opt.seconds);
  std::fflush(stdout);

  std::vector<pid_t> children;
  for (std::size_t i = 0; i < opt.pairs; ++i) {
    children.push_back(start("consumer", name, i, opt));
    children.push_back(start("producer", name, i, opt));
  }

  const auto t0 = std::chrono::steady_clock::now();
  const auto until = t0 + std::chrono::seconds(opt.seconds);
  std::uint64_t peak_live = 0, samples = 0;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    peak_live = std::max(peak_live, heap.census().live_bytes);
    ++samples;
  }
  board->stop.store(1);
  int failed_children = 0;
  for (pid_t pid : children) {
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) {
      ++failed_children;
      continue;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed_children;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::uint64_t received = board->received.load();
  Outcome out;
  out.rate = static_cast<double>(received) / secs;
  std::printf("  %" PRIu64 " messages (%.1f MiB) sent and received: %.0f messages/s\n", received,
              static_cast<double>(board->bytes.load()) / (1 << 20), out.rate);
  std::printf("  peak heap occupancy: %.2f%% of %zu bytes (%" PRIu64 " samples)\n",
              100.0 * static_cast<double>(peak_live) / static_cast<double>(heap.size()),
              heap.size(), samples);
  std::printf("  damaged messages: %" PRIu64 ", refused handles: %" PRIu64
              ", failed processes: %d\n",
              board->damaged.load(), board->refused.load(), failed_children);

  const talc::CheckReport during = heap.check();
  const bool sent_all = board->sent.load() == received;
  heap.destroy(board);
  (void)heap.trim();  // the empty pages of this process's lane go back: the heap is whole again
  const talc::CheckReport after = heap.check();
  const talc::Census c = heap.census();
  std::printf("  integrity check: %s; after freeing the rings: %s, %" PRIu64
              " free chunk(s), %" PRIu64 " live\n",
              during.what, after.what, c.free_chunks, c.live_chunks);
  talc::MapTalc<>::remove_shm(name);
  std::printf("  shared memory %s removed\n", name.c_str());
  out.ok = during.ok() && after.ok() && sent_all && c.live_chunks == 0 && c.free_chunks == 1 &&
           failed_children == 0 && received > 0;
  return out;
}

}  // namespace

// The same demo twice, with lanes (the default) and without, so the rates are measured in one
// run.
int main(int argc, char** argv) {
  if (argc == 6 && std::string_view(argv[1]) == "--role") return run_role(argv);
  Options opt;
  if (!parse(argc, argv, opt)) return 2;
  const Outcome lanes = run(opt, true);
  const Outcome locked = run(opt, false);
  std::printf("messages/s: %.0f with lanes (%.2fx), %.0f without\n", lanes.rate,
              locked.rate > 0 ? lanes.rate / locked.rate : 0.0, locked.rate);
  const bool ok = lanes.ok && locked.ok;
  std::printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
