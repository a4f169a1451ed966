# The backend boundary (issue 18): generic headers include no backend, and the PostgreSQL
# umbrella header pulls in nothing of SQLite. Lists each header's dependencies with -M.
# Usage: cmake -DCXX=... -DINCLUDE=<persist include dir> -DPQ_INCLUDE=<libpq include dir> -P include_boundaries.cmake
set(problems "")
function(check header forbidden)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/boundary.cpp "#include <${header}>\n")
  execute_process(COMMAND ${CXX} -std=c++20 -M -I${INCLUDE} -I${PQ_INCLUDE} ${CMAKE_CURRENT_BINARY_DIR}/boundary.cpp
    RESULT_VARIABLE result OUTPUT_VARIABLE deps ERROR_VARIABLE errors)
  if(NOT result EQUAL 0)
    set(problems "${problems}\n${header} does not compile on its own:\n${errors}" PARENT_SCOPE)
    return()
  endif()
  string(REGEX MATCHALL "[^ \\\n]*(${forbidden})[^ \\\n]*" found "${deps}")
  if(found)
    list(REMOVE_DUPLICATES found)
    set(problems "${problems}\n${header} includes ${found}" PARENT_SCOPE)
  endif()
endfunction()

set(any_backend "persist/sqlite/|persist/postgres/|sqlite3\\.h|SQLiteCpp|libpq")
file(GLOB generic RELATIVE ${INCLUDE} ${INCLUDE}/persist/migrate/*.hpp ${INCLUDE}/persist/schema/*.hpp
  ${INCLUDE}/persist/lock/*.hpp)
list(APPEND generic persist/store.hpp persist/backend.hpp persist/transaction.hpp persist/migrate.hpp persist/schema.hpp)
list(REMOVE_ITEM generic persist/lock/boost_file_lock.hpp persist/schema/uuid.hpp) # Boost, not a backend: still checked below
foreach(header IN LISTS generic)
  check(${header} "${any_backend}")
endforeach()
check(persist/lock/boost_file_lock.hpp "${any_backend}")
check(persist/schema/uuid.hpp "${any_backend}")
check(persist/postgres.hpp "persist/sqlite/|sqlite3\\.h|SQLiteCpp")
if(problems)
  message(FATAL_ERROR "the backend boundary is crossed:${problems}")
endif()
message(STATUS "no generic header includes a backend; <persist/postgres.hpp> includes nothing of SQLite")
