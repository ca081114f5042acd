"""Producer lateness with N cron jobs: how long after its scheduled second a fire is in the ready queue.

A real ZooKeeper (temp dir) holds one app and N TRANSIENT jobs with ``misfire`` on (so every fire
is a ZooKeeper write: the ready count grows): job i has cron ``S * * * * ?`` with S = i % 60, and
every tenth job ``0/5 * * * * ?`` (on average 0.9 N / 60 + 0.1 N / 5 fires per second, bursts at
seconds divisible by 5). A ``SchedulerCore`` with the real clock (``SystemClock``) runs
``core.run()`` without Mesos for ``--seconds``: it fires cron jobs into ``/state/ready``.

Lateness of a fire = wall time minus its scheduled time, for every fire scheduled inside the
window (one last ``tick()`` after the window processes any still held back), taken twice: when the
producer hands the fire to ``core.fires.record`` ("popped") and when that call returns, i.e. the
ready-queue transaction committed ("recorded"). Fires the core coalesced (missed while it was
held up) are counted against what the crons schedule in the window. Only the timer structure
differs between the two producers:

* heap: the core as it is (``CronTimers``, a heap of next fire times; wakes at the next deadline);
* polling (baseline, same run, same jobs, same duration): every 100 ms, every job's next fire
  after the previous poll is computed with the same cron engine and the due ones fire (the
  O(n)-per-tick design ruled out). It runs in the same core, so fires are recorded the
  same way, with the same ZooKeeper writes (or, with ``--no-writes``, neither writes).

The ready queue is emptied and the jobs reloaded before each run; fires that came due while the
core was still loading are counted apart, not in the lateness. The core re-reads the configuration
every ``--resync-seconds`` (default: the production default, 30 s), beside its steps: it reads
ZooKeeper without the core's lock and holds the lock only to apply what changed. Each resync is
timed and reported (whole, and the part holding the lock); a window longer than the interval
shows its effect on lateness.

    python -m bench.producer_lateness [--jobs 10000] [--seconds 20] [--resync-seconds 30] [--no-writes]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.scheduler_latency import (
    command_line,
    machine_load,
    milliseconds,
    percentile,
    publish_app,
    quiet_loggers,
    register_jobs,
)
from server.base.clock import SystemClock
from server.base.cron import CronExpression
from server.domain.job import JobConfig, JobExecutionType
from server.registry.zookeeper import ZooKeeper
from server.scheduler.core import SchedulerCore
from server.scheduler.registry_sync import StoredState
from server.scheduler.settings import CoreSettings
from server.scheduler.state import Touched
from server.scheduler.timers import Fire
from testkit.harness import unique_name, zookeeper_server

POLL_SECONDS = 0.100
ZONE = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Sample:
    scheduled: float  # epoch seconds
    popped: float  # handed to core.fires.record
    recorded: float  # core.fires.record returned (ready-queue transaction committed)


class ObservedCore(SchedulerCore):
    """The core, timestamping every fire it processes (and, with ``write=False``, not writing)."""

    def __init__(self, *args: Any, write: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write = write
        self.samples: list[Sample] = []
        self.resyncs: list[float] = []  # seconds each resync() took
        self.resyncs_locked: list[float] = []  # seconds of each resync() spent holding the lock
        self._record_fires = self.fires.record
        self._apply_resync = self.sync.apply
        self.fires.record = self._observed_record  # type: ignore[method-assign]
        self.sync.apply = self._observed_apply  # type: ignore[method-assign]

    async def resync(self) -> None:
        started = time.monotonic()
        await super().resync()
        self.resyncs.append(time.monotonic() - started)

    async def _observed_apply(self, stored: StoredState, touched: Touched) -> None:
        started = time.monotonic()
        await self._apply_resync(stored, touched)
        self.resyncs_locked.append(time.monotonic() - started)

    async def _observed_record(self, fires: list[Fire]) -> None:
        popped = time.time()
        if self.write:
            await self._record_fires(fires)
        else:
            self.fires.unrecorded = []  # handed over, nothing to write
        recorded = time.time()
        self.samples.extend(Sample(fire.scheduled_at.timestamp(), popped, recorded) for fire in fires)


class PollingTimers:
    """The forbidden design: every poll asks every job's cron for its next fire after the previous
    poll (O(n) cron evaluations per poll); the core wakes every ``interval`` seconds to poll.
    Offers the parts of ``CronTimers``' interface the core uses."""

    def __init__(self, crons: dict[str, CronExpression], now: datetime, interval: float) -> None:
        self._crons = crons
        self._last_poll = now
        self._interval = timedelta(seconds=interval)

    def __len__(self) -> int:
        return len(self._crons)

    def __contains__(self, job_name: object) -> bool:
        return job_name in self._crons

    def job_names(self) -> list[str]:
        return list(self._crons)

    def set(self, job_name: str, cron: CronExpression, now: datetime) -> datetime | None:
        self._crons[job_name] = cron
        return cron.next_fire_after(now)

    def remove(self, job_name: str) -> None:
        self._crons.pop(job_name, None)

    def next_deadline(self) -> datetime | None:
        return self._last_poll + self._interval

    def due(self, now: datetime) -> list[Fire]:
        fires = []
        for job_name, cron in self._crons.items():
            fire_at = cron.next_fire_after(self._last_poll)
            if fire_at is not None and fire_at <= now:
                fires.append(Fire(job_name, fire_at))
        self._last_poll = now
        return fires


