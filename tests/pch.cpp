// Compiles tests/pch.hpp once for every test executable (tests/CMakeLists.txt).
