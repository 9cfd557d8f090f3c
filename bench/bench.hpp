// Every peer behind one run-time interface, so that the driver can hold them all in one list
// and interleave their rounds. Each family of peers is instantiated in a file of its own
// (peers_*.cpp), so that the slow Boost headers compile beside the rest rather than in one
// large translation unit. The workloads themselves stay templates: no virtual call sits
// between a workload and the allocator it measures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "contention.hpp"
#include "patterns.hpp"
#include "peer.hpp"
#include "random_actions.hpp"
#include "workloads.hpp"

namespace talc_bench {

class Bench {
 public:
  virtual ~Bench() = default;
  virtual const PeerInfo& info() const noexcept = 0;
  virtual Timed random(const std::vector<Action>& actions) = 0;
  virtual double efficiency(const std::vector<Action>& round) = 0;
  virtual PairStats pairs(std::size_t size, const PairPlan& plan, const Clock& clk) = 0;
  virtual PairStats fragmented(std::size_t holes, const PairPlan& plan, const Clock& clk) = 0;
  // On a fresh peer of the same arena, so that earlier workloads leave nothing behind.
  virtual Contention contention(bool processes, const std::vector<std::vector<Action>>& seqs,
                                const Clock& clk) = 0;
  // threadtest, larson or producer_consumer, on a fresh peer as well.
  virtual Contention pattern(const PatternRun& run) = 0;
};

template <Peer P>
class BenchOf final : public Bench {
 public:
  explicit BenchOf(std::size_t arena) : arena_(arena), peer_(arena) {
    live_.reserve(std::size_t{1} << 16);
    samples_.reserve(std::size_t{1} << 20);
  }
  const PeerInfo& info() const noexcept override { return P::kInfo; }
  Timed random(const std::vector<Action>& actions) override {
    return run_random(peer_, actions, live_);
  }
  double efficiency(const std::vector<Action>& round) override {
    return run_efficiency(peer_, round, arena_, live_);
  }
  PairStats pairs(std::size_t size, const PairPlan& plan, const Clock& clk) override {
    return run_pairs(peer_, size, plan, clk, samples_);
  }
  PairStats fragmented(std::size_t holes, const PairPlan& plan, const Clock& clk) override {
    return run_fragmented(peer_, holes, plan, clk, samples_);
  }
  Contention contention(bool processes, const std::vector<std::vector<Action>>& seqs,
                        const Clock& clk) override {
    P fresh(arena_);
    return run_contention(fresh, processes, seqs, clk.overhead);
  }
  Contention pattern(const PatternRun& run) override {
    P fresh(arena_);
    return run_pattern(fresh, run);
  }

 private:
  std::size_t arena_;
  P peer_;
  std::vector<Live> live_;
  std::vector<std::uint64_t> samples_;
};

// Defined in peers_*.cpp, one per family of peers, each appending its peers to the list.
void add_talc_peers(std::vector<std::unique_ptr<Bench>>& list, std::size_t arena);
void add_boost_peers(std::vector<std::unique_ptr<Bench>>& list, std::size_t arena);
void add_malloc_peers(std::vector<std::unique_ptr<Bench>>& list, std::size_t arena);

}  // namespace talc_bench
