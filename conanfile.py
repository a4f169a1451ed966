# Conan 2 recipe for persist (header-only): `conan create .` from a checkout. The package is
# what `cmake --install` makes (headers, LICENSE, pkg-config files, persistEmbedMigrations),
# minus persist's own CMake package files: Conan's CMakeDeps generates those for consumers,
# with the same targets (persist::persist, persist::sqlite, persist::postgres).
import os

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, rm, rmdir


class PersistConan(ConanFile):
    name = "persist"
    version = "0.1.0"
    license = "MIT"
    description = ("Header-only C++20 persistence framework: SQLite and PostgreSQL stores, checksummed "
                   "migrations, process locks, online backup and verify")
    topics = ("sqlite", "postgresql", "migrations", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"with_sqlite": [True, False], "with_postgres": [True, False]}
    default_options = {"with_sqlite": True, "with_postgres": False}
    exports_sources = "CMakeLists.txt", "LICENSE", "cmake/*", "include/*"
    no_copy_source = True

    def requirements(self):
        # Both backends write JSON backup manifests and hash backups with OpenSSL.
        self.requires("nlohmann_json/3.11.2")
        self.requires("openssl/3.0.13")
        if self.options.with_sqlite:
            self.requires("sqlitecpp/3.3.1")
        if self.options.with_postgres:
            self.requires("libpq/15.4")

    def validate(self):
        check_min_cppstd(self, 20)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        toolchain.cache_variables["PERSIST_BUILD_TESTS"] = False
        toolchain.cache_variables["PERSIST_BUILD_EXAMPLES"] = False
        toolchain.cache_variables["PERSIST_BUILD_TOOLS"] = False
        # A backend whose option is off is left out, as on a machine without its dependency.
        toolchain.cache_variables["CMAKE_DISABLE_FIND_PACKAGE_SQLiteCpp"] = not self.options.with_sqlite
        toolchain.cache_variables["CMAKE_DISABLE_FIND_PACKAGE_PostgreSQL"] = not self.options.with_postgres
        toolchain.generate()
        CMakeDeps(self).generate()

    def package(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.install()
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        # CMakeDeps writes the consumer's config files; keep the migrations module only.
        for name in ("persistConfig.cmake", "persistConfigVersion.cmake"):
            rm(self, name, os.path.join(self.package_folder, "lib", "cmake", "persist"))
        rm(self, "persist*Targets*.cmake", os.path.join(self.package_folder, "lib", "cmake", "persist"))

    def package_id(self):
        self.info.clear()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "persist")
        self.cpp_info.set_property("cmake_build_modules", ["lib/cmake/persist/persistEmbedMigrations.cmake"])
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self._component("headers", "persist::persist", "persist", [])
        if self.options.with_sqlite:
            self._component("sqlite", "persist::sqlite", "persist-sqlite",
                            ["headers", "sqlitecpp::sqlitecpp", "nlohmann_json::nlohmann_json", "openssl::crypto"],
                            ["pthread"])
        if self.options.with_postgres:
            self._component("postgres", "persist::postgres", "persist-postgres",
                            ["headers", "libpq::libpq", "nlohmann_json::nlohmann_json", "openssl::crypto"], ["pthread"])

    # One header-only component: its CMake target, pkg-config module and what it needs.
    def _component(self, name, target, module, requires, system_libs=()):
        component = self.cpp_info.components[name]
        component.set_property("cmake_target_name", target)
        component.set_property("pkg_config_name", module)
        component.requires = list(requires)
        component.system_libs = list(system_libs)
        component.bindirs = []
        component.libdirs = []
