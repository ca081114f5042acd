"""The client that reads a Mesos master and its agents (server/mesos/operator.py), against the
embedded cluster with running tasks.

The rule of ``app_sandboxes`` is ElasticJob-Cloud 3.0's ``GET /api/operate/sandbox``
(CloudOperationRestfulApi: the master's ``/state``, executors whose id starts with
``<app>@-@``, the agent from ``slaves[].pid``, its ``/state``'s ``directory`` without
``flags.work_dir``). Endpoint shapes: Mesos' docs/endpoints (master ``/tasks``, ``/slaves``,
agent ``/state``, ``/files/read``).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.cluster.cluster import EmbeddedCluster
from server.mesos.errors import CallRejected, ProtocolError, TransportError
from server.mesos.operator import (
    FileChunk,
    FileNotFound,
    TaskSandbox,
    app_sandboxes,
    read_file,
    task_sandbox,
)
from testkit.cluster import command_task, executor_info, executor_task, launch, running_cluster, subscribed


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmbeddedCluster]:
    async with running_cluster(tmp_path / "cluster") as running:
        yield running


async def test_app_sandboxes_are_the_apps_executor_directories_without_the_work_dir(
    cluster: EmbeddedCluster,
) -> None:
    """Only executors of the app (id ``<app>@-@...``) of this framework are listed, with the
    agent's hostname and a path that, under the agent's work dir, is the sandbox on disk."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        demo = executor_info(f"demo@-@{cluster.agent_id}")
        other = executor_info(f"demo-other@-@{cluster.agent_id}")
        await client.accept(
            [offer["id"]["value"]],
            launch(
                executor_task(offer, "demo-task", demo, action="run"),
                executor_task(offer, "other-task", other, action="run"),
            ),
        )
        await scheduler.wait_for_state("demo-task", "TASK_RUNNING")
        await scheduler.wait_for_state("other-task", "TASK_RUNNING")
        framework_id = str(client.framework_id)

        (sandbox,) = await app_sandboxes(cluster.master_url, framework_id, "demo")
        assert sandbox.hostname == cluster.agent.hostname
        work_dir = str(cluster.agent.work_dir)
        assert not sandbox.path.startswith(work_dir)
        on_disk = Path(work_dir + sandbox.path)
        assert on_disk.is_dir() and (on_disk / "executor-env.json").is_file()
        assert "demo-task" in (on_disk / "launched.txt").read_text()

        (other_sandbox,) = await app_sandboxes(cluster.master_url, framework_id, "demo-other")
        assert other_sandbox.path != sandbox.path
        assert await app_sandboxes(cluster.master_url, framework_id, "dem") == []
        assert await app_sandboxes(cluster.master_url, "another-framework", "demo") == []


async def test_task_sandbox_finds_a_running_and_a_completed_tasks_directory(cluster: EmbeddedCluster) -> None:
    """A running task's and a finished task's executor directory, on the agent named by the
    master's ``slaves[].pid``; an unknown task is ``None``."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        runner = executor_info(f"app@-@{cluster.agent_id}")
        await client.accept(
            [offer["id"]["value"]],
            launch(
                executor_task(offer, "running", runner, action="run"),
                command_task(offer, "done", "echo finished"),
            ),
        )
        await scheduler.wait_for_state("running", "TASK_RUNNING")
        await scheduler.wait_for_state("done", "TASK_FINISHED")
        framework_id = str(client.framework_id)

        running = await task_sandbox(cluster.master_url, framework_id, "running")
        assert isinstance(running, TaskSandbox)
        assert running.agent_id == cluster.agent_id
        assert running.agent_url == cluster.agent_url
        assert running.hostname == cluster.agent.hostname
        assert (Path(running.directory) / "launched.txt").read_text().split() == ["running"]

        done = await task_sandbox(cluster.master_url, framework_id, "done")
        assert done is not None and done.directory != running.directory
        assert (Path(done.directory) / "stdout").read_text() == "finished\n"

        assert await task_sandbox(cluster.master_url, framework_id, "never-launched") is None
        assert await task_sandbox(cluster.master_url, "another-framework", "running") is None


async def test_a_tasks_stdout_is_read_back_in_chunks(cluster: EmbeddedCluster) -> None:
    """``read_file`` goes through the agent's ``/files/read``: chunks from an offset, the size at
    offset -1, empty data at the end, FileNotFound for a missing or outside path."""
    lines = "".join(f"line {number}\n" for number in range(200))
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        command = 'for i in $(seq 0 199); do echo "line $i"; done'
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "printer", command)))
        await scheduler.wait_for_state("printer", "TASK_FINISHED")
        found = await task_sandbox(cluster.master_url, str(client.framework_id), "printer")
    assert found is not None
    stdout = found.directory + "/stdout"
    size = await read_file(found.agent_url, stdout, offset=-1, length=-1)
    assert size == FileChunk(data=b"", offset=len(lines))
    read, offset = b"", 0
    while True:
        chunk = await read_file(found.agent_url, stdout, offset=offset, length=500)
        assert chunk.offset == offset and len(chunk.data) <= 500
        if not chunk.data:
            break
        read += chunk.data
        offset += len(chunk.data)
    assert read.decode() == lines
    with pytest.raises(FileNotFound) as missing:
        await read_file(found.agent_url, found.directory + "/no-such-file", offset=0, length=10)
    assert missing.value.status == 404
    with pytest.raises(FileNotFound):
        await read_file(found.agent_url, str(cluster.agent.work_dir / "agent-pids.json"), offset=0, length=10)
    with pytest.raises(CallRejected) as bad:
        await read_file(found.agent_url, stdout, offset=-7, length=10)
    assert bad.value.status == 400


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_master_or_agent_is_a_transport_error() -> None:
    """Connection refused is a TransportError with the httpx error as its cause."""
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(TransportError) as raised:
        await app_sandboxes(url, "framework", "app")
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    with pytest.raises(TransportError):
        await read_file(url, "/tmp/x", offset=0, length=1)


async def test_an_answer_that_is_not_mesos_json_is_a_protocol_error() -> None:
    """A master that answers HTML (a proxy's error page), or ``/files/read`` without ``data``,
    is a ProtocolError, not a crash (the transport seam stands in for the broken peer)."""

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/files/read":
            return httpx.Response(200, json={"offset": 0})
        return httpx.Response(200, text="<html>gateway</html>")

    transport = httpx.MockTransport(broken)
    with pytest.raises(ProtocolError):
        await app_sandboxes("http://master", "framework", "app", transport=transport)
    with pytest.raises(ProtocolError):
        await read_file("http://agent", "/x", offset=0, length=1, transport=transport)


async def test_json_that_is_not_an_object_is_a_protocol_error() -> None:
    """Every endpoint read here answers a JSON object (Mesos' docs/endpoints); a peer that
    answers a JSON array or string instead is a ProtocolError, not a crash."""

    def listing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=["not", "an", "object"])

    transport = httpx.MockTransport(listing)
    with pytest.raises(ProtocolError):
        await app_sandboxes("http://master", "framework", "app", transport=transport)
    with pytest.raises(ProtocolError):
        await task_sandbox("http://master", "framework", "task", transport=transport)
    with pytest.raises(ProtocolError):
        await read_file("http://agent", "/x", offset=0, length=1, transport=transport)
