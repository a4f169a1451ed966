// Config: defaults, environment overrides and their errors, default paths.
#include "support.hpp"

#include <ostream> // doctest prints std::error_code through it
#include <doctest/doctest.h>
#include <persist/config.hpp>

using namespace persist;
using namespace std::chrono_literals;

namespace {
// Clears every variable from_env("TESTAPP") reads, for the duration of a test.
struct CleanEnv {
    test::EnvVar path{"TESTAPP_DB_PATH", std::nullopt}, dir{"TESTAPP_DB_DIR", std::nullopt},
        timeout{"TESTAPP_BUSY_TIMEOUT_MS", std::nullopt}, durability{"TESTAPP_DURABILITY", std::nullopt},
        cache{"TESTAPP_CACHE_SIZE_KIB", std::nullopt}, url{"TESTAPP_DB_URL", std::nullopt},
        migrations{"TESTAPP_MIGRATIONS_DIR", std::nullopt};
};

std::string config_error_message(const std::function<void()>& body) {
    try {
        body();
    } catch (const config_error& e) {
        CHECK(e.code() == errc::config);
        return e.what();
    }
    FAIL("no config_error");
    return {};
}
} // namespace

TEST_CASE("defaults are the documented ones") {
    const Config config;
    CHECK(config.busy_timeout == 30s);
    CHECK(config.durability == Durability::normal);
    CHECK(config.cache_size_kib == 8192);
    CHECK(config.statement_cache_capacity == 64);
    CHECK(config.reader_connections == 4);
}

TEST_CASE("default path follows XDG_DATA_HOME, then HOME") {
    SUBCASE("XDG_DATA_HOME when absolute") {
        test::EnvVar xdg("XDG_DATA_HOME", "/srv/data");
        CHECK(Config::for_app("minimcp").path() == "/srv/data/minimcp/minimcp.db");
    }
    SUBCASE("HOME when XDG_DATA_HOME is unset") {
        test::EnvVar xdg("XDG_DATA_HOME", std::nullopt);
        test::EnvVar home("HOME", "/home/ada");
        CHECK(Config::for_app("minimcp").path() == "/home/ada/.local/share/minimcp/minimcp.db");
    }
    SUBCASE("a relative XDG_DATA_HOME is ignored, as the XDG spec requires") {
        test::EnvVar xdg("XDG_DATA_HOME", "relative/dir");
        test::EnvVar home("HOME", "/home/ada");
        CHECK(Config::for_app("x").path() == "/home/ada/.local/share/x/x.db");
    }
    SUBCASE("the password database when HOME is unset") {
        test::EnvVar xdg("XDG_DATA_HOME", std::nullopt);
        test::EnvVar home("HOME", std::nullopt);
        const std::string path = Config::for_app("x").path();
        CHECK(path.ends_with("/.local/share/x/x.db"));
        CHECK(path.front() == '/');
    }
    SUBCASE("db_path wins") {
        Config config = Config::for_app("x");
        config.db_path = "/tmp/explicit.db";
        CHECK(config.path() == "/tmp/explicit.db");
    }
}

