"""Every run reported: a real ``python -m server.executor`` process, an agent double, real scripts.

What the reports mean is ElasticJob 3.0's: its executor posts a start event before a shard runs
and a completion event after (``ElasticJobExecutor.process``: ``executionSuccess`` or
``executionFailure`` with the cause), and the failure event is posted *before* the job error
handler is asked what the failure means, so LOG, THROW and IGNORE all leave a failed execution;
only the task's fate differs. A DAEMON job's executions are sampled every
``eventTraceSamplingCount`` runs (3.0's ``DaemonTaskScheduler``; 0 = every run). Mesos carries
``TaskStatus.data`` as bytes (base64 in its JSON), and an executor's ``MESSAGE`` call delivers its
``data`` to the framework as a MESSAGE event (Mesos "Executor HTTP API")."""

from __future__ import annotations

import base64
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.domain.execution_report import ExecutionReport, decode_report, find_report
from server.domain.task import TaskId
from testkit.executor import AgentDouble, ExecutorProcess, task_info, write_script
from testkit.polling import until

pytestmark = [
    pytest.mark.timeout(40),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups are Linux facts"),
]


@pytest.fixture
async def agent() -> AsyncIterator[AgentDouble]:
    async with AgentDouble() as double:
        yield double


@pytest.fixture
async def executor(agent: AgentDouble, tmp_path: Path) -> AsyncIterator[Path]:
    """A running executor; yields its sandbox."""
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    process = await ExecutorProcess.start(agent, sandbox)
    await agent.wait_for_subscriptions(1)
    try:
        yield sandbox
    finally:
        if process.returncode is None and agent.subscribed:
            agent.shutdown()
            with contextlib.suppress(TimeoutError):
                await process.wait(6)
        await process.stop()


def report_of(status: dict[str, object]) -> ExecutionReport | None:
    data = status.get("data")
    return find_report(base64.b64decode(data)) if isinstance(data, str) else None


async def run_to_end(
    agent: AgentDouble, info: dict[str, object], end: str
) -> tuple[ExecutionReport, ExecutionReport]:
    """Launch ``info``; return the reports in its TASK_RUNNING and in its ``end`` update."""
    task_id = agent.launch(info)
    final = await agent.wait_for_update(task_id, end)
    running = [s for s in agent.updates_of(task_id) if s["state"] == "TASK_RUNNING"]
    assert len(running) == 1
    start, completion = report_of(running[0]), report_of(final)
    assert start is not None and completion is not None
    return start, completion


def assert_pair(start: ExecutionReport, completion: ExecutionReport) -> None:
    now = datetime.now(UTC)
    assert start.id == completion.id and len(start.id) <= 40
    assert not start.is_completion and completion.is_completion
    assert completion.start_time == start.start_time
    assert completion.complete_time is not None
    assert now - timedelta(seconds=30) < start.start_time <= completion.complete_time <= now


async def test_a_successful_run_reports_its_start_and_a_successful_completion(
    agent: AgentDouble, executor: Path
) -> None:
    write_script(executor, "app/ok.sh", "echo fine\n")
    start, completion = await run_to_end(
        agent, task_info("ok_job", bootstrap_script="app/ok.sh"), "TASK_FINISHED"
    )
    assert_pair(start, completion)
    assert completion.success is True
    assert completion.failure_cause is None
    assert completion.exit_code == 0


async def test_exit_3_under_log_finishes_the_task_but_reports_a_failure_with_its_cause(
    agent: AgentDouble, executor: Path
) -> None:
    write_script(executor, "app/fail.sh", "echo working\necho 'database refused the login' >&2\nexit 3\n")
    info = task_info("log_job", bootstrap_script="app/fail.sh", error_handler="LOG")
    start, completion = await run_to_end(agent, info, "TASK_FINISHED")
    assert_pair(start, completion)
    assert completion.success is False
    assert completion.exit_code == 3
    assert completion.failure_cause is not None
    assert completion.failure_cause.startswith("run failed with exit code 3 (jobErrorHandlerType LOG)")
    assert "database refused the login" in completion.failure_cause  # the script's stderr tail
    assert "working" not in completion.failure_cause  # stdout is not the cause


