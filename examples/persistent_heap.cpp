// A heap in a file that outlives the program: each run reopens it (at whatever address the
// kernel picks this time), adds a note to a list that earlier runs left in it, and prints the
// whole list. Nothing in the file is a pointer, so the list survives every remapping.
//
//   talc_persistent_heap [PATH]        (default: talc-notes.heap in the current directory)
//   run it several times; delete the file to start over
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <string>

#include "talc/talc.hpp"

namespace {

// The list's head, found through the heap's root offset.
struct Notes {
  std::uint64_t runs;
  std::uint64_t newest;  // offset of the newest Note, or the null offset
};

struct Note {
  std::uint64_t older;  // offset of the previous note, or the null offset
  std::uint64_t run;
  std::int64_t when;  // seconds since the epoch
  char where[32];     // the address this run mapped the heap at
};

constexpr std::uint64_t kNull = talc::Rel<Note>::kNull;

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "talc-notes.heap";
  try {
    auto heap = talc::MapTalc<>::open_or_create_file(path, 1 << 20);
    if (heap.built()) heap.set_root(heap.offset_of(heap.construct<Notes>(Notes{0, kNull})));
    auto* notes = static_cast<Notes*>(heap.address_of(heap.root()));

    Note* note = heap.construct<Note>();
    note->older = notes->newest;
    note->run = ++notes->runs;
    note->when = static_cast<std::int64_t>(std::time(nullptr));
    std::snprintf(note->where, sizeof note->where, "%p", static_cast<void*>(heap.base()));
    notes->newest = heap.offset_of(note);

    std::printf("%s: %s, run %" PRIu64 "\n", path.c_str(), heap.built() ? "created" : "reopened",
                notes->runs);
    for (std::uint64_t off = notes->newest; off != kNull;) {
      const auto* n = static_cast<const Note*>(heap.address_of(off));
      std::printf("  run %" PRIu64 " at %" PRId64 ", heap mapped at %s\n", n->run, n->when,
                  n->where);
      off = n->older;
    }
    const talc::CheckReport rep = heap.check();
    std::printf("integrity check: %s\n", rep.what);
    return rep.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "talc_persistent_heap: %s\n", e.what());
    return 1;
  }
}
