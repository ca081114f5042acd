"""Sustained rate of short command tasks (``true``) the embedded cluster runs, against the rate at
which this machine starts the same processes directly, in the same run.

The cluster runs as ``python -m server.cluster`` (its own process, as ``make run`` starts it);
this process is the framework, on the project's Mesos client: on every offer it launches as many
``true`` tasks (0.1 cpu, 32 MB) as fit and counts TASK_FINISHED updates in a window after a
warm-up. The baseline runs ``true`` through ``asyncio.create_subprocess_exec`` with the same
concurrency (cpus / 0.1) for the same window: the floor of process start-up on this machine.

    python -m bench.cluster_throughput [--seconds 20] [--cpus 2]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import itertools
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devstack.stack import ChildProcess
from server.mesos.client import FrameworkInfo, MesosSchedulerClient

TASK_CPUS, TASK_MEM = 0.1, 32.0
WARMUP = 3.0


class TrueLauncher:
    """A framework that fills every offer with ``true`` command tasks."""

    def __init__(self) -> None:
        self.client: MesosSchedulerClient | None = None
        self.ids = itertools.count()
        self.finished: list[float] = []
        self.failed = 0

    async def on_subscribed(self, framework_id: str, heartbeat_interval: float) -> None:
        pass

    async def on_offers(self, offers: list[dict[str, Any]]) -> None:
        assert self.client is not None
        for offer in offers:
            available = {r["name"]: r["scalar"]["value"] for r in offer["resources"] if "scalar" in r}
            count = int(min(available.get("cpus", 0) / TASK_CPUS + 1e-9, available.get("mem", 0) / TASK_MEM))
            tasks = [
                {
                    "name": "true",
                    "task_id": {"value": f"true-{next(self.ids)}"},
                    "agent_id": offer["agent_id"],
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": TASK_CPUS}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": TASK_MEM}},
                    ],
                    "command": {"value": "true"},
                }
                for _ in range(count)
            ]
            operations = [{"type": "LAUNCH", "launch": {"task_infos": tasks}}]
            await self.client.accept([offer["id"]["value"]], operations, refuse_seconds=0.0)

    async def on_rescind(self, offer_id: str) -> None:
        pass

    async def on_update(self, status: dict[str, Any]) -> None:
        if status["state"] == "TASK_FINISHED":
            self.finished.append(time.monotonic())
        elif status["state"] in ("TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"):
            self.failed += 1

    async def on_message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        pass

    async def on_failure(self, agent_id: str | None, executor_id: str | None, status: int | None) -> None:
        pass

    async def on_error(self, message: str) -> None:
        print("master error:", message)

    async def on_disconnected(self) -> None:
        pass

    async def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        return []


async def cluster_rate(work: Path, cpus: float, seconds: float) -> tuple[float, int]:
    cluster = ChildProcess(
        "cluster",
        [
            *(sys.executable, "-m", "server.cluster", "--port", "0", "--agent-port", "0"),
            *("--work-dir", str(work), "--cpus", str(cpus), "--mem", "8192", "--log-level", "WARNING"),
        ],
        log_path=work / "cluster.log",
    )
    try:
        endpoints = work / "cluster.json"
        while not endpoints.exists():
            await asyncio.sleep(0.05)
        launcher = TrueLauncher()
        launcher.client = MesosSchedulerClient(
            json.loads(endpoints.read_text())["master_url"],
            FrameworkInfo(user=getpass.getuser(), name="throughput-bench", failover_timeout=60),
            launcher,
            reconcile_interval=None,
        )
        running = asyncio.create_task(launcher.client.run())
        start = time.monotonic()
        await asyncio.sleep(WARMUP + seconds)
        window = [t for t in launcher.finished if start + WARMUP <= t < start + WARMUP + seconds]
        await launcher.client.close()
        await running
        return len(window) / seconds, launcher.failed
    finally:
        cluster.stop()


async def direct_rate(concurrency: int, seconds: float) -> float:
    finished: list[float] = []
    deadline = time.monotonic() + WARMUP + seconds
    start = time.monotonic()

    async def worker() -> None:
        while time.monotonic() < deadline:
            process = await asyncio.create_subprocess_exec("true")
            await process.wait()
            finished.append(time.monotonic())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len([t for t in finished if start + WARMUP <= t < start + WARMUP + seconds]) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cpus", type=float, default=2.0)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        rate, failed = asyncio.run(cluster_rate(Path(tmp), args.cpus, args.seconds))
    if rate == 0:
        raise SystemExit("no task finished on the embedded cluster: the benchmark measured nothing")
    baseline = asyncio.run(direct_rate(int(args.cpus / TASK_CPUS), args.seconds))
    print(
        f"short tasks ('true', {TASK_CPUS} cpu each, {args.cpus:g} cpus offered), {args.seconds:g} s window:"
    )
    print(f"embedded cluster (scheduler API → agent → process) {rate:7.1f} tasks/s  ({failed} failed)")
    print(f"direct asyncio subprocess, same concurrency        {baseline:7.1f} processes/s")
    print(f"ratio (cluster / direct): {rate / baseline:.3f}")
    print(f"load average during the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
