# Installs persist with the README's own install line into a scratch prefix, then builds and
# runs consumers against it: with find_package (tests/package) and with pkg-config. Then an
# install made as on a machine without SQLiteCpp: the postgres component alone works, and the
# sqlite component is refused saying why.
# Usage: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DCXX=... -P run.cmake
cmake_minimum_required(VERSION 3.21) # policies as in vcpkg, whose portfile this script runs
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

# Configures the consumer project `source` against `prefix` in `build`, builds it and runs
# its `program`; last_output is what the program printed.
function(consume source prefix build program)
  run(${CMAKE_COMMAND} -S ${source} -B ${build} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
  run(${CMAKE_COMMAND} --build ${build})
  run(${build}/${program})
  set(last_output "${last_output}" PARENT_SCOPE)
endfunction()

install_persist(full)
consume(${SOURCE_DIR}/tests/package ${prefix} ${WORK_DIR}/consumer consumer)
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

# The layouts Conan and vcpkg would make, from the recipe and the port themselves (neither
# client can reach its registry here): the same files as cmake --install.
set(full_prefix ${prefix})
find_program(PYTHON python3 REQUIRED)
run(${PYTHON} ${SOURCE_DIR}/tests/package/conan_layout.py ${SOURCE_DIR} ${WORK_DIR}/conan ${full_prefix})
message(STATUS "${last_output}")

# vcpkg: the port's portfile.cmake, with vcpkg's helpers played by plain cmake.
set(PORT persist)
set(FEATURES core sqlite postgres)
set(CURRENT_PACKAGES_DIR ${WORK_DIR}/vcpkg/packages)
function(vcpkg_cmake_configure)
  cmake_parse_arguments(arg "" "SOURCE_PATH" "OPTIONS" ${ARGN})
  run(${CMAKE_COMMAND} -S ${arg_SOURCE_PATH} -B ${WORK_DIR}/vcpkg/build ${arg_OPTIONS})
endfunction()
function(vcpkg_cmake_install)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/vcpkg/build --prefix ${CURRENT_PACKAGES_DIR})
endfunction()
function(vcpkg_cmake_config_fixup)
  cmake_parse_arguments(arg "" "CONFIG_PATH" "" ${ARGN})
  if(NOT arg_CONFIG_PATH STREQUAL "share/${PORT}" OR NOT EXISTS ${CURRENT_PACKAGES_DIR}/share/${PORT}/persistConfig.cmake)
    message(FATAL_ERROR "vcpkg_cmake_config_fixup would have to move the config from ${arg_CONFIG_PATH}")
  endif()
endfunction()
function(vcpkg_fixup_pkgconfig)
endfunction()
function(vcpkg_install_copyright)
  cmake_parse_arguments(arg "" "" "FILE_LIST" ${ARGN})
  file(COPY_FILE ${arg_FILE_LIST} ${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright)
endfunction()
include(${SOURCE_DIR}/packaging/vcpkg/persist/portfile.cmake)
file(GLOB_RECURSE installed_files RELATIVE ${full_prefix} ${full_prefix}/*)
file(GLOB_RECURSE vcpkg_files RELATIVE ${CURRENT_PACKAGES_DIR} ${CURRENT_PACKAGES_DIR}/*)
list(TRANSFORM installed_files REPLACE "^lib/cmake/persist/" "share/persist/")
list(APPEND installed_files share/persist/usage share/persist/copyright)
list(SORT installed_files)
list(SORT vcpkg_files)
if(NOT installed_files STREQUAL vcpkg_files)
  message(FATAL_ERROR "the vcpkg port's layout differs from cmake --install's:\n${vcpkg_files}\n${installed_files}")
endif()
consume(${SOURCE_DIR}/tests/package ${CURRENT_PACKAGES_DIR} ${WORK_DIR}/vcpkg/consumer consumer)
message(STATUS "vcpkg port layout matches cmake --install's, and a consumer builds against it")

# find_package(persist COMPONENTS <component>) against `prefix` must fail saying `expected`.
function(refused component prefix expected)
  set(dir ${WORK_DIR}/refused-${component})
  file(WRITE ${dir}/CMakeLists.txt "cmake_minimum_required(VERSION 3.21)\nproject(refused LANGUAGES CXX)\n"
                                   "find_package(persist CONFIG REQUIRED COMPONENTS ${component})\n")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${dir} -B ${dir}/build -DCMAKE_PREFIX_PATH=${prefix}
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result EQUAL 0 OR NOT output MATCHES "${expected}")
    message(FATAL_ERROR "component ${component} was not refused with \"${expected}\":\n${output}")
  endif()
endfunction()

# A component that does not exist is refused by find_package.
refused(postgresql ${prefix} "persist has no component 'postgresql'")

# As if SQLiteCpp were not installed: persist::postgres alone.
install_persist(postgres_only -DCMAKE_DISABLE_FIND_PACKAGE_SQLiteCpp=ON)
if(EXISTS ${prefix}/lib/cmake/persist/persistSqliteTargets.cmake OR EXISTS ${prefix}/share/pkgconfig/persist-sqlite.pc)
  message(FATAL_ERROR "an install without SQLiteCpp still holds the sqlite backend")
endif()
consume(${SOURCE_DIR}/tests/package/postgres_only ${prefix} ${WORK_DIR}/postgres_only/consumer consumer_postgres)
refused(sqlite ${prefix} "persist was installed without its sqlite backend")
message(STATUS "installed package consumed with find_package and pkg-config; postgres-only install works")
