# cmake -DCOMPILER=... -DSOURCE=... -DCASE=n -DEXPECT=regex -DFLAGS="..." -P expect_compile_error.cmake
# Passes when compiling SOURCE with -DQF_CASE=CASE fails with a diagnostic matching EXPECT.
separate_arguments(flag_list UNIX_COMMAND "${FLAGS}")
execute_process(
  COMMAND ${COMPILER} -std=c++20 -fsyntax-only ${flag_list} -DQF_CASE=${CASE} ${SOURCE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "case ${CASE} compiled, but it must not")
endif()
if(NOT err MATCHES "${EXPECT}")
  message(FATAL_ERROR "case ${CASE} failed for another reason than '${EXPECT}':\n${err}")
endif()
message(STATUS "case ${CASE} refused as expected")