TEST_CASE("from_env reads every documented variable") {
    CleanEnv clean;
    test::EnvVar xdg("XDG_DATA_HOME", "/data");
    SUBCASE("nothing set: defaults, app named after the prefix") {
        const auto config = Config::from_env("TESTAPP");
        CHECK(config.app_name == "testapp");
        CHECK(config.path() == "/data/testapp/testapp.db");
    }
    SUBCASE("app name from the defaults is kept") {
        CHECK(Config::from_env("TESTAPP", Config::for_app("gateway")).path() == "/data/gateway/gateway.db");
    }
    SUBCASE("DB_PATH, including :memory:") {
        test::EnvVar path("TESTAPP_DB_PATH", ":memory:");
        CHECK(Config::from_env("TESTAPP").path() == ":memory:");
    }
    SUBCASE("DB_DIR places <app>.db in it") {
        test::EnvVar dir("TESTAPP_DB_DIR", "/var/lib/testapp");
        CHECK(Config::from_env("TESTAPP").path() == "/var/lib/testapp/testapp.db");
    }
    SUBCASE("DB_PATH wins over DB_DIR") {
        test::EnvVar dir("TESTAPP_DB_DIR", "/var/lib/testapp");
        test::EnvVar path("TESTAPP_DB_PATH", "/elsewhere/x.db");
        CHECK(Config::from_env("TESTAPP").path() == "/elsewhere/x.db");
    }
    SUBCASE("relative paths are made absolute, so every process opens the same file; the variable is the source") {
        const auto here = std::filesystem::current_path().string();
        test::EnvVar path("TESTAPP_DB_PATH", "data/../state/app.db");
        test::EnvVar migrations("TESTAPP_MIGRATIONS_DIR", "sql");
        const auto config = Config::from_env("TESTAPP");
        CHECK(config.path() == here + "/state/app.db");
        CHECK(config.db_path_source == "TESTAPP_DB_PATH");
        CHECK(config.path_setting() == "TESTAPP_DB_PATH");
        CHECK(config.migrations_dir == here + "/sql");
        test::EnvVar dir("TESTAPP_DB_DIR", "var");
        test::EnvVar no_path("TESTAPP_DB_PATH", std::nullopt);
        CHECK(Config::from_env("TESTAPP").path() == here + "/var/testapp.db");
        CHECK(Config::from_env("TESTAPP").path_setting() == "TESTAPP_DB_DIR");
        CHECK(Config{}.path_setting() == "Config::db_path");
    }
    SUBCASE("busy timeout, durability, cache size") {
        test::EnvVar timeout("TESTAPP_BUSY_TIMEOUT_MS", "2500");
        test::EnvVar durability("TESTAPP_DURABILITY", "full");
        test::EnvVar cache("TESTAPP_CACHE_SIZE_KIB", "1024");
        const auto config = Config::from_env("TESTAPP");
        CHECK(config.busy_timeout == 2500ms);
        CHECK(config.durability == Durability::full);
        CHECK(config.cache_size_kib == 1024);
    }
    SUBCASE("PostgreSQL connection string") {
        test::EnvVar url("TESTAPP_DB_URL", "postgresql://app@db.internal/app");
        CHECK(Config::from_env("TESTAPP").db_url == "postgresql://app@db.internal/app");
        CHECK(Config::from_env("TESTAPP").db_path.empty());
    }
    SUBCASE("durability off and normal") {
        test::EnvVar durability("TESTAPP_DURABILITY", "off");
        CHECK(Config::from_env("TESTAPP").durability == Durability::off);
        test::EnvVar normal("TESTAPP_DURABILITY", "normal");
        CHECK(Config::from_env("TESTAPP").durability == Durability::normal);
    }
}