class PollingCore(ObservedCore):
    async def load(self) -> None:
        await super().load()
        crons = {name: CronExpression.parse(self.jobs[name].cron) for name in self.timers.job_names()}
        self.timers = PollingTimers(crons, self.now(), POLL_SECONDS)  # type: ignore[assignment]


@dataclass
class RunResult:
    name: str
    samples: list[Sample]  # fires scheduled inside the window
    during_load: int  # fires scheduled before run() started (while loading), not in the figures
    expected: int  # fires the crons schedule inside the window; the rest were coalesced away
    window_seconds: float  # fires scheduled in this window are the samples
    seconds: float  # wall time of run() and the final tick (the CPU share's denominator)
    cpu_seconds: float
    load_seconds: float
    resyncs: list[float]
    resyncs_locked: list[float]


async def produce(
    zk_servers: str, namespace: str, core_class: type[ObservedCore], args: argparse.Namespace, zone: tzinfo
) -> RunResult:
    zookeeper = ZooKeeper(zk_servers, namespace=namespace, timeout=30.0)
    if not zookeeper.start(wait=10):
        raise RuntimeError("cannot connect to the benchmark's ZooKeeper")
    try:
        await asyncio.to_thread(empty_ready_queue, zookeeper)
        core = core_class(
            zookeeper,
            CoreSettings(executor_command="unused", resync_seconds=args.resync_seconds, zone=zone),
            clock=SystemClock(),
            write=not args.no_writes,
        )
        started = time.monotonic()
        await core.load()
        load_seconds = time.monotonic() - started
        if len(core.timers) != args.jobs:
            raise RuntimeError(f"the core scheduled {len(core.timers)} jobs, expected {args.jobs}")
        loop = asyncio.get_running_loop()
        stopper = loop.call_later(args.seconds, core.stop)
        cpu_started, wall_started, run_started = time.process_time(), time.monotonic(), time.time()
        try:
            async with asyncio.timeout(args.seconds + 60):
                await core.run()
                # Fires of the window still waiting when it closed (a resync or a slow poll held
                # them) are processed now, so they count, late, instead of vanishing.
                await core.tick()
        finally:
            stopper.cancel()
        wall_seconds, cpu_seconds = time.monotonic() - wall_started, time.process_time() - cpu_started
        window_end = run_started + args.seconds
        return RunResult(
            name="polling (baseline)" if core_class is PollingCore else "heap",
            samples=[s for s in core.samples if run_started <= s.scheduled <= window_end],
            during_load=sum(1 for sample in core.samples if sample.scheduled < run_started),
            expected=expected_fires(core, run_started, window_end, zone),
            window_seconds=args.seconds,
            seconds=wall_seconds,
            cpu_seconds=cpu_seconds,
            load_seconds=load_seconds,
            resyncs=core.resyncs,
            resyncs_locked=core.resyncs_locked,
        )
    finally:
        await asyncio.to_thread(zookeeper.stop)


def expected_fires(core: SchedulerCore, start: float, end: float, zone: tzinfo) -> int:
    """How many fires the scheduled jobs' crons hold in [start, end] (epoch seconds)."""
    count = 0
    first_after = datetime.fromtimestamp(start, zone) - timedelta(microseconds=1)
    for job_name in core.timers.job_names():
        cron = CronExpression.parse(core.jobs[job_name].cron)
        fire_at = cron.next_fire_after(first_after)
        while fire_at is not None and fire_at.timestamp() <= end:
            count += 1
            fire_at = cron.next_fire_after(fire_at)
    return count


def empty_ready_queue(zookeeper: ZooKeeper, batch: int = 1000) -> None:
    client, ready = zookeeper.client, zookeeper.paths.ready
    names = client.get_children(ready) if client.exists(ready) else []
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]

        def build(transaction: Any, chunk: Sequence[str] = chunk) -> None:
            for name in chunk:
                transaction.delete(zookeeper.paths.ready_job(name))

        zookeeper.commit(build)


def cron_of(index: int) -> str:
    return "0/5 * * * * ?" if index % 10 == 9 else f"{index % 60} * * * * ?"


def setup(zk_servers: str, jobs: int) -> tuple[str, float]:
    namespace = unique_name("bench_producer")
    zookeeper = ZooKeeper(zk_servers, namespace=namespace, timeout=30.0)
    if not zookeeper.start(wait=10):
        raise RuntimeError("cannot connect to the benchmark's ZooKeeper")
    try:
        started = time.monotonic()
        app = publish_app(zookeeper)
        configs = [
            JobConfig(
                job_name=f"bench_job_{index:05d}",
                app_name=app.app_name,
                cpu_count=0.1,
                memory_mb=32.0,
                job_execution_type=JobExecutionType.TRANSIENT,
                sharding_total_count=1,
                cron=cron_of(index),
                misfire=True,
            )
            for index in range(jobs)
        ]
        register_jobs(zookeeper, configs)
        return namespace, time.monotonic() - started
    finally:
        zookeeper.stop()


