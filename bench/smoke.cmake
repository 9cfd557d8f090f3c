# The benchmark's smoke test: a quick run on tiny sizes must finish and leave every CSV file
# with at least one row of figures. What the figures say is never checked.
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${BENCH} --quick --arena-mib 32 --procs 2 --ops 5000 --pairs 2000
                        --contention-ops 5000 --out ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE log ERROR_VARIABLE log)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "talc_bench failed (${rc}):\n${log}")
endif()
foreach(f random_actions heap_efficiency pairs fragmented contention)
  if(NOT EXISTS ${OUT}/${f}.csv)
    message(FATAL_ERROR "talc_bench wrote no ${f}.csv:\n${log}")
  endif()
  file(STRINGS ${OUT}/${f}.csv lines)
  list(LENGTH lines n)
  if(n LESS 2)
    message(FATAL_ERROR "${f}.csv has no rows:\n${log}")
  endif()
endforeach()
