# persist_embed_migrations(<target> DIRECTORY <dir> NAME <type name> [NAMESPACE <namespace>])
#
# Turns a directory of <version>_<name>.up.sql / .down.sql files into a header
# <NAME>.hpp (in the target's include path) that defines
#   namespace <NAMESPACE> { using <NAME> = persist::migrate::Embedded<...>; }
# so the binary carries its migrations, with checksums computed and versions checked by the
# compiler. The header is regenerated when a file in the directory changes (new files are
# picked up at the next configure, which CONFIGURE_DEPENDS triggers).
function(persist_embed_migrations target)
  cmake_parse_arguments(arg "" "DIRECTORY;NAME;NAMESPACE" "" ${ARGN})
  if(NOT arg_DIRECTORY OR NOT arg_NAME)
    message(FATAL_ERROR "persist_embed_migrations(${target}): DIRECTORY and NAME are required")
  endif()
  if(NOT arg_NAMESPACE)
    set(arg_NAMESPACE migrations)
  endif()
  get_filename_component(dir "${arg_DIRECTORY}" ABSOLUTE)
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*.sql")
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/persist_migrations/${target}")
  set(header "${out_dir}/${arg_NAME}.hpp")
  add_custom_command(OUTPUT "${header}"
    COMMAND ${CMAKE_COMMAND} -DDIRECTORY=${dir} -DHEADER=${header} -DNAME=${arg_NAME} -DNAMESPACE=${arg_NAMESPACE}
            -P "${_PERSIST_EMBED_SCRIPT}"
    DEPENDS ${files} "${_PERSIST_EMBED_SCRIPT}"
    COMMENT "Embedding migrations from ${dir}"
    VERBATIM)
  target_sources(${target} PRIVATE "${header}")
  target_include_directories(${target} PRIVATE "${out_dir}")
endfunction()
set(_PERSIST_EMBED_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/persistEmbedMigrationsScript.cmake")
