#!/usr/bin/python3
"""Compile cost: the CPU time (user + system) g++ takes for one translation unit at -O0,
for persist's headers and examples against `#include <SQLiteCpp/SQLiteCpp.h>` in the same
run, interleaved round by round; the median of the rounds is kept.

    compile_cost.py SOURCE_DIR OUTPUT.json ROUNDS [--headers-only]

--headers-only (the smoke run) leaves out the example, which alone takes most of the time.
"""
import json
import os
import resource
import statistics
import subprocess
import sys

UNITS = [
    ("SQLiteCpp.h", "benchmarks/compile/sqlitecpp.cpp"),
    ("floor: SQLiteCpp.h + sqlite3.h + the std headers the API needs", "benchmarks/compile/floor.cpp"),
    ("persist/persist.hpp", "benchmarks/compile/umbrella.cpp"),
    ("persist/postgres.hpp", "benchmarks/compile/postgres.cpp"),
    ("examples/minimcp/main.cpp", "examples/minimcp/main.cpp"),
]


def cpu_seconds(source_dir, source):
    command = ["g++", "-std=c++20", "-O0", "-c", "-I" + os.path.join(source_dir, "include"),
               "-I/usr/include/postgresql", "-I" + os.path.join(source_dir, os.path.dirname(source)),
               os.path.join(source_dir, source), "-o", "/dev/null"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    source_dir, output, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    units = [u for u in UNITS if not (len(sys.argv) > 4 and sys.argv[4] == "--headers-only" and u[1].startswith("examples/"))]
    times = {name: [] for name, _ in units}
    for _ in range(rounds):
        for name, source in units:
            times[name].append(cpu_seconds(source_dir, source))
    result = {name: {"median_s": statistics.median(values), "runs_s": values} for name, values in times.items()}
    with open(output, "w") as f:
        json.dump(result, f, indent=1)
    for name, entry in result.items():
        print(f"{name}: {entry['median_s']:.2f} s CPU (median of {rounds})")


if __name__ == "__main__":
    main()
