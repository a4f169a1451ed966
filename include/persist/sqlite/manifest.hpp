// persist/sqlite/manifest.hpp: the backup manifest under its SQLite name (see
// persist/manifest.hpp, where it lives for every backend).
#pragma once

#include "persist/manifest.hpp"

namespace persist::sqlite {
using persist::Manifest;
} // namespace persist::sqlite
