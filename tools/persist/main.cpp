// persist: the command-line tool (tools/persist/cli.hpp).
#include "cli.hpp"

int main(int argc, char** argv) { return persist_cli::run_cli(argc, argv); }