TEST_CASE("from_env rejects bad values with the variable, the value and what is allowed") {
    CleanEnv clean;
    SUBCASE("busy timeout not a number") {
        test::EnvVar timeout("TESTAPP_BUSY_TIMEOUT_MS", "30s");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_BUSY_TIMEOUT_MS=\"30s\" is not a whole number between 0 and 86400000");
    }
    SUBCASE("busy timeout negative") {
        test::EnvVar timeout("TESTAPP_BUSY_TIMEOUT_MS", "-5");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_BUSY_TIMEOUT_MS=\"-5\" is not a whole number between 0 and 86400000");
    }
    SUBCASE("busy timeout beyond 64 bits (was undefined behaviour)") {
        test::EnvVar timeout("TESTAPP_BUSY_TIMEOUT_MS", "99999999999999999999");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_BUSY_TIMEOUT_MS=\"99999999999999999999\" is not a whole number between 0 and 86400000");
    }
    SUBCASE("busy timeout with a plus sign or spaces") {
        for (const char* text : {"+5", " 5", "5 "}) {
            test::EnvVar timeout("TESTAPP_BUSY_TIMEOUT_MS", text);
            CHECK_THROWS_AS(Config::from_env("TESTAPP"), config_error);
        }
    }
    SUBCASE("cache size too small") {
        test::EnvVar cache("TESTAPP_CACHE_SIZE_KIB", "1");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_CACHE_SIZE_KIB=\"1\" is not a whole number between 16 and 16777216");
    }
    SUBCASE("unknown durability") {
        test::EnvVar durability("TESTAPP_DURABILITY", "paranoid");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_DURABILITY=\"paranoid\" is not a durability level; use off, normal or full");
    }
    SUBCASE("empty DB_PATH") {
        test::EnvVar path("TESTAPP_DB_PATH", "");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_DB_PATH is set but empty; unset it or give a file path or :memory:");
    }
    SUBCASE("empty DB_URL") {
        test::EnvVar url("TESTAPP_DB_URL", "");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_DB_URL is set but empty; unset it or give a PostgreSQL connection string");
    }
    SUBCASE("empty DB_DIR") {
        test::EnvVar dir("TESTAPP_DB_DIR", "");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_DB_DIR is set but empty; unset it or give a directory");
    }
    SUBCASE("a path starting with ~, which no shell expanded") {
        test::EnvVar home("HOME", "/home/ada");
        test::EnvVar path("TESTAPP_DB_PATH", "~/data/app.db");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_DB_PATH=\"~/data/app.db\" starts with ~, which only a shell expands: persist would make a "
              "directory named ~ in the current one. Write the full path, e.g. /home/ada/data/app.db");
        test::EnvVar unset_path("TESTAPP_DB_PATH", std::nullopt);
        test::EnvVar dir("TESTAPP_DB_DIR", "~bob/data");
        CHECK(config_error_message([] { Config::from_env("TESTAPP"); }) ==
              "TESTAPP_DB_DIR=\"~bob/data\" starts with ~, which only a shell expands: persist would make a directory "
              "named ~ in the current one. Write the full path");
        test::EnvVar unset_dir("TESTAPP_DB_DIR", std::nullopt);
        test::EnvVar migrations("TESTAPP_MIGRATIONS_DIR", "~/migrations");
        CHECK_THROWS_AS(Config::from_env("TESTAPP"), config_error);
    }
    SUBCASE("bad prefix") {
        CHECK(config_error_message([] { Config::from_env("my-app"); }) ==
              "Config::from_env: prefix \"my-app\" must use only A-Z, 0-9 and '_', e.g. \"MYAPP\"");
        CHECK(config_error_message([] { Config::from_env(""); }) ==
              "Config::from_env: the prefix is empty; pass your application's variable prefix, e.g. "
              "from_env(\"MYAPP\")");
    }
    SUBCASE("bad app name") {
        CHECK(config_error_message([] { Config::for_app("../etc"); }) ==
              "app name \"../etc\" is not usable as a directory name; use letters, digits, '-', '_' "
              "and '.', e.g. \"my-app\"");
        CHECK_THROWS_AS(Config::for_app(""), config_error);
    }
}

TEST_CASE("no home directory at all is a config_error") {
    test::EnvVar xdg("XDG_DATA_HOME", std::nullopt);
    test::EnvVar home("HOME", std::nullopt);
    // uid 65534 has a passwd entry on Debian (home /nonexistent), so simulate a missing one
    // by checking the message shape through a uid without an entry, when we can switch to it.
    const auto result = test::run_in_child([] {
        if (::geteuid() == 0 && ::setuid(54321) != 0) throw std::runtime_error("setuid failed");
        (void)Config::default_path("x");
    }, false);
    if (::geteuid() == 0) {
        CHECK(result == "config_error: cannot find a home directory for the default database path "
                        "(HOME is unset and uid 54321 has no passwd entry); set db_path or XDG_DATA_HOME");
    } else {
        MESSAGE("not root: cannot switch to a uid without a passwd entry; got " << result);
    }
}
