// talc_bench: this project's heap against its peers, side by side, in one run, on the same
// operation sequences (one seeded generator for all). Writes one CSV file per workload into
// --out and prints tables with each peer's ratio to this heap; bench/plot.gp draws the CSVs.
// Measures only: it never fails on a time. See BENCHMARKS.md for the method.
//
//   talc_bench [--quick] [--workload NAMES] [--peers NAMES] [--procs N] [--out DIR]
//              [--arena-mib M] [--ops N] [--rounds R] [--eff-rounds R] [--eff-seconds S]
//              [--pairs N] [--contention-ops N] [--contention-max BYTES] [--mp-ops N]
//   talc_bench --help          every option with its default, every workload and peer
//
// Without --workload and --peers, every workload runs on every peer. Each takes names separated
// by commas and may be repeated, e.g. `--workload random_actions --peers talc,glibc`; a workload
// skips the chosen peers it does not apply to. Ratios are to talc, or, when talc is not chosen,
// to the first peer named (the tables say so).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "report.hpp"
#include "talc/sync/region_lock.hpp"

namespace {

using namespace talc_bench;

struct Options {
  bool help = false;
  bool quick = false;
  std::vector<std::string> workloads;  // none named: all
  std::vector<std::string> peers;      // none named: all
  std::size_t procs = std::max(1u, std::thread::hardware_concurrency());
  std::string out = "bench-results";
  std::size_t arena = std::size_t{128} << 20;
  std::size_t ops = 1'000'000;  // per random-actions sequence
  std::size_t rounds = 3;       // random actions: best of
  std::size_t eff_rounds = 300;
  double eff_seconds = 60;               // per peer
  std::size_t pairs = 1'000'000;         // per size: batch and one by one, each
  std::size_t contention_ops = 200'000;  // per worker
  std::uint32_t contention_max = 1000;
  std::size_t mp_ops = 2'000'000;  // per worker: threadtest, larson, producer_consumer
  bool larson_keep = false;
  std::vector<std::size_t> holes{0, 1000, 10000, 100000};
};

// --quick: a smoke run of seconds.
void make_quick(Options& o) {
  o.quick = true;
  o.ops = 20'000;
  o.rounds = 1;
  o.eff_rounds = 2;
  o.eff_seconds = 5;
  o.pairs = 20'000;
  o.contention_ops = 20'000;
  o.mp_ops = 20'000;
  o.holes = {0, 1000};
}

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "talc_bench: %s; see --help\n", what.c_str());
  std::exit(2);
}

