// Compile cost of persist's umbrella header (everything SQLite), nothing used.
#include <persist/persist.hpp>

int main() { return 0; }
