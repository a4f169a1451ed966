// persist/version.hpp: the library version, recorded in migration history rows.
#pragma once

#define PERSIST_VERSION_MAJOR 0
#define PERSIST_VERSION_MINOR 1
#define PERSIST_VERSION_PATCH 0
#define PERSIST_VERSION_STRING "0.1.0"
