// persist/schema.hpp: compile-time table descriptors, DDL and typed operations.
#pragma once

// First, so that its compile-time checks report a short include chain.
#include "persist/detail/checks.hpp"
#include "persist/schema/column_type.hpp"
#include "persist/schema/ddl.hpp"
#include "persist/schema/initial_migration.hpp"
#include "persist/schema/operations.hpp"
#include "persist/schema/schema.hpp"
#include "persist/schema/set_update.hpp"
#include "persist/schema/table.hpp"
#include "persist/schema/verify.hpp"
