"""The embedded agent: command tasks, custom executors (the test executor in testkit/cluster.py),
the fetcher in sandboxes, kills and shutdowns, and the executor API's refusals."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pwd
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.cluster.agent.records import ExecutorState
from server.cluster.cluster import EmbeddedCluster
from testkit.cluster import (
    command_task,
    executor_info,
    executor_task,
    group_alive,
    launch,
    running_cluster,
    subscribed,
    wait_gone,
)
from testkit.polling import until


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmbeddedCluster]:
    async with running_cluster(tmp_path / "cluster") as running:
        yield running


def _executor(cluster: EmbeddedCluster, executor_id: str, *, live: bool = True) -> dict[str, Any]:
    """What the agent records of an executor run: its type, state, sandbox, pid and exit status."""
    for run in cluster.agent.executors():
        if run.executor_id == executor_id and (run.state is not ExecutorState.TERMINATED) == live:
            return {
                "id": run.executor_id,
                "type": "COMMAND" if run.command_task else "CUSTOM",
                "state": run.state.value,
                "sandbox": str(run.sandbox),
                "pid": run.process.pid if run.process is not None else None,
                "exit_status": run.exit_status,
            }
    raise AssertionError(f"executor {executor_id} not on the agent")


def _nanoseconds(seconds: float) -> dict[str, int]:
    return {"nanoseconds": int(seconds * 1e9)}


# --- command tasks --------------------------------------------------------------------------------


async def test_command_task_runs_to_finished_with_its_output_in_the_sandbox(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "hello", 'echo hello; echo "$MESOS_EXECUTOR_ID" >&2')
        await client.accept([offer["id"]["value"]], launch(task))
        finished = await scheduler.wait_for_state("hello", "TASK_FINISHED")
        assert scheduler.states_of("hello", reliable_only=True) == [
            "TASK_STARTING",
            "TASK_RUNNING",
            "TASK_FINISHED",
        ]
        assert finished["source"] == "SOURCE_EXECUTOR"
        assert finished["agent_id"]["value"] == cluster.agent_id
        assert finished["executor_id"]["value"] == "hello"
        await until(
            lambda: cluster.state()["frameworks"][0]["tasks"] == [], what="acknowledged terminal update"
        )
        (done,) = cluster.state()["frameworks"][0]["completed_tasks"]
        assert done["state"] == "TASK_FINISHED"
        assert cluster.agent.pending_updates(str(client.framework_id), "hello") == []
        sandbox = Path(_executor(cluster, "hello", live=False)["sandbox"])
        runs = (
            cluster.agent.work_dir / "slaves" / cluster.agent_id / "frameworks" / client.framework_id
        ) / "executors/hello/runs"
        assert sandbox.parent == runs  # Mesos' src/slave/paths.cpp layout
        assert (runs / "latest").resolve() == sandbox.resolve()
        assert (sandbox / "stdout").read_text() == "hello\n"
        assert (sandbox / "stderr").read_text() == "hello\n"


async def test_failing_command_task_is_failed_with_its_exit_status(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "broken", "exit 3")))
        failed = await scheduler.wait_for_state("broken", "TASK_FAILED")
        assert "status 3" in failed["message"]


async def test_kill_sends_sigterm_then_sigkill_after_the_grace_period(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url, capabilities=("PARTITION_AWARE", "TASK_KILLING_STATE")) as (
        client,
        scheduler,
    ):
        offer = await scheduler.next_offer(after=0)
        stubborn = command_task(
            offer,
            "stubborn",
            "trap '' TERM; sleep 30 & wait; sleep 30",
            kill_policy={"grace_period": _nanoseconds(0.5)},
        )
        polite = command_task(offer, "polite", "exec sleep 30")
        await client.accept([offer["id"]["value"]], launch(stubborn, polite))
        await scheduler.wait_for_state("stubborn", "TASK_RUNNING")
        await scheduler.wait_for_state("polite", "TASK_RUNNING")
        stubborn_group = _executor(cluster, "stubborn")["pid"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.kill("polite")
        await scheduler.wait_for_state("polite", "TASK_KILLED")
        assert loop.time() - started < 0.4, "a process that honours SIGTERM is not kept for the grace period"
        started = loop.time()
        await client.kill("stubborn")
        await scheduler.wait_for_state("stubborn", "TASK_KILLING")
        killed = await scheduler.wait_for_state("stubborn", "TASK_KILLED")
        assert 0.45 <= loop.time() - started < 2.0
        assert "SIGKILL" in killed["message"]
        assert not group_alive(stubborn_group)


async def test_command_past_its_max_completion_time_fails(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "slow", "sleep 30", max_completion_time=_nanoseconds(0.3))
        await client.accept([offer["id"]["value"]], launch(task))
        failed = await scheduler.wait_for_state("slow", "TASK_FAILED")
        assert failed["reason"] == "REASON_MAX_COMPLETION_TIME_REACHED"


# --- fetching -------------------------------------------------------------------------------------


def _app_tarball(directory: Path) -> Path:
    source = directory / "src" / "app"
    source.mkdir(parents=True)
    (source / "run.sh").write_text('echo "from the app in $(basename "$PWD")"\n')
    archive = directory / "app.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="app")
    return archive


async def test_fetched_tarball_is_extracted_into_the_sandbox(
    cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    archive = _app_tarball(tmp_path)
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "app", "sh app/run.sh")
        task["command"]["uris"] = [{"value": archive.as_uri(), "extract": True, "cache": True}]
        await client.accept([offer["id"]["value"]], launch(task))
        await scheduler.wait_for_state("app", "TASK_FINISHED")
        sandbox = Path(cluster.agent_state()["frameworks"][0]["completed_executors"][0]["directory"])
        assert (sandbox / "app" / "run.sh").is_file()
        assert (sandbox / "stdout").read_text() == f"from the app in {sandbox.name}\n"


async def test_missing_uri_fails_the_task_without_starting_it(
    cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    missing = (tmp_path / "nowhere" / "app.tar.gz").as_uri()
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "unfetched", "echo should not run")
        task["command"]["uris"] = [{"value": missing}]
        executor = executor_info("unfetched-executor")
        executor["command"]["uris"] = [{"value": missing}]
        await client.accept(
            [offer["id"]["value"]], launch(task, executor_task(offer, "unfetched-by-executor", executor))
        )
        for task_id in ("unfetched", "unfetched-by-executor"):
            failed = await scheduler.wait_for_state(task_id, "TASK_FAILED")
            assert failed["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
            assert failed["source"] == "SOURCE_AGENT"
            assert missing in failed["message"]
            assert scheduler.states_of(task_id) == ["TASK_FAILED"]
        await until(
            lambda: len(cluster.state()["frameworks"][0]["completed_tasks"]) == 2, what="acknowledged"
        )
        async with httpx.AsyncClient(timeout=5.0) as http:
            answer = await http.post(cluster.master_url + "/api/v1", json={"type": "GET_TASKS"})
        for task in answer.json()["get_tasks"]["completed_tasks"]:
            last = task["statuses"][-1]
            assert last["state"] == "TASK_FAILED" and last["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
            assert missing in last["message"], "the operator API tells why the task failed"


async def test_a_task_that_could_not_be_fetched_leaves_no_sandbox(
    cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    """Nothing ran in it, and the status names the URI: a failing app relaunched in a loop must
    not fill the disk with empty sandboxes."""
    missing = (tmp_path / "nowhere" / "app.tar.gz").as_uri()
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "unfetched-sandbox", "echo should not run")
        task["command"]["uris"] = [{"value": missing}]
        executor = executor_info("unfetched-sandbox-executor")
        executor["command"]["uris"] = [{"value": missing}]
        await client.accept(
            [offer["id"]["value"]],
            launch(task, executor_task(offer, "unfetched-sandbox-by-executor", executor)),
        )
        for task_id in ("unfetched-sandbox", "unfetched-sandbox-by-executor"):
            await scheduler.wait_for_state(task_id, "TASK_FAILED")
        await until(
            lambda: (
                {"unfetched-sandbox", "unfetched-sandbox-executor"}
                <= {e["id"] for e in cluster.agent_state()["frameworks"][0]["completed_executors"]}
            ),
            what="executors completed",
        )
        for executor_state in cluster.agent_state()["frameworks"][0]["completed_executors"]:
            if executor_state["id"].startswith("unfetched-sandbox"):
                sandbox = Path(executor_state["directory"])
                assert not sandbox.exists()
                # runs/latest went with it, and so did the emptied executor directory.
                assert not (sandbox.parent / "latest").is_symlink()
                assert not sandbox.parent.parent.exists()
                assert not sandbox.parent.exists()


# --- custom executors -----------------------------------------------------------------------------


async def test_custom_executor_is_started_once_and_reused_by_its_tasks(cluster: EmbeddedCluster) -> None:
    executor = executor_info(
        "reused",
        command={
            "value": "",
            "shell": True,
            "environment": {"variables": [{"name": "GREETING", "value": "hi"}]},
        },
    )
    executor["command"]["value"] = executor_info("x")["command"]["value"]
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept(
            [offer["id"]["value"]], launch(executor_task(offer, "one", executor)), refuse_seconds=0
        )
        offer = await scheduler.next_offer(after=1)
        await scheduler.wait_for_state("one", "TASK_FINISHED")
        assert offer["executor_ids"] == [{"value": "reused"}]
        await client.accept([offer["id"]["value"]], launch(executor_task(offer, "two", executor)))
        await scheduler.wait_for_state("two", "TASK_FINISHED")
        for task_id in ("one", "two"):
            assert scheduler.states_of(task_id, reliable_only=True) == ["TASK_RUNNING", "TASK_FINISHED"]
            assert scheduler.last_update(task_id)["executor_id"]["value"] == "reused"
        live = _executor(cluster, "reused")
        assert live["type"] == "CUSTOM" and live["state"] == "RUNNING"
        sandbox = Path(live["sandbox"])
        assert (sandbox / "launched.txt").read_text().split() == ["one", "two"]
        environment = json.loads((sandbox / "executor-env.json").read_text())
        assert environment["GREETING"] == "hi"
        assert environment["MESOS_FRAMEWORK_ID"] == client.framework_id
        assert environment["MESOS_EXECUTOR_ID"] == "reused"
        assert environment["MESOS_SANDBOX"] == environment["MESOS_DIRECTORY"] == str(sandbox)
        assert environment["MESOS_AGENT_ENDPOINT"] == cluster.agent.endpoint
        assert environment["MESOS_SLAVE_ID"] == cluster.agent_id
        assert environment["MESOS_SLAVE_PID"] == f"slave(1)@{cluster.agent.endpoint}"
        assert environment["MESOS_HTTP_COMMAND_EXECUTOR"] == "0"
        assert environment["MESOS_ALLOCATION_ROLE"] == "*"
        assert environment["MESOS_CHECKPOINT"] == "1"
        assert environment["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "1secs"
        assert environment["MESOS_RECOVERY_TIMEOUT"] == "15mins"
        acknowledged = sandbox / "acknowledged.txt"
        await until(
            lambda: acknowledged.is_file() and len(acknowledged.read_text().split()) == 8,
            what="ACKNOWLEDGED for each of the four UPDATE calls",
        )


async def test_task_whose_executor_info_differs_from_the_running_executor_is_refused(
    cluster: EmbeddedCluster,
) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept(
            [offer["id"]["value"]],
            launch(executor_task(offer, "runs", executor_info("shared"), action="run")),
            refuse_seconds=0,
        )
        await scheduler.wait_for_state("runs", "TASK_RUNNING")
        offer = await scheduler.next_offer(after=1)
        different = executor_info("shared", cpus=0.2)
        await client.accept([offer["id"]["value"]], launch(executor_task(offer, "odd", different)))
        error = await scheduler.wait_for_state("odd", "TASK_ERROR")
        assert error["reason"] == "REASON_TASK_INVALID"
        assert "not compatible" in error["message"]


async def test_executor_exit_fails_its_tasks_and_reports_the_failure(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        executor = executor_info("fragile")
        await client.accept(
            [offer["id"]["value"]],
            launch(executor_task(offer, "steady", executor, action="run")),
            refuse_seconds=0,
        )
        await scheduler.wait_for_state("steady", "TASK_RUNNING")
        pgid = _executor(cluster, "fragile")["pid"]
        offer = await scheduler.next_offer(after=1)
        await client.accept(
            [offer["id"]["value"]], launch(executor_task(offer, "crash", executor, action="crash"))
        )
        failed = await scheduler.wait_for_state("steady", "TASK_FAILED")
        assert failed["reason"] == "REASON_EXECUTOR_TERMINATED"
        assert failed["source"] == "SOURCE_AGENT"
        await scheduler.wait_until(lambda: bool(scheduler.failures), what="FAILURE")
        assert scheduler.failures == [(cluster.agent_id, "fragile", 3 << 8)]
        await scheduler.wait_for_state("crash", "TASK_FAILED")
        assert not group_alive(pgid)
        assert _executor(cluster, "fragile", live=False)["exit_status"] == 3


async def test_kill_and_shutdown_reach_the_custom_executor(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        executor = executor_info("obedient")
        tasks = [executor_task(offer, name, executor, action="run", cpus=0.5) for name in ("first", "second")]
        await client.accept([offer["id"]["value"]], launch(*tasks))
        await scheduler.wait_for_state("second", "TASK_RUNNING")
        await client.kill("first")
        killed = await scheduler.wait_for_state("first", "TASK_KILLED")
        assert killed["source"] == "SOURCE_EXECUTOR"
        pgid = _executor(cluster, "obedient")["pid"]
        await client.shutdown("obedient", cluster.agent_id)
        await scheduler.wait_for_state("second", "TASK_KILLED")
        await scheduler.wait_until(lambda: bool(scheduler.failures), what="FAILURE")
        assert scheduler.failures == [(cluster.agent_id, "obedient", 0)]
        assert await wait_gone(pgid)


async def test_framework_messages_reach_the_executor_and_come_back(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept(
            [offer["id"]["value"]],
            launch(executor_task(offer, "listener", executor_info("echo"), action="run")),
        )
        await scheduler.wait_for_state("listener", "TASK_RUNNING")
        await client.message(cluster.agent_id, "echo", b"ping")
        await scheduler.wait_until(lambda: bool(scheduler.messages), what="MESSAGE")
        assert scheduler.messages == [(cluster.agent_id, "echo", b"echo:ping")]


async def test_executor_that_never_subscribes_is_killed_and_its_task_failed(tmp_path: Path) -> None:
    async with (
        running_cluster(tmp_path, executor_registration_timeout=0.5) as cluster,
        subscribed(cluster.master_url) as (client, scheduler),
    ):
        offer = await scheduler.next_offer(after=0)
        silent = executor_info("silent", command={"value": "exec sleep 30", "shell": True})
        await client.accept([offer["id"]["value"]], launch(executor_task(offer, "waiting", silent)))
        await until(lambda: bool(cluster.state()["frameworks"][0]["executors"]), what="executor start")
        await until(lambda: _executor(cluster, "silent")["pid"] is not None, what="executor pid")
        pgid = _executor(cluster, "silent")["pid"]
        failed = await scheduler.wait_for_state("waiting", "TASK_FAILED", timeout=3.0)
        assert failed["reason"] == "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
        assert await wait_gone(pgid)


async def test_executor_api_refuses_unknown_and_unsubscribed_callers(tmp_path: Path) -> None:
    async with (
        running_cluster(tmp_path) as cluster,
        subscribed(cluster.master_url) as (client, scheduler),
        httpx.AsyncClient(timeout=5.0) as http,
    ):
        offer = await scheduler.next_offer(after=0)
        silent = executor_info("mute", command={"value": "exec sleep 30", "shell": True})
        await client.accept([offer["id"]["value"]], launch(executor_task(offer, "parked", silent)))
        await until(lambda: bool(cluster.state()["frameworks"][0]["executors"]), what="executor start")
        endpoint = cluster.agent_url + "/api/v1/executor"

        def call(
            call_type: str, framework_id: str | None, executor_id: str, **payload: Any
        ) -> dict[str, Any]:
            return {
                "type": call_type,
                "framework_id": {"value": framework_id},
                "executor_id": {"value": executor_id},
                **payload,
            }

        status = {
            "task_id": {"value": "parked"},
            "state": "TASK_RUNNING",
            "source": "SOURCE_EXECUTOR",
            "uuid": base64.b64encode(b"0123456789abcdef").decode(),
        }
        framework_id = client.framework_id
        assert (
            await http.post(endpoint, content=b"{}", headers={"Content-Type": "text/plain"})
        ).status_code == 415
        assert (await http.post(endpoint, json=call("UPDATE", "nobody", "mute"))).status_code == 400
        assert (await http.post(endpoint, json=call("UPDATE", framework_id, "nobody"))).status_code == 400
        early = await http.post(
            endpoint, json=call("UPDATE", framework_id, "mute", update={"status": status})
        )
        assert early.status_code == 403, early.text
        assert (await http.post(endpoint, json={"type": "HEARTBEAT"})).status_code == 202


async def test_stop_kills_every_executor_and_task(tmp_path: Path) -> None:
    async with running_cluster(tmp_path) as cluster, subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept(
            [offer["id"]["value"]],
            launch(
                command_task(offer, "command", "sleep 30"),
                executor_task(offer, "custom", executor_info("stays"), action="run"),
            ),
        )
        await scheduler.wait_for_state("command", "TASK_RUNNING")
        await scheduler.wait_for_state("custom", "TASK_RUNNING")
        groups = [_executor(cluster, "command")["pid"], _executor(cluster, "stays")["pid"]]
        await cluster.stop()
        assert not any(group_alive(pgid) for pgid in groups)


# --- Mesos' environment and user switching --------------------------------------------------------

#: What Mesos' agent gives a command task (``executorEnvironment`` in ``src/slave/slave.cpp``, then
#: the containerizer's ``MESOS_SANDBOX``; the command executor passes its own environment on,
#: ``src/launcher/executor.cpp``), for a framework that does not checkpoint.
MESOS_COMMAND_TASK_VARIABLES = {
    "LIBPROCESS_PORT",
    "MESOS_FRAMEWORK_ID",
    "MESOS_EXECUTOR_ID",
    "MESOS_DIRECTORY",
    "MESOS_SANDBOX",
    "MESOS_SLAVE_ID",
    "MESOS_SLAVE_PID",
    "MESOS_AGENT_ENDPOINT",
    "MESOS_CHECKPOINT",
    "MESOS_HTTP_COMMAND_EXECUTOR",
    "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
    "MESOS_ALLOCATION_ROLE",
}


async def test_command_task_gets_exactly_mesos_variables(tmp_path: Path) -> None:
    """Mesos ``src/slave/slave.cpp`` (``executorEnvironment``) and the "Mesos containerizer"
    docs: no ``MESOS_TASK_ID``, ``MESOS_AGENT_ID`` or ``MESOS_CONTAINER_ID``; the executor id of
    a command task is its task id; ``MESOS_SLAVE_PID`` is ``slave(1)@ip:port``."""
    base = {"PATH": os.environ["PATH"]}
    async with (
        running_cluster(tmp_path / "cluster", environment=base) as cluster,
        subscribed(cluster.master_url, checkpoint=False) as (client, scheduler),
    ):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "env-dump", "env > env.txt")
        task["command"]["environment"] = {"variables": [{"name": "OWN", "value": "mine"}]}
        await client.accept([offer["id"]["value"]], launch(task))
        await scheduler.wait_for_state("env-dump", "TASK_FINISHED")
        sandbox = _sandbox_of(cluster, "env-dump")
        lines = (sandbox / "env.txt").read_text().splitlines()
    environment = dict(line.split("=", 1) for line in lines if "=" in line)
    mesos = {name for name in environment if name.startswith(("MESOS_", "LIBPROCESS_"))}
    assert mesos == MESOS_COMMAND_TASK_VARIABLES
    assert environment["MESOS_EXECUTOR_ID"] == "env-dump"
    assert environment["MESOS_SLAVE_ID"] == cluster.agent_id
    assert environment["MESOS_SLAVE_PID"] == f"slave(1)@{cluster.agent.endpoint}"
    assert environment["MESOS_SANDBOX"] == environment["MESOS_DIRECTORY"] == str(sandbox)
    assert environment["MESOS_CHECKPOINT"] == "0" and environment["MESOS_ALLOCATION_ROLE"] == "*"
    assert environment["OWN"] == "mine"


def _sandbox_of(cluster: EmbeddedCluster, task_id: str) -> Path:
    """The sandbox of a task's executor: its ``directory`` in the agent's ``/state``."""
    state = cluster.agent_state()
    for framework in state["frameworks"] + state["completed_frameworks"]:
        for executor in framework["executors"] + framework["completed_executors"]:
            if any(task["id"] == task_id for task in executor["tasks"] + executor["completed_tasks"]):
                return Path(executor["directory"])
    raise AssertionError(f"task {task_id} not in the agent's /state")


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="user switching needs the agent to run as root")


@root_only
async def test_tasks_run_as_the_command_user_else_the_framework_user(cluster: EmbeddedCluster) -> None:
    """Mesos' agent with ``--switch_user`` (the default) runs a task as ``CommandInfo.user``, else
    ``FrameworkInfo.user``, and chowns its sandbox to that user (``src/slave/paths.cpp``,
    ``createSandboxDirectory``; docs "Agent options: --switch_user")."""
    nobody = pwd.getpwnam("nobody")
    async with subscribed(cluster.master_url, user="nobody") as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        as_framework = command_task(offer, "as-framework", "id -un")
        as_command = command_task(offer, "as-command", "id -un")
        as_command["command"]["user"] = "root"
        await client.accept([offer["id"]["value"]], launch(as_framework, as_command))
        await scheduler.wait_for_state("as-framework", "TASK_FINISHED")
        await scheduler.wait_for_state("as-command", "TASK_FINISHED")
        framework_sandbox = _sandbox_of(cluster, "as-framework")
        command_sandbox = _sandbox_of(cluster, "as-command")
    assert (framework_sandbox / "stdout").read_text() == "nobody\n"
    assert framework_sandbox.stat().st_uid == nobody.pw_uid
    assert (framework_sandbox / "stdout").stat().st_uid == nobody.pw_uid
    assert (command_sandbox / "stdout").read_text() == "root\n"


@root_only
async def test_a_user_that_does_not_exist_drops_the_task_without_a_sandbox(cluster: EmbeddedCluster) -> None:
    """Mesos ``src/slave/slave.cpp`` and ``src/slave/paths.cpp``: the executor directory cannot be
    chowned to an unknown user, so the task ends ``TASK_DROPPED`` (``TASK_LOST`` without
    PARTITION_AWARE) from the agent with ``REASON_EXECUTOR_TERMINATED`` and "Failed to create
    executor directory ...: Failed to chown directory to 'x': No such user 'x'"; nothing runs."""
    async with subscribed(cluster.master_url, user="no-such-user-h9") as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "homeless", "touch ran")))
        dropped = await scheduler.wait_for_state("homeless", "TASK_DROPPED")
    assert dropped["source"] == "SOURCE_AGENT"
    assert dropped["reason"] == "REASON_EXECUTOR_TERMINATED"
    assert dropped["message"].startswith("Failed to create executor directory '")
    assert dropped["message"].endswith(
        "Failed to chown directory to 'no-such-user-h9': No such user 'no-such-user-h9'"
    )
    runs = list(cluster.agent.work_dir.glob("slaves/*/frameworks/*/executors/homeless/runs/*"))
    assert runs == []


