# Installs persist with the README's own install line into a scratch prefix, then builds and
# runs consumers against it: with find_package (tests/package) and with pkg-config. Then an
# install made as on a machine without SQLiteCpp: the postgres component alone works, and the
# sqlite component is refused saying why.
# Usage: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DCXX=... -P run.cmake
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGV}\n${output}")
  endif()
  set(last_output "${output}" PARENT_SCOPE)
endfunction()

# The README's line: cmake -S . -B build <flags> && cmake --install build --prefix <prefix>
file(READ ${SOURCE_DIR}/README.md readme)
if(NOT readme MATCHES "\ncmake -S \\. -B build ([^\n&]*) && cmake --install build --prefix <prefix>\n")
  message(FATAL_ERROR "README.md has no install line of the expected form")
endif()
separate_arguments(flags UNIX_COMMAND "${CMAKE_MATCH_1}")
function(install_persist name)
  set(prefix ${WORK_DIR}/${name}/prefix PARENT_SCOPE)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/${name}/build ${flags} ${ARGN})
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/${name}/build --prefix ${WORK_DIR}/${name}/prefix)
endfunction()

install_persist(full)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package -B ${WORK_DIR}/consumer -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
if(NOT last_output MATCHES "installed")
  message(FATAL_ERROR "consumer printed: ${last_output}")
endif()
foreach(file IN ITEMS share/pkgconfig/persist.pc share/pkgconfig/persist-sqlite.pc share/pkgconfig/persist-postgres.pc
                      share/doc/persist/LICENSE include/persist/persist.hpp lib/cmake/persist/persistConfig.cmake)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "the install lacks ${file}")
  endif()
endforeach()

# pkg-config, as a Makefile user would.
set(ENV{PKG_CONFIG_PATH} ${prefix}/share/pkgconfig)
run(pkg-config --cflags --libs persist-sqlite)
string(STRIP "${last_output}" sqlite_flags)
separate_arguments(sqlite_flags UNIX_COMMAND "${sqlite_flags}")
run(${CXX} ${SOURCE_DIR}/tests/package/consumer_pkgconfig.cpp -o ${WORK_DIR}/consumer_pkgconfig ${sqlite_flags})
run(${WORK_DIR}/consumer_pkgconfig)
if(NOT last_output MATCHES "pkg-config")
  message(FATAL_ERROR "the pkg-config consumer printed: ${last_output}")
endif()
run(pkg-config --cflags --libs persist-postgres)
string(STRIP "${last_output}" postgres_flags)
separate_arguments(postgres_flags UNIX_COMMAND "${postgres_flags}")
run(${CXX} ${SOURCE_DIR}/tests/package/consumer_postgres.cpp -o ${WORK_DIR}/consumer_postgres_pc ${postgres_flags})
run(${WORK_DIR}/consumer_postgres_pc)

# A component that does not exist is refused by find_package.
file(WRITE ${WORK_DIR}/bad/CMakeLists.txt
  "cmake_minimum_required(VERSION 3.21)\nproject(bad LANGUAGES CXX)\nfind_package(persist CONFIG REQUIRED COMPONENTS postgresql)\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/bad -B ${WORK_DIR}/bad/build -DCMAKE_PREFIX_PATH=${prefix}
  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(result EQUAL 0 OR NOT output MATCHES "persist has no component 'postgresql'")
  message(FATAL_ERROR "an unknown component was not refused:\n${output}")
endif()

# As if SQLiteCpp were not installed: persist::postgres alone.
install_persist(postgres_only -DCMAKE_DISABLE_FIND_PACKAGE_SQLiteCpp=ON)
if(EXISTS ${prefix}/lib/cmake/persist/persistSqliteTargets.cmake OR EXISTS ${prefix}/share/pkgconfig/persist-sqlite.pc)
  message(FATAL_ERROR "an install without SQLiteCpp still holds the sqlite backend")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/postgres_only -B ${WORK_DIR}/postgres_only/consumer
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/postgres_only/consumer)
run(${WORK_DIR}/postgres_only/consumer/consumer_postgres)
file(WRITE ${WORK_DIR}/nosqlite/CMakeLists.txt
  "cmake_minimum_required(VERSION 3.21)\nproject(nosqlite LANGUAGES CXX)\nfind_package(persist CONFIG REQUIRED COMPONENTS sqlite)\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/nosqlite -B ${WORK_DIR}/nosqlite/build -DCMAKE_PREFIX_PATH=${prefix}
  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(result EQUAL 0 OR NOT output MATCHES "persist was installed without its sqlite backend")
  message(FATAL_ERROR "a missing sqlite backend was not explained:\n${output}")
endif()
message(STATUS "installed package consumed with find_package and pkg-config; postgres-only install works")
