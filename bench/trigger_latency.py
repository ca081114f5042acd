"""Trigger → shard process started, on the whole system (REST through Envoy, the scheduler, the
embedded cluster, the executor), against the same script started directly by fork/exec.

For each of ``--triggers`` sequential triggers of a one-shard job, the latency is the time from
sending ``POST /api/job/trigger`` to the shard script's first line (it records its own start
time). The baseline, in the same run, is the time from ``subprocess.Popen`` to that same first
line for the same script run directly: the floor of starting a process on this machine.

    python -m bench.trigger_latency [--triggers 100]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from testkit.e2e import RUN_SCRIPT, running_system
from testkit.harness import zookeeper_server
from testkit.polling import eventually


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe(name: str, samples: list[float]) -> str:
    return (
        f"{name:<28} n={len(samples)} p50={statistics.median(samples) * 1000:7.1f} ms "
        f"p99={percentile(samples, 0.99) * 1000:7.1f} ms max={max(samples) * 1000:7.1f} ms"
    )


def started_at(log: Path, count: int) -> float | None:
    if not log.exists():
        return None
    starts = [line.split() for line in log.read_text().splitlines() if line.startswith("start ")]
    return float(starts[count - 1][6]) if len(starts) >= count else None


def direct_baseline(work: Path, runs: int) -> list[float]:
    results = work / "direct"
    results.mkdir()
    script = work / "run.sh"
    script.write_text(RUN_SCRIPT.replace("@RESULTS@", str(results)))
    script.chmod(0o755)
    env = {
        **os.environ,
        "ELASTICJOB_JOB_NAME": "direct",
        "ELASTICJOB_SHARDING_ITEM": "0",
        "ELASTICJOB_SHARDING_PARAMETER": "",
        "ELASTICJOB_JOB_PARAMETER": "",
        "ELASTICJOB_TASK_ID": "direct@-@0",
    }
    samples = []
    for count in range(1, runs + 1):
        sent = time.time()
        subprocess.run([str(script), "{}"], env=env, check=True)
        first_line = started_at(results / "direct.log", count)
        assert first_line is not None
        samples.append(first_line - sent)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--triggers", type=int, default=100)
    args = parser.parse_args()
    for name in ("httpx", "kazoo", "server"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        samples: list[float] = []
        with (
            zookeeper_server(work / "zk") as zk,
            running_system(zk.connect_string, work / "system") as system,
        ):
            app = system.publish_app()
            job = system.register_job(app)
            log = system.results / f"{job}.log"
            for count in range(1, args.triggers + 2):
                sent = time.time()
                system.trigger(job)
                start = eventually(lambda c=count: started_at(log, c), timeout=30, interval=0.002)
                if count > 1:  # the first launch also starts the executor: reported apart
                    samples.append(start - sent)
                else:
                    first = start - sent
                eventually(lambda: not system.running_nodes(job), timeout=30, interval=0.002)
        baseline = direct_baseline(work, args.triggers)
    print(f"trigger → shard process started ({args.triggers} sequential triggers, executor running):")
    print(describe("REST trigger → script start", samples))
    print(describe("direct fork/exec → start", baseline))
    print(f"first trigger (executor started too): {first * 1000:.1f} ms")
    print(
        "ratio of medians (whole system / direct start): "
        f"{statistics.median(samples) / statistics.median(baseline):.1f}; "
        f"p99 ratio {percentile(samples, 0.99) / percentile(baseline, 0.99):.1f}"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