async def test_exit_3_under_throw_fails_the_task_with_the_failure_reported(
    agent: AgentDouble, executor: Path
) -> None:
    write_script(executor, "app/fail.sh", "exit 3\n")
    info = task_info("throw_job", bootstrap_script="app/fail.sh", error_handler="THROW")
    start, completion = await run_to_end(agent, info, "TASK_FAILED")
    assert_pair(start, completion)
    assert completion.success is False and completion.exit_code == 3
    assert completion.failure_cause == "run failed with exit code 3 (jobErrorHandlerType THROW)"


async def test_exit_3_under_ignore_finishes_quietly_but_the_run_is_still_a_failure(
    agent: AgentDouble, executor: Path
) -> None:
    write_script(executor, "app/fail.sh", "exit 3\n")
    info = task_info("ignore_job", bootstrap_script="app/fail.sh", error_handler="IGNORE")
    task_id = info["task_id"]["value"]  # type: ignore[index]
    _, completion = await run_to_end(agent, info, "TASK_FINISHED")
    assert "message" not in agent.updates_of(task_id)[-1]
    assert completion.success is False and completion.exit_code == 3


async def test_a_killed_run_is_reported_failed(agent: AgentDouble, executor: Path) -> None:
    write_script(executor, "app/slow.sh", "sleep 30\n")
    info = task_info("killed_job", bootstrap_script="app/slow.sh", kill_grace_seconds=0.5)
    task_id = agent.launch(info)
    await agent.wait_for_update(task_id, "TASK_RUNNING")
    agent.kill(task_id)
    killed = await agent.wait_for_update(task_id, "TASK_KILLED")
    completion = report_of(killed)
    assert completion is not None and completion.success is False
    assert completion.failure_cause is not None and "killed" in completion.failure_cause


async def test_daemon_runs_are_reported_in_messages_sampled_every_n_runs(
    agent: AgentDouble, executor: Path
) -> None:
    write_script(executor, "app/tick.sh", 'echo tick >> "$PWD/ticks"\n')
    info = task_info(
        "daemon_job",
        job_execution_type="DAEMON",
        cron="* * * * * ?",
        bootstrap_script="app/tick.sh",
        sampling=2,
    )
    task_id = agent.launch(info)

    def reports() -> list[ExecutionReport]:
        found = []
        for call in agent.messages:
            data = base64.b64decode(call["message"]["data"])
            found.append(decode_report(data))
        return found

    await until(lambda: sum(r.is_completion for r in reports()) >= 2, timeout=15)
    ticks = (executor / "ticks").read_text().split()
    sampled = reports()
    assert {r.task_id for r in sampled} == {task_id}
    assert TaskId.parse(sampled[0].task_id).job_name == "daemon_job"
    completions = [r for r in sampled if r.is_completion]
    starts = [r for r in sampled if not r.is_completion]
    assert all(r.success is True and r.exit_code == 0 for r in completions)
    assert {r.id for r in completions} <= {r.id for r in starts}, "each completion follows its start"
    # Every other run is sampled: runs 2 and 4 of at least 4, never all of them.
    assert len(ticks) >= 2 * len(completions)
    for call in agent.messages:
        assert call["type"] == "MESSAGE" and call["executor_id"]["value"]
    assert all(report_of(s) is None for s in agent.updates_of(task_id)), "no reports in DAEMON updates"


async def test_a_daemon_run_that_cannot_start_is_not_blamed_on_the_previous_runs_stderr(
    agent: AgentDouble, executor: Path
) -> None:
    """The cause of a run is what that run did: a run refused before it started (its script gone)
    wrote nothing, so its cause is the refusal alone, not the stderr of the run before it."""
    write_script(executor, "app/once.sh", 'rm -- "$0"\necho "first run gave up" >&2\nexit 3\n')
    info = task_info(
        "daemon_gone", job_execution_type="DAEMON", cron="* * * * * ?", bootstrap_script="app/once.sh"
    )
    agent.launch(info)

    def completions() -> list[ExecutionReport]:
        reports = [decode_report(base64.b64decode(call["message"]["data"])) for call in agent.messages]
        return [r for r in reports if r.is_completion]

    await until(lambda: len(completions()) >= 2, timeout=15)
    first, second = completions()[:2]
    assert first.failure_cause is not None and "first run gave up" in first.failure_cause
    assert second.success is False and second.exit_code is None
    assert second.failure_cause is not None and "first run gave up" not in second.failure_cause