def describe(result: RunResult) -> dict[str, float]:
    popped = [s.popped - s.scheduled for s in result.samples]
    recorded = [s.recorded - s.scheduled for s in result.samples]
    return {
        "fires": len(result.samples),
        "fires_per_second": len(result.samples) / result.window_seconds,
        "popped_p50": statistics.median(popped),
        "popped_p99": percentile(popped, 0.99),
        "popped_max": max(popped),
        "p50": statistics.median(recorded),
        "p99": percentile(recorded, 0.99),
        "max": max(recorded),
        "cpu": result.cpu_seconds / result.seconds,
    }


def report(args: argparse.Namespace, results: list[RunResult], setup_seconds: float, machine: str) -> None:
    writes = (
        "without ZooKeeper writes (both)" if args.no_writes else "each fire written to /state/ready (both)"
    )
    print(
        f"producer lateness: {args.jobs} cron jobs (S * * * * ? with S = i % 60; every tenth 0/5 * * * * ?), "
        f"{args.seconds:.0f} s per producer, real clock, {writes}, resync every {args.resync_seconds:.0f} s"
    )
    print(f"command: {command_line('bench.producer_lateness')}")
    print(f"machine: {machine}")
    print(f"setup (publish app, register {args.jobs} jobs in batched transactions): {setup_seconds:.1f} s")
    print(
        f"{'producer':<19} {'load s':>6} {'fires':>6} {'fires/s':>7} {'CPU %':>6} "
        f"{'popped p50/p99/max ms':>23} {'recorded p50 ms':>15} {'p99 ms':>8} {'max ms':>8} "
        f"{'resyncs s (locked ms)':>21} {'due in load':>11} {'coalesced':>9}"
    )
    figures = {}
    for result in results:
        figure = describe(result)
        figures[result.name] = figure
        resyncs = (
            ",".join(
                f"{seconds:.1f} ({locked * 1000:.0f})"
                for seconds, locked in zip(result.resyncs, result.resyncs_locked, strict=False)
            )
            or "-"
        )
        popped = (
            f"{milliseconds(figure['popped_p50'])}/{milliseconds(figure['popped_p99'])}/"
            f"{milliseconds(figure['popped_max'])}"
        )
        print(
            f"{result.name:<19} {result.load_seconds:>6.1f} {figure['fires']:>6.0f} "
            f"{figure['fires_per_second']:>7.1f} {figure['cpu'] * 100:>6.0f} {popped:>23} "
            f"{milliseconds(figure['p50']):>15} {milliseconds(figure['p99']):>8} {milliseconds(figure['max']):>8} "
            f"{resyncs:>21} {result.during_load:>11} {result.expected - len(result.samples):>9}"
        )
    heap, polling = figures["heap"], figures["polling (baseline)"]
    recorded = "fire handed over, nothing written" if args.no_writes else "fire recorded in ZooKeeper"
    print("-- summary")
    print(f"command: {command_line('bench.producer_lateness')}")
    print(
        f"heap producer: lateness ({recorded}) p50 {milliseconds(heap['p50'])} ms, "
        f"p99 {milliseconds(heap['p99'])} ms, max {milliseconds(heap['max'])} ms; "
        f"{heap['fires_per_second']:.1f} fires/s"
    )
    print(
        f"polling baseline ({POLL_SECONDS * 1000:.0f} ms poll over all jobs): p50 {milliseconds(polling['p50'])} ms, "
        f"p99 {milliseconds(polling['p99'])} ms, max {milliseconds(polling['max'])} ms; "
        f"{polling['fires_per_second']:.1f} fires/s"
    )
    print(
        f"ratio polling / heap: p50 {polling['p50'] / heap['p50']:.1f}, p99 {polling['p99'] / heap['p99']:.1f}, "
        f"max {polling['max'] / heap['max']:.1f}, CPU {polling['cpu'] / max(heap['cpu'], 1e-9):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=CoreSettings(executor_command="unused").resync_seconds,
        help="the core's configuration re-read interval (default: the production default)",
    )
    parser.add_argument("--no-writes", action="store_true", help="neither producer writes ZooKeeper")
    args = parser.parse_args()
    results: list[RunResult] = []
    load_before = machine_load()
    with (
        tempfile.TemporaryDirectory(prefix="bench-producer-") as tmp,
        zookeeper_server(Path(tmp) / "zk") as zk,
    ):
        namespace, setup_seconds = setup(zk.connect_string, args.jobs)
        for core_class in (ObservedCore, PollingCore):
            result = asyncio.run(produce(zk.connect_string, namespace, core_class, args, ZONE))
            results.append(result)
    report(
        args,
        results,
        setup_seconds,
        f"{os.cpu_count()} CPUs, load average {load_before} before, {machine_load()} after",
    )


if __name__ == "__main__":
    quiet_loggers()
    main()
