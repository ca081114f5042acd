"""Trigger → shard process started, on the whole system (REST through Envoy, the scheduler, the
embedded cluster, the executor), against the same script started directly by fork/exec.

For each of ``--triggers`` sequential triggers of a one-shard job, the latency is the time from
sending ``POST /api/job/trigger`` to the shard script's first line (it records its own start
time). The baseline, in the same run, is the time from ``subprocess.Popen`` to that same first
line for the same script run directly: the floor of starting a process on this machine.

Tracing: ``--trace sqlite`` or ``--trace postgresql`` runs the server with
``ELASTICJOB_EVENT_TRACE_RDB_URL`` naming a fresh trace database (SQLite in the run's temporary
directory; a throwaway PostgreSQL from the test kit), so the scheduler traces every launch, status
update and executor report through its buffered sink, and the statistics aggregator runs.
``--compare-trace`` measures tracing off and on in the same run on the same system: the server
runs with a trace store and the scheduler core's sink is switched between that sink and none, in
blocks of ``--block`` triggers alternated off, on, on, off, ... (``--triggers`` each way), the
sink flushed after every block outside the measured triggers. In the off blocks the store and the
aggregator still exist (idle but for the aggregator's periodic pass); only the scheduler's tracing
is off. It prints each percentile off and on with the ratio on / off, and the sink's written and
dropped counts (``--trace`` picks the store, SQLite by default).

    python -m bench.trigger_latency [--triggers 100] [--trace {none,sqlite,postgresql}]
        [--compare-trace] [--block 10]
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

from bench.scheduler_latency import TRACE_BACKENDS, alternated, trace_url
from server.domain.trace import NoTrace
from server.trace.sink import BufferedTraceSink
from testkit.e2e import RUN_SCRIPT, System, running_system
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


class Triggers:
    """Sequential triggers of one job, each timed from the request to the script's first line."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.job = system.register_job(system.publish_app())
        self.log = system.results / f"{self.job}.log"
        self.count = 0

    def one(self) -> float:
        """Trigger, wait for the shard's start and for its end; the seconds to the start."""
        self.count += 1
        sent = time.time()
        self.system.trigger(self.job)
        start = eventually(lambda c=self.count: started_at(self.log, c), timeout=30, interval=0.002)
        eventually(lambda: not self.system.running_nodes(self.job), timeout=30, interval=0.002)
        return start - sent


def flushed(sink: BufferedTraceSink) -> int:
    """Wait until the sink has written what it holds; its written count then."""
    if not sink.flush(30):
        raise RuntimeError("the trace sink did not write its buffer in 30 s")
    return sink.written


def trace_summary(backend: str, sink: BufferedTraceSink, traced_blocks: list[int]) -> str:
    """The sink's counts; raises when a traced block wrote nothing (the comparison would be void)."""
    stats = sink.stats()
    if stats.written == 0 or 0 in traced_blocks:
        raise RuntimeError("the trace sink wrote nothing while traced: tracing was not exercised")
    per_block = f" (median {statistics.median(traced_blocks):.0f} per traced block)" if traced_blocks else ""
    line = (
        f"trace ({backend}, the server's BufferedTraceSink): {stats.written} events written{per_block}, "
        f"{stats.dropped} dropped, {stats.pending} pending"
    )
    return line + (f"\nWARNING: the sink dropped {stats.dropped} events" if stats.dropped else "")


