// Compiles and links the PostgreSQL component from an installed persist; prints a lock key
// (no server needed).
#include <persist/postgres.hpp>

#include <cstdio>

int main() {
    std::printf("%lld\n", static_cast<long long>(persist::postgres::AdvisoryLock::key("migrate")));
    return 0;
}
