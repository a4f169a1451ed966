// The persist descriptor of bench::Item's table.
#pragma once

#include "common.hpp"

#include <persist/schema.hpp>

namespace bench {
using Items = persist::schema::Table<"items", persist::schema::Column<&Item::id, "id", persist::schema::primary_key>,
                                     persist::schema::Column<&Item::name, "name">,
                                     persist::schema::Column<&Item::price, "price">,
                                     persist::schema::Column<&Item::stock, "stock">>;
} // namespace bench
