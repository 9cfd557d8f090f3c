// talc_bench: this project's heap against its peers, side by side, in one run, on the same
// operation sequences (one seeded generator for all). Writes one CSV file per workload into
// --out and prints tables with each peer's ratio to this heap; bench/plot.gp draws the CSVs.
// Measures only: it never fails on a time. See BENCHMARKS.md for the method.
//
//   talc_bench [--quick] [--procs N] [--out DIR] [--arena-mib M] [--ops N] [--rounds R]
//              [--eff-rounds R] [--eff-seconds S] [--pairs N] [--contention-ops N]
//              [--contention-max BYTES]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "report.hpp"

namespace {

using namespace talc_bench;

struct Options {
  bool quick = false;
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
  std::vector<std::size_t> holes{0, 1000, 10000, 100000};
};

Options parse(int argc, char** argv) {
  Options o;
  // --quick first, so that explicit figures override its defaults wherever they stand.
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--quick") {
      o.quick = true;
      o.ops = 20'000;
      o.rounds = 1;
      o.eff_rounds = 2;
      o.eff_seconds = 5;
      o.pairs = 20'000;
      o.contention_ops = 20'000;
      o.holes = {0, 1000};
    }
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") continue;
    if (i + 1 >= argc) {
      std::fprintf(stderr, "talc_bench: %s needs a value (or is unknown)\n", argv[i]);
      std::exit(2);
    }
    const char* v = argv[++i];
    const auto n = static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
    if (a == "--procs")
      o.procs = std::max<std::size_t>(1, n);
    else if (a == "--out")
      o.out = v;
    else if (a == "--arena-mib")
      o.arena = n << 20;
    else if (a == "--ops")
      o.ops = n;
    else if (a == "--rounds")
      o.rounds = std::max<std::size_t>(1, n);
    else if (a == "--eff-rounds")
      o.eff_rounds = std::max<std::size_t>(1, n);
    else if (a == "--eff-seconds")
      o.eff_seconds = std::strtod(v, nullptr);
    else if (a == "--pairs")
      o.pairs = std::max<std::size_t>(1000, n);
    else if (a == "--contention-ops")
      o.contention_ops = n;
    else if (a == "--contention-max")
      o.contention_max = static_cast<std::uint32_t>(n);
    else {
      std::fprintf(stderr, "talc_bench: unknown option %s\n", argv[i - 1]);
      std::exit(2);
    }
  }
  return o;
}

std::vector<std::string> names(const std::vector<Bench*>& list) {
  std::vector<std::string> v;
  for (const Bench* b : list) v.emplace_back(b->info().name);
  return v;
}

// Random actions, without and with reallocation, at every max size: best of `rounds`, the
// rounds interleaved across peers so that a slow moment of the machine hits all of them.
void random_actions_all(const Options& o, const std::vector<Bench*>& all) {
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
void efficiency_all(const Options& o, const std::vector<Bench*>& all) {
  std::vector<Bench*> regions;
  for (Bench* b : all)
    if (b->info().region) regions.push_back(b);
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

// 1, 2, 4, ... workers, and `procs` itself.
std::vector<std::size_t> worker_counts(std::size_t procs) {
  std::vector<std::size_t> v;
  for (std::size_t w = 1; w < procs; w *= 2) v.push_back(w);
  v.push_back(procs);
  return v;
}

void contention_all(const Options& o, const std::vector<Bench*>& all, const Clock& clk) {
  std::vector<Bench*> mt;
  for (Bench* b : all)
    if (b->info().threads) mt.push_back(b);
  Csv csv(o.out + "/contention.csv", {"mode", "workers", "allocator", "shared", "ops", "seconds",
                                      "ops_per_s", "p50_ns", "p99_ns", "p999_ns", "max_ns"});
  for (const bool processes : {false, true}) {
    const char* mode = processes ? "processes" : "threads";
    Table rate(std::string("random actions, max ") + std::to_string(o.contention_max) + ", " + mode,
               "workers", names(mt), true);
    Table tail(std::string("random actions, p99.9 per operation, ") + mode, "workers", names(mt),
               false);
    for (const std::size_t w : worker_counts(o.procs)) {
      std::vector<std::vector<Action>> seqs;
      for (std::size_t i = 0; i < w; ++i)
        seqs.push_back(random_actions(o.contention_ops, o.contention_max, 7000 + i));
      std::vector<double> r, t;
      for (Bench* b : mt) {
        // Throughput: the best of `rounds` runs, as for the single-threaded random actions; the
        // latencies: every operation of every run.
        Contention c = b->contention(processes, seqs, clk);
        for (std::size_t k = 1; k < o.rounds; ++k) {
          Contention again = b->contention(processes, seqs, clk);
          again.ticks.merge(c.ticks);
          again.ok = again.ok && c.ok;
          if (again.seconds > c.seconds) {
            again.seconds = c.seconds;
            again.ops = c.ops;
          }
          c = again;
        }
        const double ops_s = static_cast<double>(c.ops) / c.seconds;
        auto ns = [&](double q) {
          return static_cast<double>(c.ticks.quantile(q)) * clk.ns_per_tick;
        };
        csv.row(mode, w, b->info().name, b->info().shared ? 1 : 0, c.ops, c.seconds, ops_s, ns(0.5),
                ns(0.99), ns(0.999), static_cast<double>(c.ticks.max()) * clk.ns_per_tick);
        if (!c.ok)
          std::fprintf(stderr, "talc_bench: a %s worker of %s did not finish\n", mode,
                       b->info().name);
        r.push_back(ops_s / 1e6);
        t.push_back(ns(0.999));
      }
      rate.row(std::to_string(w), r);
      tail.row(std::to_string(w), t);
    }
    rate.print("million operations per second, all workers, higher is better");
    tail.print("ns, lower is better");
  }
  std::printf(
      "(processes: talc and boost_* share one heap; glibc, mimalloc and jemalloc run a\n"
      " private heap in each process, the cost of not sharing at all)\n");
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::filesystem::create_directories(o.out);

  std::vector<std::unique_ptr<Bench>> owned;
  add_talc_peers(owned, o.arena);
  add_boost_peers(owned, o.arena);
  add_malloc_peers(owned, o.arena);
  std::vector<Bench*> all;
  for (auto& b : owned) all.push_back(b.get());

  Clock clk;
  clk.ns_per_tick = calibrate_ns_per_tick();
  clk.overhead = tick_overhead();
  std::printf("talc_bench: %zu MiB arena, %zu hardware threads, workers up to %zu%s\n",
              o.arena >> 20, static_cast<std::size_t>(std::thread::hardware_concurrency()), o.procs,
              o.quick ? ", quick mode" : "");
  std::printf("clock: %.3f ns per tick, %.1f ns of overhead per timed interval (subtracted)\n",
              clk.ns_per_tick, static_cast<double>(clk.overhead) * clk.ns_per_tick);

  // Each workload's own running time, so that a smaller or larger run can be planned.
  auto timed = [](const char* what, auto&& run) {
    const double t0 = now_seconds();
    run();
    std::printf("(%s: %.1f s)\n", what, now_seconds() - t0);
  };
  timed("random actions", [&] { random_actions_all(o, all); });
  timed("heap efficiency", [&] { efficiency_all(o, all); });
  timed("pairs", [&] { pairs_all(o, all, clk); });
  timed("fragmented", [&] { fragmented_all(o, all, clk); });
  timed("contention", [&] { contention_all(o, all, clk); });
  std::printf("\nCSV files in %s\n", o.out.c_str());
}