// Adds the names of one comma-separated list; an empty name stays, to be refused as unknown.
void append_names(std::vector<std::string>& to, std::string_view list) {
  for (std::size_t start = 0;;) {
    const std::size_t comma = list.find(',', start);
    to.emplace_back(list.substr(start, comma - start));
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::size_t number(const char* v) {
  return static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
}

std::string decimal(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%g", v);
  return s;
}

// One command-line option. `show` prints its value from a set of options, so that --help takes
// the defaults (and --quick's) from Options and make_quick themselves rather than repeating them.
struct Flag {
  const char* name;
  const char* value;  // its argument's name; null for a switch
  const char* help;   // one line
  void (*set)(Options&, const char* value);
  std::string (*show)(const Options&);  // null: no default worth printing
};

const Flag kFlags[] = {
    {"--help", nullptr, "print this text and exit (also -h)",
     [](Options& o, const char*) { o.help = true; }, nullptr},
    {"--quick", nullptr, "a smoke run of seconds: the --quick figures below",
     [](Options& o, const char*) { make_quick(o); }, nullptr},
    {"--workload", "NAMES", "run only these workloads, comma-separated; repeatable",
     [](Options& o, const char* v) { append_names(o.workloads, v); },
     [](const Options&) { return std::string("all"); }},
    {"--peers", "NAMES", "run only these peers, comma-separated; repeatable",
     [](Options& o, const char* v) { append_names(o.peers, v); },
     [](const Options&) { return std::string("all"); }},
    {"--procs", "N", "most workers in the multi-worker runs",
     [](Options& o, const char* v) { o.procs = std::max<std::size_t>(1, number(v)); },
     [](const Options& o) { return std::to_string(o.procs) + ", the hardware threads"; }},
    {"--out", "DIR", "folder of the CSV files", [](Options& o, const char* v) { o.out = v; },
     [](const Options& o) { return o.out; }},
    {"--arena-mib", "M", "arena of each peer that works in one, MiB",
     [](Options& o, const char* v) { o.arena = number(v) << 20; },
     [](const Options& o) { return std::to_string(o.arena >> 20); }},
    {"--ops", "N", "operations per random-actions sequence",
     [](Options& o, const char* v) { o.ops = number(v); },
     [](const Options& o) { return std::to_string(o.ops); }},
    {"--rounds", "R", "random actions and multi-worker runs: best of R",
     [](Options& o, const char* v) { o.rounds = std::max<std::size_t>(1, number(v)); },
     [](const Options& o) { return std::to_string(o.rounds); }},
    {"--eff-rounds", "R", "heap efficiency: rounds at most",
     [](Options& o, const char* v) { o.eff_rounds = std::max<std::size_t>(1, number(v)); },
     [](const Options& o) { return std::to_string(o.eff_rounds); }},
    {"--eff-seconds", "S", "heap efficiency: seconds per peer at most",
     [](Options& o, const char* v) { o.eff_seconds = std::strtod(v, nullptr); },
     [](const Options& o) { return decimal(o.eff_seconds); }},
    {"--pairs", "N", "pairs per size and kind, at least 1000",
     [](Options& o, const char* v) { o.pairs = std::max<std::size_t>(1000, number(v)); },
     [](const Options& o) { return std::to_string(o.pairs); }},
    {"--contention-ops", "N", "contention: operations per worker",
     [](Options& o, const char* v) { o.contention_ops = number(v); },
     [](const Options& o) { return std::to_string(o.contention_ops); }},
    {"--contention-max", "BYTES", "contention: largest request",
     [](Options& o, const char* v) { o.contention_max = static_cast<std::uint32_t>(number(v)); },
     [](const Options& o) { return std::to_string(o.contention_max); }},
    {"--mp-ops", "N", "threadtest, larson, producer_consumer: operations per worker",
     [](Options& o, const char* v) { o.mp_ops = number(v); },
     [](const Options& o) { return std::to_string(o.mp_ops); }},
    {"--larson-keep", nullptr, "larson: every worker keeps its own array (larson_kept.csv)",
     [](Options& o, const char*) { o.larson_keep = true; }, nullptr},
};

const Flag& find_flag(std::string_view arg) {
  if (arg == "-h") arg = "--help";
  for (const Flag& f : kFlags)
    if (arg == f.name) return f;
  usage_error("unknown option " + std::string(arg));
}

// Calls take(flag, value) for each option of the command line, in order (value null for a
// switch); an unknown option or a missing value ends the program.
template <class Take>
void each_option(int argc, char** argv, Take take) {
  for (int i = 1; i < argc; ++i) {
    const Flag& f = find_flag(argv[i]);
    if (f.value != nullptr && i + 1 >= argc)
      usage_error(std::string(f.name) + " needs a value (" + f.value + ")");
    take(f, f.value != nullptr ? argv[++i] : nullptr);
  }
}

Options parse(int argc, char** argv) {
  Options o;
  // Switches first, so that explicit figures override --quick's wherever they stand.
  each_option(argc, argv, [&](const Flag& f, const char* v) {
    if (f.value == nullptr) f.set(o, v);
  });
  each_option(argc, argv, [&](const Flag& f, const char* v) {
    if (f.value != nullptr) f.set(o, v);
  });
  return o;
}

std::vector<std::string> names(const std::vector<Bench*>& list) {
  std::vector<std::string> v;
  for (const Bench* b : list) v.emplace_back(b->info().name);
  return v;
}

// The peers with one trait: the ones a workload applies to.
std::vector<Bench*> with(bool PeerInfo::*trait, const std::vector<Bench*>& all) {
  std::vector<Bench*> v;
  for (Bench* b : all)
    if (b->info().*trait) v.push_back(b);
  return v;
}

// A workload none of the chosen peers applies to: said, rather than an empty table.
void skipped(const char* workload, const char* why) {
  std::printf("\n(%s skipped: none of the chosen peers %s)\n", workload, why);
}

// Random actions, without and with reallocation, at every max size: best of `rounds`, the
// rounds interleaved across peers so that a slow moment of the machine hits all of them.
void random_actions_all(const Options& o, const std::vector<Bench*>& all, const Clock&) {
  Csv csv(o.out + "/random_actions.csv",
          {"realloc", "max_size", "allocator", "ops", "seconds", "ops_per_s"});
  for (const bool realloc : {false, true}) {
    Table table(realloc ? "random actions with realloc" : "random actions", "max size", names(all),
                true);
    for (const std::uint32_t max : {200u, 1000u, 3000u, 10000u, 30000u}) {
      const auto actions = random_actions(o.ops, max, max, realloc);
      std::vector<Timed> best(all.size());
      for (std::size_t r = 0; r < o.rounds; ++r)
        for (std::size_t i = 0; i < all.size(); ++i) {
          const Timed t = all[i]->random(actions);
          if (r == 0 || t.seconds < best[i].seconds) best[i] = t;
        }
      std::vector<double> mops;
      for (std::size_t i = 0; i < all.size(); ++i) {
        const double rate = static_cast<double>(best[i].ops) / best[i].seconds;
        csv.row(realloc ? 1 : 0, max, all[i]->info().name, best[i].ops, best[i].seconds, rate);
        mops.push_back(rate / 1e6);
      }
      table.row(std::to_string(max), mops);
    }
    table.print("million successful operations per second of thread CPU time, higher is better");
  }
}

// Heap efficiency over `eff_rounds` rounds, the same rounds for every peer; a peer that has used
// up `eff_seconds` stops early (simple_seq_fit takes seconds per round), and the CSV says how
// many rounds each one ran: always the first ones, so every average is over the same prefix.
void efficiency_all(const Options& o, const std::vector<Bench*>& all, const Clock&) {
  const std::vector<Bench*> regions = with(&PeerInfo::region, all);
  if (regions.empty()) return skipped("heap_efficiency", "works in a bounded arena");
  const std::size_t n = regions.size();
  Csv csv(o.out + "/heap_efficiency.csv", {"allocator", "rounds", "mean", "min", "max"});
  std::vector<double> sum(n, 0), lo(n, 1), hi(n, 0), secs(n, 0);
  std::vector<std::size_t> rounds(n, 0);
  std::size_t steps = 0, generated = 0;
  for (std::size_t r = 0; r < o.eff_rounds; ++r) {
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) any = any || r == 0 || secs[i] < o.eff_seconds;
    if (!any) break;
    const auto round = efficiency_round(o.arena, 10000, 1000 + r);
    steps += round.size();
    ++generated;
    for (std::size_t i = 0; i < n; ++i) {
      if (r != 0 && secs[i] >= o.eff_seconds) continue;
      const double t0 = now_seconds();
      const double e = regions[i]->efficiency(round);
      secs[i] += now_seconds() - t0;
      ++rounds[i];
      sum[i] += e;
      lo[i] = std::min(lo[i], e);
      hi[i] = std::max(hi[i], e);
    }
  }
  Table table("heap efficiency, up to " + std::to_string(o.eff_rounds) + " rounds", "",
              names(regions), true);
  std::vector<double> mean;
  for (std::size_t i = 0; i < n; ++i) {
    mean.push_back(100 * sum[i] / static_cast<double>(rounds[i]));
    csv.row(regions[i]->info().name, rounds[i], mean.back() / 100, lo[i], hi[i]);
  }
  table.row("mean", mean);
  table.print("% of the arena in live use at the first failure, higher is better");
  std::printf("(%zu steps per round on average; rounds run and seconds per round:",
              steps / std::max<std::size_t>(1, generated));
  for (std::size_t i = 0; i < n; ++i)
    std::printf(" %s %zu %.3f", regions[i]->info().name, rounds[i],
                secs[i] / static_cast<double>(rounds[i]));
  std::printf(")\n");
}

void pairs_all(const Options& o, const std::vector<Bench*>& all, const Clock& clk) {
  Csv csv(o.out + "/pairs.csv",
          {"allocator", "size", "mean_ns", "p50_ns", "p99_ns", "p999_ns", "max_ns"});
  const PairPlan plan{o.pairs, o.pairs};
  Table mean("allocate/free pairs, mean", "size", names(all), false);
  Table tail("allocate/free pairs, p99.9 of single pairs", "size", names(all), false);
  for (std::size_t size = 16; size <= 65536; size *= 2) {
    std::vector<double> m, t;
    for (Bench* b : all) {
      const PairStats s = b->pairs(size, plan, clk);
      csv.row(b->info().name, size, s.mean, s.p50, s.p99, s.p999, s.max);
      m.push_back(s.mean);
      t.push_back(s.p999);
    }
    mean.row(std::to_string(size), m);
    tail.row(std::to_string(size), t);
  }
  mean.print("ns of thread CPU time per pair, lower is better");
  tail.print("ns per pair, lower is better");
}

void fragmented_all(const Options& o, const std::vector<Bench*>& all, const Clock& clk) {
  Csv csv(o.out + "/fragmented.csv",
          {"allocator", "holes", "mean_ns", "p50_ns", "p99_ns", "p999_ns", "max_ns"});
  const PairPlan plan{o.pairs, o.pairs};
  Table tail("64-byte pairs among free chunks, p99.9", "holes", names(all), false);
  for (const std::size_t holes : o.holes) {
    std::vector<double> t;
    for (Bench* b : all) {
      const PairStats s = b->fragmented(holes, plan, clk);
      csv.row(b->info().name, holes, s.mean, s.p50, s.p99, s.p999, s.max);
      t.push_back(s.p999);
    }
    tail.row(std::to_string(holes), t);
  }
  tail.print("ns per pair, lower is better");
}

const char* const kSharing =
    "(processes: talc and boost_* share one heap; glibc, mimalloc and jemalloc run a\n"
    " private heap in each process, the cost of not sharing at all)";

// 1, 2, 4, ... workers, and `procs` itself.
std::vector<std::size_t> worker_counts(std::size_t procs) {
  std::vector<std::size_t> v;
  for (std::size_t w = 1; w < procs; w *= 2) v.push_back(w);
  v.push_back(procs);
  return v;
}

// Throughput: the best of `rounds` runs, as for the single-threaded random actions; the
// latencies: every operation of every run.
template <class Run>
Contention best_of(std::size_t rounds, Run run) {
  Contention c = run();
  for (std::size_t k = 1; k < rounds; ++k) {
    const Contention again = run();
    c.ticks.merge(again.ticks);
    c.ok = c.ok && again.ok;
    if (again.seconds < c.seconds) {
      c.seconds = again.seconds;
      c.ops = again.ops;
      c.lock_share = again.lock_share;
    }
  }
  return c;
}

// The lock share's table (workers.hpp), printed where this build times each hold.
constexpr const char* kLockShareUnit =
    "% of each worker's time holding the heap's lock (1 / share bounds the speed-up of adding "
    "workers)";

void warn_unless_ok(const Contention& c, const char* mode, const Bench& b) {
  if (!c.ok)
    std::fprintf(stderr, "talc_bench: a %s worker of %s did not finish, or found a wrong word\n",
                 mode, b.info().name);
}

void contention_all(const Options& o, const std::vector<Bench*>& all, const Clock& clk) {
  const std::vector<Bench*> mt = with(&PeerInfo::threads, all);
  if (mt.empty()) return skipped("contention", "may be called from several threads");
  Csv csv(o.out + "/contention.csv",
          {"mode", "workers", "allocator", "shared", "ops", "seconds", "ops_per_s", "p50_ns",
           "p99_ns", "p999_ns", "max_ns", "lock_share"});
  for (const bool processes : {false, true}) {
    const char* mode = processes ? "processes" : "threads";
    Table rate(std::string("random actions, max ") + std::to_string(o.contention_max) + ", " + mode,
               "workers", names(mt), true);
    Table tail(std::string("random actions, p99.9 per operation, ") + mode, "workers", names(mt),
               false);
    Table share(std::string("random actions, lock share, ") + mode, "workers", names(mt), false);
    for (const std::size_t w : worker_counts(o.procs)) {
      std::vector<std::vector<Action>> seqs;
      for (std::size_t i = 0; i < w; ++i)
        seqs.push_back(random_actions(o.contention_ops, o.contention_max, 7000 + i));
      std::vector<double> r, t, l;
      for (Bench* b : mt) {
        const Contention c = best_of(o.rounds, [&] { return b->contention(processes, seqs, clk); });
        const double ops_s = static_cast<double>(c.ops) / c.seconds;
        auto ns = [&](double q) {
          return static_cast<double>(c.ticks.quantile(q)) * clk.ns_per_tick;
        };
        csv.row(mode, w, b->info().name, b->info().shared ? 1 : 0, c.ops, c.seconds, ops_s, ns(0.5),
                ns(0.99), ns(0.999), static_cast<double>(c.ticks.max()) * clk.ns_per_tick,
                c.lock_share);
        warn_unless_ok(c, mode, *b);
        r.push_back(ops_s / 1e6);
        t.push_back(ns(0.999));
        l.push_back(100 * c.lock_share);
      }
      rate.row(std::to_string(w), r);
      tail.row(std::to_string(w), t);
      share.row(std::to_string(w), l);
    }
    rate.print("million operations per second, all workers, higher is better");
    tail.print("ns, lower is better");
    if (talc::RegionLock::kTimesHolds) share.print(kLockShareUnit);
  }
  std::printf("%s\n", kSharing);
}

// threadtest, larson, producer_consumer (patterns.hpp): throughput from 1 to `procs` workers,
// threads then processes, best of `rounds` runs. producer_consumer runs its workers in pairs:
// 2, 4, ... up to `procs` (one pair at least, even where `procs` is 1); between processes, only
// the peers whose heap every process shares, as a block cannot be freed into another process's
// private heap.
void pattern_all(const Options& o, const std::vector<Bench*>& all, Pattern pattern) {
  const bool keep = pattern == Pattern::larson && o.larson_keep;
  const std::string name = keep ? "larson_kept" : pattern_name(pattern);
  const std::vector<Bench*> mt = with(&PeerInfo::threads, all);
  if (mt.empty()) return skipped(name.c_str(), "may be called from several threads");
  const bool pairs = pattern == Pattern::producer_consumer;
  std::vector<std::size_t> counts =
      worker_counts(pairs ? std::max<std::size_t>(1, o.procs / 2) : o.procs);
  if (pairs)
    for (std::size_t& w : counts) w *= 2;
  Csv csv(o.out + "/" + name + ".csv",
          {"mode", "workers", "allocator", "shared", "ops", "seconds", "ops_per_s", "lock_share"});
  for (const bool processes : {false, true}) {
    const char* mode = processes ? "processes" : "threads";
    const std::vector<Bench*> peers = processes && pairs ? with(&PeerInfo::shared, mt) : mt;
    if (peers.empty()) {
      skipped((name + " between processes").c_str(), "shares one heap between processes");
      continue;
    }
    Table rate(name + ", " + mode, "workers", names(peers), true);
    Table share(name + ", lock share, " + mode, "workers", names(peers), false);
    for (const std::size_t w : counts) {
      std::vector<double> r, l;
      for (Bench* b : peers) {
        const Contention c = best_of(o.rounds, [&] {
          return b->pattern({pattern, processes, w, o.mp_ops, keep});
        });
        const double ops_s = static_cast<double>(c.ops) / c.seconds;
        csv.row(mode, w, b->info().name, b->info().shared ? 1 : 0, c.ops, c.seconds, ops_s,
                c.lock_share);
        warn_unless_ok(c, mode, *b);
        r.push_back(ops_s / 1e6);
        l.push_back(100 * c.lock_share);
      }
      rate.row(std::to_string(w), r);
      share.row(std::to_string(w), l);
    }
    rate.print("million allocations and frees per second, all workers, higher is better");
    if (talc::RegionLock::kTimesHolds) share.print(kLockShareUnit);
  }
  std::printf("%s\n", kSharing);
  if (keep)
    std::printf("(every worker keeps its own array of blocks: none changes workers)\n");
  else if (pattern == Pattern::larson)
    std::printf(
        "(threads, and processes on a shared heap, hand each worker's array of blocks on to the\n"
        " next worker every %zu steps; processes on a private heap keep their own)\n",
        kLarsonSlots);
  if (pairs)
    std::printf(
        "(workers are producer/consumer pairs; processes: only the peers with one heap for\n"
        " every process, since a block cannot be freed into another process's private heap)\n");
}

// A workload: its name, which is also its CSV file's, and its run on the chosen peers.
struct Workload {
  const char* name;
  const char* help;  // one line
  void (*run)(const Options&, const std::vector<Bench*>&, const Clock&);
};

const Workload kWorkloads[] = {
    {"random_actions", "random allocate/free, then with realloc, at max 200 to 30000 bytes",
     random_actions_all},
    {"heap_efficiency", "share of the arena in use at the first failure (peers with an arena)",
     efficiency_all},
    {"pairs", "allocate/free pairs of one size, 16 bytes to 64 KiB: mean and p99.9", pairs_all},
    {"fragmented", "64-byte pairs among up to 100000 free chunks: p99.9", fragmented_all},
    {"contention", "random actions on 1 to --procs threads, then processes (thread-safe)",
     contention_all},
    {"threadtest", "batches of 1000 64-byte blocks allocated, then freed; 1 to --procs workers",
     [](const Options& o, const std::vector<Bench*>& all, const Clock&) {
       pattern_all(o, all, Pattern::threadtest);
     }},
    {"larson", "free a random block of 1000, allocate 16..1000 B; arrays change workers",
     [](const Options& o, const std::vector<Bench*>& all, const Clock&) {
       pattern_all(o, all, Pattern::larson);
     }},
    {"producer_consumer", "pairs: one allocates 64..1000 B, sends it in a ring, the other frees",
     [](const Options& o, const std::vector<Bench*>& all, const Clock&) {
       pattern_all(o, all, Pattern::producer_consumer);
     }},
};

void print_help(const std::vector<Bench*>& peers) {
  const Options full;
  Options quick;
  make_quick(quick);
  std::printf(
      "usage: talc_bench [options]\n\n"
      "This heap against its peers on the same operation sequences: tables on the terminal, one\n"
      "CSV file per workload in --out (see BENCHMARKS.md). Without --workload or --peers, every\n"
      "workload runs on every peer.\n\noptions:\n");
  for (const Flag& f : kFlags) {
    std::string head = f.name, line = f.help;
    if (f.value != nullptr) head = head + " " + f.value;
    if (f.show != nullptr) {
      line += " (default " + f.show(full);
      if (f.show(quick) != f.show(full)) line += "; --quick " + f.show(quick);
      line += ")";
    }
    std::printf("  %-24s %s\n", head.c_str(), line.c_str());
  }
  std::printf("\nworkloads, run in this order:\n");
  for (const Workload& w : kWorkloads) std::printf("  %-24s %s\n", w.name, w.help);
  std::printf("\npeers (ratios are to %s; when it is not chosen, to the first peer named):\n",
              std::string(kReference).c_str());
  for (const Bench* b : peers) {
    const PeerInfo& p = b->info();
    std::printf("  %-24s %s%s%s\n", p.name, p.region ? "an arena, " : "no arena, ",
                p.threads ? "thread-safe" : "one thread only",
                p.shared ? ", one heap for every process" : "");
  }
}

// The named workloads, in the order they always run; all of them when none is named.
std::vector<const Workload*> chosen_workloads(const std::vector<std::string>& named) {
  std::vector<std::string> valid;
  for (const Workload& w : kWorkloads) valid.emplace_back(w.name);
  for (const std::string& n : named)
    if (std::find(valid.begin(), valid.end(), n) == valid.end())
      usage_error("unknown workload '" + n + "' (valid: " + join(valid) + ")");
  std::vector<const Workload*> v;
  for (const Workload& w : kWorkloads)
    if (named.empty() || std::find(named.begin(), named.end(), w.name) != named.end())
      v.push_back(&w);
  return v;
}

// The named peers, each once, in the order named but for this heap, which comes first whenever
// it is named: every table's ratios are to its first column. All of them when none is named.
std::vector<Bench*> chosen_peers(const std::vector<std::string>& named,
                                 const std::vector<Bench*>& all) {
  if (named.empty()) return all;
  std::vector<Bench*> v;
  for (const std::string& n : named) {
    const auto it =
        std::find_if(all.begin(), all.end(), [&](Bench* b) { return n == b->info().name; });
    if (it == all.end()) usage_error("unknown peer '" + n + "' (valid: " + join(names(all)) + ")");
    if (std::find(v.begin(), v.end(), *it) == v.end()) v.push_back(*it);
  }
  std::stable_partition(v.begin(), v.end(), [](Bench* b) { return b->info().name == kReference; });
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::vector<const Workload*> workloads = chosen_workloads(o.workloads);

  // Every peer is built, chosen or not: their names come from them, and building one costs no
  // more than mapping its arena.
  std::vector<std::unique_ptr<Bench>> owned;
  add_talc_peers(owned, o.arena);
  add_boost_peers(owned, o.arena);
  add_malloc_peers(owned, o.arena);
  std::vector<Bench*> every;
  for (auto& b : owned) every.push_back(b.get());
  if (o.help) {
    print_help(every);
    return 0;
  }
  const std::vector<Bench*> peers = chosen_peers(o.peers, every);
  if (std::error_code ec; !std::filesystem::create_directories(o.out, ec) && ec) {
    std::fprintf(stderr, "talc_bench: --out %s: %s\n", o.out.c_str(), ec.message().c_str());
    return 2;
  }

  Clock clk;
  clk.ns_per_tick = calibrate_ns_per_tick();
  clk.overhead = tick_overhead();
  std::printf("talc_bench: %zu MiB arena, %zu hardware threads, workers up to %zu%s\n",
              o.arena >> 20, static_cast<std::size_t>(std::thread::hardware_concurrency()), o.procs,
              o.quick ? ", quick mode" : "");
  std::printf("clock: %.3f ns per tick, %.1f ns of overhead per timed interval (subtracted)\n",
              clk.ns_per_tick, static_cast<double>(clk.overhead) * clk.ns_per_tick);
  std::printf("peers: %s\n", join(names(peers)).c_str());

  // Each workload's own running time, so that a smaller or larger run can be planned.
  for (const Workload* w : workloads) {
    const double t0 = now_seconds();
    w->run(o, peers, clk);
    std::printf("(%s: %.1f s)\n", w->name, now_seconds() - t0);
  }
  std::printf("\nCSV files in %s\n", o.out.c_str());
}
