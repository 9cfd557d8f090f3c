// The `talc` command line: wires the commands to CLI11 and turns failures into exit codes
// (0 all good, 1 a failure or a problem found, 2 a usage error). The commands themselves live
// in cmd_*.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include "commands.hpp"
#include "tool_error.hpp"

namespace {

constexpr const char* kRegionHelp = "shm:NAME (POSIX shared memory) or file:PATH";

}  // namespace

int main(int argc, char** argv) {
  using namespace talc_tool;
  CLI::App app{"Create, inspect, check and exercise talc shared heaps."};
  app.name("talc");
  app.require_subcommand(1);

  std::function<int()> action;
  std::string region;
  std::string size;
  std::string max;
  std::string mode = "0600";
  bool json = false;
  StressOptions stress;

  auto* create = app.add_subcommand("create", "Create a region holding a new, empty heap");
  create->add_option("REGION", region, kRegionHelp)->required();
  create->add_option("--size", size, "Region size in bytes; K, M, G, T suffixes (e.g. 64M)")
      ->required();
  create->add_option("--max", max,
                     "Size the region may grow to when the heap runs out (default: --size)");
  create
      ->add_option("--mode", mode,
                   "Permission bits in octal, set exactly whatever the umask (e.g. 0660 for "
                   "a group)")
      ->capture_default_str();
  create->callback([&] { action = [&] { return cmd_create(region, size, max, mode); }; });

  auto* info = app.add_subcommand(
      "info", "Show a heap's configuration, occupancy and free chunks (read-only, lock-free)");
  info->add_option("REGION", region, kRegionHelp)->required();
  info->add_flag("--json", json, "Print JSON");
  info->callback([&] { action = [&] { return cmd_info(region, json); }; });

  auto* check = app.add_subcommand(
      "check",
      "Check a heap's integrity on a private copy (exit 0 consistent, 1 not, 2 usage error)");
  check->add_option("REGION", region, kRegionHelp)->required();
  check->add_flag("--json", json, "Print JSON");
  check->callback([&] { action = [&] { return cmd_check(region, json); }; });

  auto* repair = app.add_subcommand(
      "repair",
      "Re-initialise a heap's locks and check it, in place, when no other process has it open");
  repair->add_option("REGION", region, kRegionHelp)->required();
  repair->callback([&] { action = [&] { return cmd_repair(region); }; });

  auto* rm = app.add_subcommand("rm", "Remove a shared memory object or a heap file");
  rm->add_option("REGION", region, kRegionHelp)->required();
  rm->callback([&] { action = [&] { return cmd_rm(region); }; });

  auto* st = app.add_subcommand(
      "stress", "Run forked processes allocating, freeing and copying blocks on a heap");
  st->add_option("REGION", region, kRegionHelp)->required();
  st->add_option("--procs", stress.procs, "Worker processes")->capture_default_str();
  st->add_option("--seconds", stress.seconds, "How long the workers run")->capture_default_str();
  st->add_option("--max-block", stress.max_block, "Largest block a worker asks for, in bytes")
      ->capture_default_str();
  st->add_flag("--keep", stress.keep, "Leave the workers' last blocks allocated");
  st->callback([&] { action = [&] { return cmd_stress(region, stress); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "talc: %s (see talc --help)\n", e.what());
    return kExitUsage;
  }

  try {
    return action ? action() : kExitUsage;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "talc: %s\n", e.what());
    return kExitUsage;
  } catch (const ToolError& e) {
    std::fprintf(stderr, "talc: %s\n", e.what());
    return kExitFailed;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "talc: %s\n", e.what());
    return kExitFailed;
  }
}
