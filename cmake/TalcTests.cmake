# talc_add_test_program: the one way this project registers a test. Every test it registers
# carries the label of its kind, so that `ctest -L unit` runs the unit tests and
# `ctest -N -L crash` lists the crash tests. The kinds (tests/ has a folder for each of the first
# five):
#   unit          one process: the core in a buffer, offsets, the face's calls, regions, lanes
#   property      seeded random workloads against a model of the heap
#   crash         deaths injected at every write, the kill torture, the lock-word sweep
#   multiprocess  real processes on one heap: forked and exec'd workers, the lock, liveness
#   programs      whole programs run as a user runs them: the C API from C, the tool, the
#                 examples, the benchmarks' smoke runs, the Python package
#   fuzz          the fuzzers' short runs
#   models        the Promela models of the protocols between processes, checked by SPIN
#                 (models/, scripts/check-models)
#
#   talc_add_test_program(<program> <kind>
#     [SOURCES <file>...]       build <program> here from these files; without them <program> is
#                               built elsewhere (an example, the tool) or a script, and only its
#                               test is added
#     [DEFINITIONS <def>...]    compile definitions of <program>
#     [LIBS <lib>...]           libraries beyond talc::talc and the project's build flags
#     [DEPENDS <target>...]     programs that <program>'s tests start (the worker programs)
#     [TEST <name> [COMMAND <command> [<arg>...]]])
#
# With TEST, one test <name> runs COMMAND (by default <program> itself, without arguments).
# Without TEST, <program> is a GoogleTest program: it is linked with gtest_main and each of its
# cases is a test of its own. A program built here includes the tests' helpers as "support/...".
include_guard(GLOBAL)
include(GoogleTest)

set(TALC_TEST_KINDS unit property crash multiprocess programs fuzz models)

function(talc_add_test_program program kind)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "TEST" "SOURCES;DEFINITIONS;LIBS;DEPENDS;COMMAND")
  set(_where "talc_add_test_program(${program})")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${_where}: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT kind IN_LIST TALC_TEST_KINDS)
    message(FATAL_ERROR "${_where}: the kind '${kind}' is none of ${TALC_TEST_KINDS}")
  endif()
  if(arg_COMMAND AND NOT arg_TEST)
    message(FATAL_ERROR "${_where}: COMMAND needs TEST, the name of the test that runs it")
  endif()

  if(arg_SOURCES)
    add_executable(${program} ${arg_SOURCES})
    target_include_directories(${program} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
    target_link_libraries(${program} PRIVATE talc::talc talc_build_flags ${arg_LIBS})
    if(arg_DEFINITIONS)
      target_compile_definitions(${program} PRIVATE ${arg_DEFINITIONS})
    endif()
    if(arg_DEPENDS)
      add_dependencies(${program} ${arg_DEPENDS})
    endif()
  elseif(arg_DEFINITIONS OR arg_LIBS OR arg_DEPENDS)
    message(FATAL_ERROR "${_where}: DEFINITIONS, LIBS and DEPENDS are for a program built here "
                        "(SOURCES)")
  elseif(NOT arg_TEST)
    message(FATAL_ERROR "${_where}: neither SOURCES nor TEST: nothing to build or run")
  endif()

  if(arg_TEST)
    if(NOT arg_COMMAND)
      set(arg_COMMAND ${program})
    endif()
    add_test(NAME ${arg_TEST} COMMAND ${arg_COMMAND})
    set_tests_properties(${arg_TEST} PROPERTIES LABELS ${kind})
  else()
    target_link_libraries(${program} PRIVATE GTest::gtest_main)
    gtest_discover_tests(${program} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${kind})
  endif()
endfunction()
