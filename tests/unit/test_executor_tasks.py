"""A task's life inside the executor, driven in-process: real scripts, a clock the test moves."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.executor.runs import RunSlots
from server.executor.shard import decode_task
from server.executor.tasks import ShardTask
from testkit.clock import ManualClock
from testkit.executor import read_lines, task_info, write_script
from testkit.polling import until

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups are Linux facts"),
]

T0 = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
BLOCKING_SCRIPT = 'echo run >> "$PWD/runs"\nwhile [ ! -e "$PWD/release" ]; do sleep 0.01; done\n'


def at(seconds: int) -> datetime:
    return T0.replace(microsecond=0) + timedelta(seconds=seconds)


class Recorder:
    def __init__(self) -> None:
        self.updates: list[tuple[str, str, str | None]] = []

    def __call__(self, task_id: str, state: str, message: str | None, *, data: bytes | None = None) -> None:
        self.updates.append((task_id, state, message))

    def of(self, task_id: str) -> list[tuple[str, str | None]]:
        return [(state, message) for tid, state, message in self.updates if tid == task_id]


def make_task(
    sandbox: Path, info: dict[str, object], slots: RunSlots, send: Recorder, clock: ManualClock
) -> ShardTask:
    return ShardTask(
        decode_task(info),
        sandbox=sandbox,
        base_environment={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        slots=slots,
        send=send,
        zone=UTC,
        clock=clock,
    )


@pytest.mark.parametrize(("misfire", "runs"), [(False, 2), (True, 4)])
async def test_daemon_fires_during_a_run_queue_runs_with_misfire_and_collapse_without(
    tmp_path: Path, misfire: bool, runs: int
) -> None:
    write_script(tmp_path, "app/block.sh", BLOCKING_SCRIPT)
    clock, send = ManualClock(T0), Recorder()
    info = task_info(
        "blocker",
        job_execution_type="DAEMON",
        cron="* * * * * ?",
        misfire=misfire,
        bootstrap_script="app/block.sh",
    )
    task = make_task(tmp_path, info, RunSlots(2), send, clock)
    task.start()

    await clock.until_sleeping(at(1))
    clock.set(at(1))
    await until(lambda: len(read_lines(tmp_path / "runs")) == 1)
    for second in (2, 3, 4):  # three fires while run 1 is still going
        await clock.until_sleeping(at(second))
        clock.set(at(second))
    await clock.until_sleeping(at(5))
    assert len(read_lines(tmp_path / "runs")) == 1, "never two runs of one task at once"

    (tmp_path / "release").touch()
    await until(lambda: send.of(task.task_id).count(("TASK_RUNNING", "COMPLETE")) == runs)
    await asyncio.sleep(0.3)  # an extra run would start at once; give it the chance to show up
    assert len(read_lines(tmp_path / "runs")) == runs

    task.kill(1.0)
    await asyncio.wait_for(task.wait(), 5)
    assert send.of(task.task_id)[-1] == ("TASK_KILLED", "killed before its run started")


async def test_a_transient_shard_killed_while_queued_never_runs(tmp_path: Path) -> None:
    write_script(tmp_path, "app/block.sh", BLOCKING_SCRIPT)
    clock, send, slots = ManualClock(T0), Recorder(), RunSlots(4)
    first, second = (
        make_task(
            tmp_path,
            task_info(
                "serial", item, total=2, bootstrap_script="app/block.sh", service_handler="SINGLE_THREAD"
            ),
            slots,
            send,
            clock,
        )
        for item in (0, 1)
    )
    first.start()
    second.start()
    await until(lambda: ("TASK_RUNNING", None) in send.of(first.task_id))
    second.kill(1.0)
    await asyncio.wait_for(second.wait(), 5)
    assert send.of(second.task_id) == [
        ("TASK_STARTING", None),
        ("TASK_KILLED", "killed before its run started"),
    ]
    (tmp_path / "release").touch()
    await asyncio.wait_for(first.wait(), 5)
    assert send.of(first.task_id)[-1] == ("TASK_FINISHED", None)
    assert read_lines(tmp_path / "runs") == ["run"]
