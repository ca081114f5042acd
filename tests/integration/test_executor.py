"""The executor as a Mesos agent runs it: a real ``python -m server.executor`` process talking to
an agent double over HTTP, running real shell scripts in a real sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from testkit.executor import (
    EXECUTOR_ID,
    FRAMEWORK_ID,
    AgentDouble,
    ExecutorProcess,
    decode_uuid,
    is_alive,
    read_lines,
    task_info,
    write_script,
)
from testkit.polling import until

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="process groups and /proc are Linux facts"
    ),
]

StartExecutor = Callable[..., Awaitable[ExecutorProcess]]


@pytest.fixture
async def agent() -> AsyncIterator[AgentDouble]:
    async with AgentDouble() as double:
        yield double


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox"
    path.mkdir()
    return path


@pytest.fixture
async def start_executor(agent: AgentDouble, sandbox: Path) -> AsyncIterator[StartExecutor]:
    started: list[ExecutorProcess] = []

    async def start(**options: Any) -> ExecutorProcess:
        executor = await ExecutorProcess.start(agent, sandbox, **options)
        started.append(executor)
        return executor

    yield start
    for executor in started:
        if executor.returncode is None and agent.subscribed:
            agent.auto_ack = True
            agent.shutdown()
            with contextlib.suppress(TimeoutError):
                await executor.wait(6)
        await executor.stop()


def states(agent: AgentDouble, task_id: str) -> list[tuple[str, str | None]]:
    return [(status["state"], status.get("message")) for status in agent.updates_of(task_id)]


# -- subscription --------------------------------------------------------------------------------------


async def test_subscribe_names_the_framework_and_executor_from_the_environment(
    agent: AgentDouble, start_executor: StartExecutor
) -> None:
    await start_executor()
    call = await agent.wait_for_subscriptions(1)
    assert call["type"] == "SUBSCRIBE"
    assert call["framework_id"] == {"value": FRAMEWORK_ID}
    assert call["executor_id"] == {"value": EXECUTOR_ID}
    assert call["subscribe"] == {"unacknowledged_tasks": [], "unacknowledged_updates": []}
    headers = agent.subscribe_headers[0]
    assert headers["Content-Type"] == "application/json"
    assert "application/json" in headers["Accept"]
    assert agent.rejected == []


# -- TRANSIENT ---------------------------------------------------------------------------------------


CONTEXT_SCRIPT = """
out="$PWD/out"
mkdir -p "$out"
for last; do :; done
printf '%s' "$last" > "$out/last-argument.json"
printf '%s\\n' "$@" > "$out/arguments"
env > "$out/environment"
pwd > "$out/cwd"
echo run >> "$out/runs"
echo "hello from shard $ELASTICJOB_SHARDING_ITEM"
echo "a warning" >&2
"""


async def test_transient_shard_runs_once_with_its_context_in_env_and_last_argument(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/run.sh", CONTEXT_SCRIPT)
    executor = await start_executor()
    await agent.wait_for_subscriptions(1)
    info = task_info(
        "ctx_job",
        1,
        total=3,
        bootstrap_script="app/run.sh --flag",
        item_parameter="beijing",
        job_parameter="daily",
    )
    task_id = agent.launch(info)

    finished = await agent.wait_for_update(task_id, "TASK_FINISHED")
    assert "message" not in finished
    assert [state for state, _ in states(agent, task_id)] == [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_FINISHED",
    ]
    updates = agent.updates_of(task_id)
    assert len({decode_uuid(status) for status in updates}) == 3
    for status in updates:
        assert status["source"] == "SOURCE_EXECUTOR"
        assert status["executor_id"] == {"value": EXECUTOR_ID}
        assert abs(status["timestamp"] - time.time()) < 30

    out = sandbox / "out"
    assert read_lines(out / "runs") == ["run"]
    document = json.loads((out / "last-argument.json").read_text())
    assert document["taskId"] == task_id
    assert document["shardingItem"] == 1
    assert document["shardingItemParameter"] == "beijing"
    arguments = read_lines(out / "arguments")
    assert arguments[0] == "--flag"
    assert json.loads(arguments[-1]) == document
    environment = dict(line.split("=", 1) for line in read_lines(out / "environment") if "=" in line)
    assert environment["ELASTICJOB_JOB_NAME"] == "ctx_job"
    assert environment["ELASTICJOB_TASK_ID"] == task_id
    assert environment["ELASTICJOB_SHARDING_ITEM"] == "1"
    assert environment["ELASTICJOB_SHARDING_TOTAL_COUNT"] == "3"
    assert environment["ELASTICJOB_SHARDING_PARAMETER"] == "beijing"
    assert environment["ELASTICJOB_JOB_PARAMETER"] == "daily"
    assert json.loads(environment["ELASTICJOB_SHARDING_CONTEXT"]) == document
    assert environment["ELASTICJOB_APP_NAME"] == "app"  # the executor's own environment is inherited
    assert environment["MESOS_SANDBOX"] == str(sandbox)
    assert read_lines(out / "cwd") == [str(sandbox)]

    assert "[ctx_job-1] hello from shard 1" in executor.stdout()
    assert "[ctx_job-1] a warning" in executor.stderr()
    shard_log = read_lines(sandbox / "shards" / "ctx_job-1.log")
    assert shard_log[0].startswith(f"--- run of task {task_id} started at ")
    assert "hello from shard 1" in shard_log and "a warning" in shard_log
    assert shard_log[-1].startswith(f"--- run of task {task_id} ended with exit code 0 at ")
    assert executor.returncode is None, "the executor stays up for more tasks"


async def test_failed_run_is_reported_according_to_the_job_error_handler(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/fail.sh", "echo failing; exit 3\n")
    await start_executor()
    await agent.wait_for_subscriptions(1)
    tasks = {
        handler: agent.launch(
            task_info(f"fail_{handler.lower()}", bootstrap_script="app/fail.sh", error_handler=handler)
        )
        for handler in ("LOG", "THROW", "IGNORE")
    }
    log_finished = await agent.wait_for_update(tasks["LOG"], "TASK_FINISHED")
    assert log_finished["message"] == "run failed with exit code 3 (jobErrorHandlerType LOG)"
    thrown = await agent.wait_for_update(tasks["THROW"], "TASK_FAILED")
    assert thrown["message"] == "run failed with exit code 3 (jobErrorHandlerType THROW)"
    ignored = await agent.wait_for_update(tasks["IGNORE"], "TASK_FINISHED")
    assert "message" not in ignored


async def test_run_killed_by_a_signal_is_a_failed_run_recorded_under_log(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/victim.sh", 'echo $$ > "$PWD/victim.pid"\nsleep 30\n', executable=False)
    await start_executor()
    await agent.wait_for_subscriptions(1)
    task_id = agent.launch(task_info("victim", bootstrap_script="app/victim.sh"))
    await agent.wait_for_update(task_id, "TASK_RUNNING")
    await until(lambda: bool(read_lines(sandbox / "victim.pid")))
    os.kill(int(read_lines(sandbox / "victim.pid")[0]), signal.SIGKILL)

    finished = await agent.wait_for_update(task_id, "TASK_FINISHED")
    assert finished["message"] == "run failed with signal 9 (SIGKILL) (jobErrorHandlerType LOG)"


# -- refusing what must not run ------------------------------------------------------------------------


async def test_escaping_or_missing_bootstrap_script_fails_the_task_and_runs_nothing(
    agent: AgentDouble, sandbox: Path, tmp_path: Path, start_executor: StartExecutor
) -> None:
    marker = tmp_path / "escaped"
    outside = write_script(tmp_path, "outside.sh", f'touch "{marker}"\n')
    (sandbox / "app").mkdir()
    (sandbox / "app" / "link.sh").symlink_to(outside)
    await start_executor()
    await agent.wait_for_subscriptions(1)

    cases = {
        "../outside.sh": "'..'",
        str(outside): "absolute path",
        "app/link.sh": "outside the sandbox",
        "app/missing.sh": "does not exist",
    }
    launched = {
        agent.launch(task_info(f"escape_{number}", bootstrap_script=script)): expected
        for number, (script, expected) in enumerate(cases.items())
    }
    for task_id, expected in launched.items():
        failed = await agent.wait_for_update(task_id, "TASK_FAILED")
        assert expected in failed["message"]
        assert agent.states_of(task_id) == ["TASK_FAILED"]
    assert not marker.exists()


async def test_task_groups_and_unreadable_task_data_are_refused(
    agent: AgentDouble, start_executor: StartExecutor
) -> None:
    await start_executor()
    await agent.wait_for_subscriptions(1)
    grouped = [task_info("grouped", item, total=2) for item in (0, 1)]
    agent.launch_group(grouped)
    garbage = task_info("garbage") | {"data": "bm90IGpzb24="}  # base64 of "not json"
    agent.launch(garbage)
    for info in grouped:
        failed = await agent.wait_for_update(info["task_id"]["value"], "TASK_FAILED")
        assert "LAUNCH_GROUP" in failed["message"]
    failed = await agent.wait_for_update(garbage["task_id"]["value"], "TASK_FAILED")
    assert "JSON" in failed["message"]


# -- DAEMON -----------------------------------------------------------------------------------------


async def test_daemon_runs_on_every_fire_samples_begin_complete_and_stops_on_kill(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/tick.sh", 'echo tick >> "$PWD/ticks"\n')
    await start_executor()
    await agent.wait_for_subscriptions(1)
    info = task_info(
        "daemon_job",
        job_execution_type="DAEMON",
        cron="* * * * * ?",
        sampling=2,
        bootstrap_script="app/tick.sh",
    )
    task_id = agent.launch(info)

    await agent.wait_for_update(task_id, "TASK_RUNNING", "COMPLETE", count=2, timeout=15)
    runs = len(read_lines(sandbox / "ticks"))
    assert runs in (4, 5), "BEGIN/COMPLETE wrap runs 2 and 4 of every-other sampling"
    assert states(agent, task_id)[:6] == [
        ("TASK_STARTING", None),
        ("TASK_RUNNING", None),
        ("TASK_RUNNING", "BEGIN"),
        ("TASK_RUNNING", "COMPLETE"),
        ("TASK_RUNNING", "BEGIN"),
        ("TASK_RUNNING", "COMPLETE"),
    ]

    agent.kill(task_id)
    await agent.wait_for_update(task_id, "TASK_KILLED")
    runs_at_kill = len(read_lines(sandbox / "ticks"))
    await asyncio.sleep(1.3)  # more than one cron period: proving that nothing runs needs time
    assert len(read_lines(sandbox / "ticks")) == runs_at_kill


async def test_daemon_failed_run_fails_the_task_under_throw_and_not_under_log(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/fail.sh", "exit 4\n")
    await start_executor()
    await agent.wait_for_subscriptions(1)
    common: dict[str, Any] = {
        "job_execution_type": "DAEMON",
        "cron": "* * * * * ?",
        "bootstrap_script": "app/fail.sh",
    }
    thrown = agent.launch(task_info("daemon_throw", error_handler="THROW", **common))
    logged = agent.launch(task_info("daemon_log", error_handler="LOG", **common))

    failed = await agent.wait_for_update(thrown, "TASK_FAILED", timeout=15)
    assert failed["message"] == "run 1 failed with exit code 4 (jobErrorHandlerType THROW)"
    await agent.wait_for_update(logged, "TASK_RUNNING", "COMPLETE", count=2, timeout=15)
    assert all(state == "TASK_RUNNING" for state in agent.states_of(logged)[1:])


# -- concurrency -------------------------------------------------------------------------------------

SPAN_SCRIPT = """
start=$(date +%s.%N)
sleep 0.4
echo "$ELASTICJOB_JOB_NAME $start $(date +%s.%N)" >> "$PWD/spans"
"""


async def test_single_thread_job_runs_its_shards_one_at_a_time_and_cpu_job_in_parallel(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/span.sh", SPAN_SCRIPT)
    await start_executor(extra_env={"ELASTICJOB_EXECUTOR_PARALLELISM": "4"})
    await agent.wait_for_subscriptions(1)
    launched = [
        agent.launch(task_info(job, item, total=2, bootstrap_script="app/span.sh", service_handler=handler))
        for job, handler in (("serial", "SINGLE_THREAD"), ("parallel", "CPU"))
        for item in (0, 1)
    ]
    for task_id in launched:
        await agent.wait_for_update(task_id, "TASK_FINISHED")

    spans: dict[str, list[tuple[float, float]]] = {"serial": [], "parallel": []}
    for line in read_lines(sandbox / "spans"):
        job, start, end = line.split()
        spans[job].append((float(start), float(end)))
    (first, second) = sorted(spans["serial"])
    assert first[1] <= second[0], f"SINGLE_THREAD shards overlapped: {spans['serial']}"
    (first, second) = sorted(spans["parallel"])
    assert second[0] < first[1], f"CPU shards did not run in parallel: {spans['parallel']}"


# -- killing ---------------------------------------------------------------------------------------


async def test_kill_sigkills_a_script_that_ignores_sigterm_after_the_grace_period(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(
        sandbox,
        "app/stubborn.sh",
        "trap '' TERM\necho $$ > \"$PWD/stubborn.pid\"\nwhile :; do sleep 0.05; done\n",
    )
    await start_executor()
    await agent.wait_for_subscriptions(1)
    task_id = agent.launch(task_info("stubborn", bootstrap_script="app/stubborn.sh", kill_grace_seconds=0.6))
    await agent.wait_for_update(task_id, "TASK_RUNNING")
    await until(lambda: bool(read_lines(sandbox / "stubborn.pid")))
    pid = int(read_lines(sandbox / "stubborn.pid")[0])

    started = time.monotonic()
    agent.kill(task_id)
    await agent.wait_for_update(task_id, "TASK_KILLED")
    assert time.monotonic() - started >= 0.55, "SIGKILL came before the grace period ended"
    assert not is_alive(pid)
    assert agent.states_of(task_id) == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]


async def test_shutdown_kills_running_shards_reports_them_killed_and_exits_zero(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/long.sh", 'echo $$ > "$PWD/long-$ELASTICJOB_SHARDING_ITEM.pid"\nsleep 30\n')
    executor = await start_executor()
    await agent.wait_for_subscriptions(1)
    launched = [
        agent.launch(task_info("long", item, total=2, bootstrap_script="app/long.sh")) for item in (0, 1)
    ]
    for task_id in launched:
        await agent.wait_for_update(task_id, "TASK_RUNNING")
    await until(lambda: all(read_lines(sandbox / f"long-{item}.pid") for item in (0, 1)))
    pids = [int(read_lines(sandbox / f"long-{item}.pid")[0]) for item in (0, 1)]

    agent.shutdown()
    assert await executor.wait(10) == 0
    for task_id in launched:
        assert agent.states_of(task_id)[-1] == "TASK_KILLED"
    assert not any(is_alive(pid) for pid in pids)


async def test_sigterm_to_the_executor_shuts_it_down_like_shutdown(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/long.sh", "sleep 30\n")
    executor = await start_executor()
    await agent.wait_for_subscriptions(1)
    task_id = agent.launch(task_info("long", bootstrap_script="app/long.sh"))
    await agent.wait_for_update(task_id, "TASK_RUNNING")
    executor.signal(signal.SIGTERM)
    assert await executor.wait(10) == 0
    assert agent.states_of(task_id)[-1] == "TASK_KILLED"


# -- losing the agent ----------------------------------------------------------------------------------


async def test_unacknowledged_updates_and_tasks_are_resent_on_resubscribe(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    agent.auto_ack = False
    write_script(sandbox, "app/quick.sh", "exit 0\n")
    write_script(sandbox, "app/long.sh", "sleep 30\n")
    await start_executor(checkpoint=True)
    await agent.wait_for_subscriptions(1)
    quick = agent.launch(task_info("quick", bootstrap_script="app/quick.sh"))
    await agent.wait_for_update(quick, "TASK_FINISHED")
    sent = agent.updates_of(quick)

    agent.drop_stream()
    second = await agent.wait_for_subscriptions(2)
    assert [u["status"]["uuid"] for u in second["subscribe"]["unacknowledged_updates"]] == [
        s["uuid"] for s in sent
    ]
    assert [u["status"]["state"] for u in second["subscribe"]["unacknowledged_updates"]] == [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_FINISHED",
    ]
    assert [t["task_id"]["value"] for t in second["subscribe"]["unacknowledged_tasks"]] == [quick]

    # One acknowledged update acknowledges its task; the stream is processed in order, so once
    # the next task's STARTING arrives the ACK before it has been taken into account.
    agent.acknowledge(sent[0])
    long_task = agent.launch(task_info("long", bootstrap_script="app/long.sh"))
    await agent.wait_for_update(long_task, "TASK_RUNNING")
    agent.drop_stream()
    third = await agent.wait_for_subscriptions(3)
    resent = [u["status"] for u in third["subscribe"]["unacknowledged_updates"]]
    assert [s["uuid"] for s in resent] == [s["uuid"] for s in sent[1:]] + [
        s["uuid"] for s in agent.updates_of(long_task)
    ]
    assert [t["task_id"]["value"] for t in third["subscribe"]["unacknowledged_tasks"]] == [long_task]

    agent.auto_ack = True  # the double acknowledges what the next SUBSCRIBE carries
    agent.drop_stream()
    await agent.wait_for_subscriptions(4)


async def test_losing_the_agent_without_checkpointing_kills_the_shards_and_exits(
    agent: AgentDouble, sandbox: Path, start_executor: StartExecutor
) -> None:
    write_script(sandbox, "app/long.sh", 'echo $$ > "$PWD/long.pid"\nsleep 30\n')
    executor = await start_executor(checkpoint=False)
    await agent.wait_for_subscriptions(1)
    task_id = agent.launch(task_info("long", bootstrap_script="app/long.sh"))
    await agent.wait_for_update(task_id, "TASK_RUNNING")
    await until(lambda: bool(read_lines(sandbox / "long.pid")))
    pid = int(read_lines(sandbox / "long.pid")[0])

    agent.drop_stream()
    assert await executor.wait(10) == 1
    assert not is_alive(pid)
    assert len(agent.subscriptions) == 1, "without checkpointing there is no resubscription"


async def test_with_checkpointing_the_executor_gives_up_after_the_recovery_timeout(
    sandbox: Path, start_executor: StartExecutor, agent: AgentDouble
) -> None:
    executor = await start_executor(checkpoint=True, recovery_timeout="1secs", backoff_max="200ms")
    await agent.wait_for_subscriptions(1)
    started = time.monotonic()
    await agent.__aexit__(None, None, None)  # the agent process goes away for good
    assert await executor.wait(10) == 1
    assert 1.0 <= time.monotonic() - started < 5
    assert "giving up" in executor.stderr()
