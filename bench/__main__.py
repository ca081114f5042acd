"""``python -m bench``: run every benchmark in turn, then the scheduling benchmarks again with
tracing off and on side by side (SQLite trace store; fewer rounds and triggers than their
defaults, each way, to keep the run short)."""

from __future__ import annotations

import runpy
import sys

#: Each benchmark module with its arguments (none: its defaults, the figures compared over time).
BENCHMARKS: tuple[tuple[str, ...], ...] = (
    ("bench.api_latency",),
    ("bench.scheduler_latency",),
    ("bench.producer_lateness",),
    ("bench.trigger_latency",),
    ("bench.cluster_throughput",),
    ("bench.trace_store",),
    ("bench.scheduler_latency", "--compare-trace", "--rounds", "3"),
    ("bench.trigger_latency", "--compare-trace", "--triggers", "50"),
)

if __name__ == "__main__":
    for module, *arguments in BENCHMARKS:
        print(f"== {' '.join([module, *arguments])}", flush=True)
        sys.argv = [module, *arguments]
        runpy.run_module(module, run_name="__main__")
