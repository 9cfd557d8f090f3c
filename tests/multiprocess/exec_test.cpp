// A process that execs another program without closing the heap: the new program is the same
// process (same pid, same start time), so nothing tells the lanes its threads held from lanes
// its own threads hold. They stay owned until the process ends, and are reclaimed then, as a
// dead process's (the limit docs/guarantees.md states).
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/process.hpp"
#include "talc/talc.hpp"

namespace {

using talc::MapTalc;

TEST(ThreadEndExec, ExecKeepsTheLaneUntilTheProcessEnds) {
  const std::string name = talc_test::UniqueShmName("exec");
  auto heap = MapTalc<>::create_shm(name, 4 << 20);
  const pid_t pid = talc_test::Spawn([&] {
    auto mine = MapTalc<>::open_shm(name);
    mine.deallocate(mine.allocate(64));  // this thread claims a lane
    ::execl(TALC_TEST_WORKER, TALC_TEST_WORKER, "lanes-owned", name.c_str(),
            static_cast<char*>(nullptr));
    return 99;  // exec failed
  });
  EXPECT_EQ(talc_test::Wait(pid), 1) << "the exec'd program sees its former image's lane";
  EXPECT_EQ(heap.stats().lanes_owned, 1u);
  EXPECT_TRUE(heap.check().ok());  // the process has ended: its lane is reclaimed
  EXPECT_EQ(heap.stats().lanes_owned, 0u);
  MapTalc<>::remove_shm(name);
}

}  // namespace
