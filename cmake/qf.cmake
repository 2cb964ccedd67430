# Project-wide INTERFACE targets and helpers. Flags ride on these targets,
# linked PRIVATE, never on global variables (STYLE.md "Layout").

add_library(qf_warnings INTERFACE)
add_library(qf::warnings ALIAS qf_warnings)
target_compile_options(qf_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
  -Wdouble-promotion -Wimplicit-fallthrough
  $<$<BOOL:${QF_WERROR}>:-Werror>)

add_library(qf_sanitize INTERFACE)
add_library(qf::sanitize ALIAS qf_sanitize)
if(QF_SANITIZE)
  string(REPLACE ";" "," _qf_san "${QF_SANITIZE}")
  target_compile_options(qf_sanitize INTERFACE -fsanitize=${_qf_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(qf_sanitize INTERFACE -fsanitize=${_qf_san})
endif()

# Options every QuantFlow target gets: warnings and sanitizers.
add_library(qf_options INTERFACE)
add_library(qf::options ALIAS qf_options)
target_link_libraries(qf_options INTERFACE qf::warnings qf::sanitize)

# qf_test(<name> [CAPTURES] [LABELS l...] [LIBS t...] [SOURCES s...])
# One line per test: builds <name> from <name>.cpp (plus SOURCES), links GoogleTest,
# registers it with ctest under the given labels (unit, integration, e2e, slow, tsan).
# CAPTURES: the test reads the recorded venue traffic; QF_CAPTURES_DIR names ../shared/captures
# (a missing folder is a failure in the test, never a silent skip).
function(qf_test name)
  cmake_parse_arguments(ARG "CAPTURES" "" "LABELS;LIBS;SOURCES" ${ARGN})
  add_executable(${name} ${name}.cpp ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main qf::options)
  if(ARG_CAPTURES)
    target_compile_definitions(${name} PRIVATE QF_CAPTURES_DIR="${PROJECT_SOURCE_DIR}/../shared/captures")
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 600)
endfunction()

# qf_bench(<name> [LIBS t...]): a Google Benchmark executable built from <name>.cpp.
function(qf_bench name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  add_executable(${name} ${name}.cpp)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} benchmark::benchmark qf::options)
endfunction()

# qf_xgboost: libxgboost-dev's C API for the tests and benchmarks that compare against XGBoost.
# Found by hand: Debian's CMake package for it names /usr/bin/xgboost, which no package ships.
if(NOT TARGET qf_xgboost)
  find_library(QF_XGBOOST_LIBRARY xgboost REQUIRED)
  find_path(QF_XGBOOST_INCLUDE xgboost/c_api.h REQUIRED)
  add_library(qf_xgboost INTERFACE IMPORTED GLOBAL)
  set_target_properties(qf_xgboost PROPERTIES INTERFACE_LINK_LIBRARIES "${QF_XGBOOST_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${QF_XGBOOST_INCLUDE}")
endif()
