// Where the figures go: one CSV file per workload (read by bench/plot.gp and by people), and
// tables on the terminal with each peer's ratio to this project's heap (or, in a run without
// it, to the first peer chosen).
#pragma once

#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "peer.hpp"

namespace talc_bench {

class Csv {
 public:
  Csv(const std::string& path, std::initializer_list<const char*> columns) : out_(path) {
    if (!out_) throw std::runtime_error("cannot write " + path);
    const char* sep = "";
    for (const char* c : columns) {
      out_ << sep << c;
      sep = ",";
    }
    out_ << '\n';
  }
  template <class... T>
  void row(const T&... v) {
    std::ostringstream line;
    line.precision(6);
    const char* sep = "";
    ((line << sep << v, sep = ","), ...);
    out_ << line.str() << '\n';
    out_.flush();  // a run cut short still leaves every finished row
  }

 private:
  std::ofstream out_;
};

// A terminal table: a label column then one column per peer, each cell a figure and, for every
// peer but the first (the reference: this project's heap whenever it runs), the first's figure
// over it in brackets.
class Table {
 public:
  Table(std::string title, std::string label, std::vector<std::string> peers, bool higher_better)
      : title_(std::move(title)),
        label_(std::move(label)),
        peers_(std::move(peers)),
        higher_better_(higher_better) {}

  void row(const std::string& label, const std::vector<double>& values) {
    rows_.push_back({label, values});
  }

  void print(const char* unit) const {
    const char* ref = peers_.front().c_str();
    std::printf("\n%s (%s; [x] = %s's advantage: %s / %s", title_.c_str(), unit, ref,
                higher_better_ ? ref : "peer", higher_better_ ? "peer" : ref);
    if (ref != kReference)
      std::printf("; %s is the reference, as %s did not run", ref, std::string(kReference).c_str());
    std::printf(")\n");
    std::printf("%-12s", label_.c_str());
    for (const auto& p : peers_) std::printf(" %20s", p.c_str());
    std::printf("\n");
    for (const auto& [label, values] : rows_) {
      std::printf("%-12s", label.c_str());
      for (std::size_t i = 0; i < values.size(); ++i) {
        char cell[64];
        if (i == 0 || values[0] <= 0 || values[i] <= 0) {
          std::snprintf(cell, sizeof cell, "%.4g", values[i]);
        } else {
          const double adv = higher_better_ ? values[0] / values[i] : values[i] / values[0];
          std::snprintf(cell, sizeof cell, "%.4g [%.2fx]", values[i], adv);
        }
        std::printf(" %20s", cell);
      }
      std::printf("\n");
    }
    std::fflush(stdout);
  }

 private:
  struct Row {
    std::string label;
    std::vector<double> values;
  };
  std::string title_, label_;
  std::vector<std::string> peers_;
  bool higher_better_;
  std::vector<Row> rows_;
};

}  // namespace talc_bench
