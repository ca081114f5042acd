"""``python -m bench``: run every benchmark in turn."""

from __future__ import annotations

import runpy
import sys

BENCHMARKS = (
    "bench.api_latency",
    "bench.scheduler_latency",
    "bench.producer_lateness",
    "bench.trigger_latency",
    "bench.cluster_throughput",
    "bench.trace_store",
)

if __name__ == "__main__":
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        sys.argv = [module]
        runpy.run_module(module, run_name="__main__")
