# An overlay port for this checkout: vcpkg install persist --overlay-ports=<checkout>/packaging/vcpkg
# (a registry port would fetch a release with vcpkg_from_github instead of SOURCE_PATH below).
# Header-only: configures without tests, examples or tools and installs; a backend whose
# feature is off is left out exactly as on a machine without its dependency.
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../..")

set(options -DPERSIST_BUILD_TESTS=OFF -DPERSIST_BUILD_EXAMPLES=OFF -DPERSIST_BUILD_TOOLS=OFF
            -DPERSIST_INSTALL_CMAKEDIR=share/persist)
if(NOT "sqlite" IN_LIST FEATURES)
  list(APPEND options -DCMAKE_DISABLE_FIND_PACKAGE_SQLiteCpp=ON)
endif()
if(NOT "postgres" IN_LIST FEATURES)
  list(APPEND options -DCMAKE_DISABLE_FIND_PACKAGE_PostgreSQL=ON)
endif()

vcpkg_cmake_configure(SOURCE_PATH "${SOURCE_PATH}" OPTIONS ${options})
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/persist)
vcpkg_fixup_pkgconfig()

# Nothing is compiled: no lib/ and no debug tree.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug" "${CURRENT_PACKAGES_DIR}/lib")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
