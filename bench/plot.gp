# Draws talc_bench's CSV files, every allocator side by side, as PNG and SVG.
#   gnuplot -e "data='DIR'; out='DIR'" bench/plot.gp
# Each chart is drawn twice, once per format, from the same commands.

if (!exists("data")) data = "bench-results"
if (!exists("out")) out = data
set datafile separator ","
set key outside right top vertical
set grid ytics
set style data linespoints

# A run of chosen workloads (talc_bench --workload) writes only their files: each chart is
# drawn when its file is there.
has(f) = system(sprintf("test -f '%s/%s.csv' && echo 1 || echo 0", data, f)) eq "1"
# The allocators in the order the benchmark wrote them (this heap first).
names(f, col) = system(sprintf("tail -n +2 '%s/%s.csv' 2>/dev/null | cut -d, -f%d | awk '!s[$0]++' | tr '\\n' ' '", data, f, col))
# The same, among the rows that meet an awk condition.
names_if(f, col, cond) = system(sprintf("awk -F, 'NR > 1 && %s {print $%d}' '%s/%s.csv' 2>/dev/null | awk '!s[$0]++' | tr '\\n' ' '", cond, col, data, f))
ra = names("random_actions", 3)
he = names("heap_efficiency", 1)
pa = names("pairs", 1)
fr = names("fragmented", 1)
co = names("contention", 3)
f(n) = sprintf("%s/%s.csv", data, n)
# The rows of one series, through awk, so that each series is one unbroken line.
rows(n, cond) = sprintf("< awk -F, 'NR > 1 && %s' '%s/%s.csv'", cond, data, n)
is(col, v) = sprintf("$%d == \"%s\"", col, v)

do for [fmt in "png svg"] {
  if (fmt eq "png") { set terminal pngcairo noenhanced size 1200,500 font ",10" } else { set terminal svg noenhanced size 1200,500 font ",10" dynamic }

  if (has("random_actions")) {
    set output sprintf("%s/random_actions.%s", out, fmt)
    set multiplot layout 1,2 title "Random actions: successful operations per second (higher is better)"
    set logscale x
    set xlabel "max request size (bytes)"
    set ylabel "million ops/s"
    set yrange [0:*]
    do for [r=0:1] {
      set title (r == 0 ? "allocate / free" : "allocate / free / realloc")
      plot for [a in ra] rows("random_actions", is(3, a).sprintf(" && $1 == %d", r)) using 2:($6/1e6) title a
    }
    unset multiplot
    unset logscale x
  }

  if (has("heap_efficiency")) {
    set output sprintf("%s/heap_efficiency.%s", out, fmt)
    set title "Heap efficiency: share of the arena in live use at the first failure (higher is better)"
    set style fill solid 0.6
    set boxwidth 0.6
    set xlabel ""
    set ylabel "% of arena"
    # From 90%: the allocators differ by a few points, invisible on a scale from zero.
    set yrange [90:100]
    unset key
    plot rows("heap_efficiency", "1") using 0:($3*100):xtic(1) with boxes, \
         "" using 0:($3*100):(sprintf("%.2f%% (%d rounds)", $3*100, $2)) with labels offset 0,1
    set key
    set yrange [0:*]
  }

  if (has("pairs")) {
    set output sprintf("%s/pairs.%s", out, fmt)
    set multiplot layout 1,2 title "Allocate/free pairs of one size (lower is better)"
    set logscale x 2
    set logscale y
    set yrange [*:*]
    set xlabel "size (bytes)"
    set ylabel "ns per pair"
    set title "mean (batch of pairs)"
    plot for [a in pa] rows("pairs", is(1, a)) using 2:3 title a
    set title "p99.9 of single pairs"
    plot for [a in pa] rows("pairs", is(1, a)) using 2:6 title a
    unset multiplot
    unset logscale x
  }

  if (has("fragmented")) {
    set output sprintf("%s/fragmented.%s", out, fmt)
    set multiplot layout 1,2 title "64-byte pairs on a heap holding N free chunks (lower is better)"
    # Its own y scale, as the pairs chart may not have been drawn before it.
    set logscale y
    set yrange [*:*]
    set logscale x
    set xtics ("none" 10, "1k" 1000, "10k" 10000, "100k" 100000)
    set xrange [5:200000]
    set xlabel "free chunks between live blocks"
    set ylabel "ns per pair"
    set title "p50"
    plot for [a in fr] rows("fragmented", is(1, a)) using ($2 == 0 ? 10 : $2):4 title a
    set title "p99.9"
    plot for [a in fr] rows("fragmented", is(1, a)) using ($2 == 0 ? 10 : $2):6 title a
    unset multiplot
    unset xtics
    set xtics
    set xrange [*:*]
    unset logscale x
  }

  if (has("contention")) {
    set output sprintf("%s/contention.%s", out, fmt)
    set multiplot layout 2,2 title "Random actions from several workers (talc, boost: one shared heap; mallocs: their own)"
    set logscale x 2
    set xlabel "workers"
    do for [m in "threads processes"] {
      unset logscale y
      set yrange [0:*]
      set ylabel "million ops/s, all workers"
      set title m.": throughput (higher is better)"
      plot for [a in co] rows("contention", is(1, m)." && ".is(3, a)) using 2:($7/1e6) title a
    }
    do for [m in "threads processes"] {
      set logscale y
      set yrange [*:*]
      set ylabel "ns per operation"
      set title m.": p99.9 latency (lower is better)"
      plot for [a in co] rows("contention", is(1, m)." && ".is(3, a)) using 2:10 title a
    }
    unset multiplot
    unset logscale
    set yrange [*:*]
  }

  # threadtest, larson, producer_consumer: one chart each, throughput as threads and as processes.
  do for [w in "threadtest larson producer_consumer"] {
    if (has(w)) {
      set output sprintf("%s/%s.%s", out, w, fmt)
      set multiplot layout 1,2 title w.": allocations and frees per second, all workers (higher is better)"
      set logscale x 2
      set xlabel "workers"
      set ylabel "million ops/s"
      set yrange [0:*]
      # From 1, and a margin on the right: producer_consumer may have one point only (one pair).
      set xrange [1:*]
      set offsets 0, graph 0.1, 0, 0
      do for [m in "threads processes"] {
        set title m
        # Between processes, producer_consumer has only the peers of one shared heap.
        plot for [a in names_if(w, 3, is(1, m))] rows(w, is(1, m)." && ".is(3, a)) using 2:($7/1e6) title a
      }
      unset multiplot
      unset logscale x
      set xrange [*:*]
      unset offsets
    }
  }
}
