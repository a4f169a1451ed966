"""Runs conanfile.py's generate(), package() and package_info() with a stand-in for the
`conan` module (Conan cannot reach its registry here), then checks that the package holds
what `cmake --install` installs, less the CMake package files that Conan's CMakeDeps
generates instead, and that the components name the targets and pkg-config modules persist
installs. Usage: python3 conan_layout.py SOURCE_DIR WORK_DIR INSTALLED_PREFIX"""
import fnmatch
import importlib.util
import os
import shutil
import subprocess
import sys
import types

source, work, installed = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)


class Component:
    def __init__(self):
        self.properties, self.requires, self.system_libs = {}, [], []
        self.bindirs, self.libdirs = ["bin"], ["lib"]

    def set_property(self, name, value):
        self.properties[name] = value


class Components(dict):
    def __missing__(self, name):
        self[name] = Component()
        return self[name]


class CppInfo(Component):
    def __init__(self):
        super().__init__()
        self.components = Components()


class ConanFile:
    def __init__(self):
        self.cpp_info = CppInfo()


class Options(types.SimpleNamespace):
    pass


def stub_modules(recipe_state):
    conan = types.ModuleType("conan")
    conan.ConanFile = ConanFile
    tools = types.ModuleType("conan.tools")
    build = types.ModuleType("conan.tools.build")
    build.check_min_cppstd = lambda self, version: None
    cmake = types.ModuleType("conan.tools.cmake")

    class CMakeToolchain:
        def __init__(self, recipe):
            self.recipe, self.cache_variables = recipe, {}

        def generate(self):
            recipe_state["cache"] = dict(self.cache_variables)

    class CMakeDeps:
        def __init__(self, recipe):
            pass

        def generate(self):
            pass

    class CMake:
        def __init__(self, recipe):
            self.recipe = recipe
            self.build = os.path.join(work, "build")

        def configure(self):
            flags = ["-D%s=%s" % (k, "ON" if v is True else "OFF" if v is False else v)
                     for k, v in recipe_state["cache"].items()]
            subprocess.run(["cmake", "-S", self.recipe.source_folder, "-B", self.build] + flags, check=True,
                           stdout=subprocess.DEVNULL)

        def install(self):
            subprocess.run(["cmake", "--install", self.build, "--prefix", self.recipe.package_folder], check=True,
                           stdout=subprocess.DEVNULL)

    cmake.CMake, cmake.CMakeDeps, cmake.CMakeToolchain = CMake, CMakeDeps, CMakeToolchain
    cmake.cmake_layout = lambda self: None
    files = types.ModuleType("conan.tools.files")

    def copy(self, pattern, src, dst):
        for name in fnmatch.filter(os.listdir(src), pattern):
            os.makedirs(dst, exist_ok=True)
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))

    def rm(self, pattern, folder):
        for name in fnmatch.filter(os.listdir(folder), pattern):
            os.remove(os.path.join(folder, name))

    files.copy, files.rm = copy, rm
    files.rmdir = lambda self, folder: shutil.rmtree(folder, ignore_errors=True)
    for name, module in {"conan": conan, "conan.tools": tools, "conan.tools.build": build,
                         "conan.tools.cmake": cmake, "conan.tools.files": files}.items():
        sys.modules[name] = module


state = {}
stub_modules(state)
spec = importlib.util.spec_from_file_location("recipe", os.path.join(source, "conanfile.py"))
recipe_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe_module)
recipe = recipe_module.PersistConan()
recipe.options = Options(with_sqlite=True, with_postgres=True)
recipe.source_folder = source
recipe.package_folder = os.path.join(work, "package")
recipe.generate()
recipe.package()
recipe.package_info()


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


expected = [f for f in files_under(installed)
            if not fnmatch.fnmatch(f, "lib/cmake/persist/persist*Targets*.cmake")
            and f not in ("lib/cmake/persist/persistConfig.cmake", "lib/cmake/persist/persistConfigVersion.cmake")]
expected = sorted(expected + ["licenses/LICENSE"])
packaged = files_under(recipe.package_folder)
if packaged != expected:
    sys.exit("the Conan package differs from cmake --install:\n only in the package: %s\n only installed: %s" % (
        sorted(set(packaged) - set(expected)), sorted(set(expected) - set(packaged))))

components = recipe.cpp_info.components
targets = {name: c.properties.get("cmake_target_name") for name, c in components.items()}
if targets != {"headers": "persist::persist", "sqlite": "persist::sqlite", "postgres": "persist::postgres"}:
    sys.exit("unexpected component targets: %s" % targets)
for name, component in components.items():
    module = component.properties["pkg_config_name"]
    if not os.path.exists(os.path.join(installed, "share/pkgconfig", module + ".pc")):
        sys.exit("component %s names pkg-config module %s, which persist does not install" % (name, module))
module = recipe.cpp_info.properties["cmake_build_modules"][0]
if not os.path.exists(os.path.join(recipe.package_folder, module)):
    sys.exit("the build module %s is not in the package" % module)
print("conan package layout matches cmake --install (%d files)" % len(packaged))
