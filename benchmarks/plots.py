"""The PNG plots of benchmarks/report.py: throughput ratios and writer latency percentiles."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_ratios(r, plot_dir):
    workloads = ["insert/memory", "insert/wal", "get/one_per_read", "get/batched", "scan", "commit/full",
                 "commit/normal"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.27
    for i, lib in enumerate(["sqlitecpp", "soci", "persist"]):
        values = [r.paired(f"{w}/{lib}", f"{w}/raw_sqlite3") or 0 for w in workloads]
        ax.bar([x + (i - 1) * width for x in range(len(workloads))], values, width, label=lib)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(0.9, color="gray", linestyle="--", linewidth=0.8, label="0.9x goal")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads, rotation=20)
    ax.set_ylabel("throughput / raw sqlite3")
    ax.set_title("Throughput relative to the raw sqlite3 C API (same run)")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(plot_dir, "throughput_ratios.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_latency(curves, modes, plot_dir):
    fig, axes = plt.subplots(1, len(modes), figsize=(13, 4), sharey=True)
    points = [("p50_us", 50), ("p90_us", 90), ("p99_us", 99), ("p999_us", 99.9), ("max_us", 100)]
    for ax, (mode, label) in zip(axes, modes):
        for n in (1, 2, 4, 8, 64):
            q = curves.get((mode, n), {})
            xs = [i for i, (k, _) in enumerate(points) if q.get(k) is not None]
            ys = [q[points[i][0]] / 1e3 for i in xs]
            ax.plot(xs, ys, marker="o", label=f"{n} writers")
        ax.set_yscale("log")
        ax.set_xticks(range(len(points)))
        ax.set_xticklabels([f"p{p}" if p < 100 else "max" for _, p in points])
        ax.set_title(label)
        ax.axhline(10, color="gray", linestyle="--", linewidth=0.8)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("transaction latency (ms, log)")
    axes[0].legend()
    fig.suptitle("Single-row write transactions from several processes: latency percentiles")
    fig.tight_layout()
    path = os.path.join(plot_dir, "writers_latency.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
