// Compile cost of the PostgreSQL umbrella header, nothing used.
#include <persist/postgres.hpp>

int main() { return 0; }