@root_only
async def test_without_switch_user_tasks_run_as_the_agent(tmp_path: Path) -> None:
    """Mesos' ``--switch_user=false``: tasks run as the agent's own user, whatever the framework
    says (docs "Agent options")."""
    async with (
        running_cluster(tmp_path / "cluster", switch_user=False) as cluster,
        subscribed(cluster.master_url, user="no-such-user-h9") as (client, scheduler),
    ):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "as-agent", "id -un")))
        await scheduler.wait_for_state("as-agent", "TASK_FINISHED")
        sandbox = _sandbox_of(cluster, "as-agent")
    assert (sandbox / "stdout").read_text() == pwd.getpwuid(os.geteuid()).pw_name + "\n"


async def test_allocation_role_is_the_one_the_tasks_resources_were_allocated_to(tmp_path: Path) -> None:
    """``MESOS_ALLOCATION_ROLE`` (Mesos ``src/slave/slave.cpp``, ``executorEnvironment``) is the
    role of the resources' ``allocation_info``: a MULTI_ROLE framework's task launched on an
    offer for ``jobs`` sees ``jobs``."""
    base = {"PATH": os.environ["PATH"]}
    async with (
        running_cluster(tmp_path / "cluster", environment=base) as cluster,
        subscribed(cluster.master_url, role="jobs") as (client, scheduler),
    ):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "role-dump", "env > env.txt")
        for resource in task["resources"]:
            resource["allocation_info"] = {"role": "jobs"}
        await client.accept([offer["id"]["value"]], launch(task))
        await scheduler.wait_for_state("role-dump", "TASK_FINISHED")
        lines = (_sandbox_of(cluster, "role-dump") / "env.txt").read_text().splitlines()
    environment = dict(line.split("=", 1) for line in lines if "=" in line)
    assert environment["MESOS_ALLOCATION_ROLE"] == "jobs"
