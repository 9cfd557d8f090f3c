# The benchmark's smoke test: a quick run on tiny sizes must finish and leave every CSV file
# with at least one row of figures; a run of chosen workloads and peers writes only theirs;
# --help lists the choices, and an unknown peer is refused. What the figures say is never checked.
set(tiny --quick --arena-mib 32 --procs 2 --ops 5000 --pairs 2000 --contention-ops 5000
    --mp-ops 5000)

# Runs talc_bench with the given arguments; fails unless it exits with `want`. Leaves its output
# in `log`.
function(bench want)
  execute_process(COMMAND ${BENCH} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL want)
    string(REPLACE ";" " " args "${ARGN}")
    message(FATAL_ERROR "talc_bench ${args}: exit ${rc}, not ${want}:\n${out}")
  endif()
  set(log "${out}" PARENT_SCOPE)
endfunction()

function(expect_rows dir f)
  if(NOT EXISTS ${dir}/${f}.csv)
    message(FATAL_ERROR "talc_bench wrote no ${f}.csv:\n${log}")
  endif()
  file(STRINGS ${dir}/${f}.csv lines)
  list(LENGTH lines n)
  if(n LESS 2)
    message(FATAL_ERROR "${f}.csv has no rows:\n${log}")
  endif()
endfunction()

file(REMOVE_RECURSE ${OUT} ${OUT}-chosen ${OUT}-kept)
bench(0 ${tiny} --out ${OUT})
foreach(f random_actions heap_efficiency pairs fragmented contention threadtest larson
          producer_consumer)
  expect_rows(${OUT} ${f})
endforeach()

# Without talc, so that the first peer named is the reference; and without a shared heap, so
# that producer_consumer runs only as threads.
bench(0 ${tiny} --workload random_actions,contention,producer_consumer --peers glibc,talc_core
      --out ${OUT}-chosen)
expect_rows(${OUT}-chosen random_actions)
expect_rows(${OUT}-chosen contention)
expect_rows(${OUT}-chosen producer_consumer)
if(EXISTS ${OUT}-chosen/pairs.csv)
  message(FATAL_ERROR "talc_bench ran pairs, which was not chosen:\n${log}")
endif()

# Larson with every worker keeping its own array writes a file of its own.
bench(0 ${tiny} --workload larson --larson-keep --peers talc,glibc --out ${OUT}-kept)
expect_rows(${OUT}-kept larson_kept)

bench(0 --help)
foreach(name --workload --peers --mp-ops --larson-keep random_actions contention producer_consumer
             talc_core jemalloc)
  string(FIND "${log}" "${name}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "talc_bench --help does not name ${name}:\n${log}")
  endif()
endforeach()

bench(2 --peers talc,no_such_peer)