def compare(system: System, args: argparse.Namespace) -> tuple[float, list[float], list[float], list[int]]:
    """The first trigger's latency, then the off and on samples and the events written per traced
    block (see the module docstring)."""
    assert system.server.tracing is not None
    sink = system.server.tracing.sink
    core = system.scheduler.core
    assert core is not None
    triggers = Triggers(system)
    first = triggers.one()
    off: list[float] = []
    on: list[float] = []
    traced_blocks: list[int] = []
    written = flushed(sink)
    blocks = -(-args.triggers // args.block) * 2
    for block in range(blocks):
        traced = alternated(block)
        samples = on if traced else off
        core.tracing.sink = sink if traced else NoTrace()
        for _ in range(min(args.block, args.triggers - len(samples))):
            samples.append(triggers.one())
        now_written = flushed(sink)
        if traced:
            traced_blocks.append(now_written - written)
        written = now_written
    core.tracing.sink = sink
    return first, off, on, traced_blocks


def ratios(off: list[float], on: list[float]) -> list[str]:
    lines = [f"{'':<6} {'off ms':>8} {'on ms':>8} {'on/off':>7}"]
    rows = [("p50", statistics.median(off), statistics.median(on))]
    for name, fraction in (("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        rows.append((name, percentile(off, fraction), percentile(on, fraction)))
    for name, off_value, on_value in rows:
        lines.append(f"{name:<6} {off_value * 1000:8.1f} {on_value * 1000:8.1f} {on_value / off_value:7.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--triggers", type=int, default=100, help="measured triggers (each way with --compare-trace)"
    )
    parser.add_argument(
        "--trace",
        choices=TRACE_BACKENDS,
        default="none",
        help="run the server with a trace store of this kind (default: none)",
    )
    parser.add_argument(
        "--compare-trace",
        action="store_true",
        help="--triggers triggers with tracing off and as many on, in alternated blocks (store: --trace, default sqlite)",
    )
    parser.add_argument("--block", type=int, default=10, help="triggers per block with --compare-trace")
    args = parser.parse_args()
    if args.triggers < 1 or args.block < 1:
        parser.error("--triggers and --block must be at least 1")
    backend = "sqlite" if args.compare_trace and args.trace == "none" else args.trace
    for name in ("httpx", "kazoo", "server"):
        logging.getLogger(name).setLevel(logging.WARNING)
    trace_line = ""
    with tempfile.TemporaryDirectory() as tmp, trace_url(backend) as url:
        work = Path(tmp)
        settings = {"event_trace_rdb_url": url} if url is not None else None
        with (
            zookeeper_server(work / "zk") as zk,
            running_system(zk.connect_string, work / "system", settings=settings) as system,
        ):
            if args.compare_trace:
                first, off, on, traced_blocks = compare(system, args)
            else:
                triggers = Triggers(system)
                first = triggers.one()  # the first launch also starts the executor: reported apart
                samples = [triggers.one() for _ in range(args.triggers)]
                traced_blocks: list[int] = []
            if system.server.tracing is not None:
                sink = system.server.tracing.sink
                flushed(sink)
                trace_line = trace_summary(backend, sink, traced_blocks)
        baseline = direct_baseline(work, args.triggers)
    if args.compare_trace:
        print(
            f"trigger → shard process started, tracing off vs on ({backend}): {args.triggers} sequential "
            f"triggers each way in alternated blocks of {args.block}, executor running:"
        )
        print(describe("tracing off: trigger → start", off))
        print(describe("tracing on: trigger → start", on))
        print(describe("direct fork/exec → start", baseline))
        print("\n".join(ratios(off, on)))
    else:
        print(f"trigger → shard process started ({args.triggers} sequential triggers, executor running):")
        print(describe("REST trigger → script start", samples))
        print(describe("direct fork/exec → start", baseline))
    print(f"first trigger (executor started too): {first * 1000:.1f} ms")
    if args.compare_trace:
        print(
            "ratio of medians (whole system / direct start): "
            f"off {statistics.median(off) / statistics.median(baseline):.1f}, "
            f"on {statistics.median(on) / statistics.median(baseline):.1f}"
        )
    else:
        print(
            "ratio of medians (whole system / direct start): "
            f"{statistics.median(samples) / statistics.median(baseline):.1f}; "
            f"p99 ratio {percentile(samples, 0.99) / percentile(baseline, 0.99):.1f}"
        )
    if trace_line:
        print(trace_line)
    print(f"load average during the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
