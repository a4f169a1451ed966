// Compile-cost baseline: SQLiteCpp's umbrella header, what a hand-written SQLite layer includes.
#include <SQLiteCpp/SQLiteCpp.h>

int main() { return 0; }
