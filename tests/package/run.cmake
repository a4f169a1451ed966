# Installs the build tree into a scratch prefix, then configures, builds and runs
# tests/package against it. Usage: cmake -DSOURCE_DIR=... -DBUILD_DIR=... -DWORK_DIR=... -P run.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGV}\n${output}")
  endif()
  set(last_output "${output}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(NOT last_output MATCHES "installed")
  message(FATAL_ERROR "consumer printed: ${last_output}")
endif()
# A component that does not exist is refused by find_package.
file(WRITE ${WORK_DIR}/bad/CMakeLists.txt
  "cmake_minimum_required(VERSION 3.21)\nproject(bad LANGUAGES CXX)\nfind_package(persist CONFIG REQUIRED COMPONENTS postgresql)\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/bad -B ${WORK_DIR}/bad/build -DCMAKE_PREFIX_PATH=${prefix}
  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(result EQUAL 0 OR NOT output MATCHES "persist has no component 'postgresql'")
  message(FATAL_ERROR "an unknown component was not refused:\n${output}")
endif()
message(STATUS "installed package consumed: ${last_output}")
