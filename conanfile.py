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
        if self.options.with_sqlite:
            self.requires("sqlitecpp/3.3.1")
            self.requires("nlohmann_json/3.11.2")
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
        headers = self.cpp_info.components["headers"]
        headers.set_property("cmake_target_name", "persist::persist")
        headers.set_property("pkg_config_name", "persist")
        headers.bindirs = []
        headers.libdirs = []
        if self.options.with_sqlite:
            sqlite = self.cpp_info.components["sqlite"]
            sqlite.set_property("cmake_target_name", "persist::sqlite")
            sqlite.set_property("pkg_config_name", "persist-sqlite")
            sqlite.requires = ["headers", "sqlitecpp::sqlitecpp", "nlohmann_json::nlohmann_json"]
            sqlite.system_libs = ["pthread"]
            sqlite.bindirs = []
            sqlite.libdirs = []
        if self.options.with_postgres:
            postgres = self.cpp_info.components["postgres"]
            postgres.set_property("cmake_target_name", "persist::postgres")
            postgres.set_property("pkg_config_name", "persist-postgres")
            postgres.requires = ["headers", "libpq::libpq"]
            postgres.system_libs = ["pthread"]
            postgres.bindirs = []
            postgres.libdirs = []
