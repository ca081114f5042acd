"""The embedded cluster's Mesos-shaped endpoints: master ``/master/state``, ``/slaves``,
``/frameworks``, ``/tasks`` (paging), ``/state-summary``, ``/redirect``, ``/version``,
``/metrics/snapshot``; agent ``/slave(1)/state`` and ``/files/*``; the v1 operator API on both.

Shapes and rules from Mesos 1.x: the endpoint docs (docs/endpoints/master/*.md,
docs/endpoints/files/*.md), the operator API doc (docs/operator-http-api.md), master.proto and
agent.proto (include/mesos/v1/master/master.proto, include/mesos/v1/agent/agent.proto), and the
JSON writers of src/master/readonly_handler.cpp and src/slave/http.cpp.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.cluster.cluster import EmbeddedCluster
from testkit.cluster import command_task, launch, running_cluster, subscribed
from testkit.polling import until


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmbeddedCluster]:
    async with running_cluster(tmp_path / "cluster") as running:
        yield running


async def _get(url: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(url, params=params)


async def _call(url: str, body: Any, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.post(
            url + "/api/v1", json=body, headers={"Content-Type": "application/json", **headers}
        )


def _executor_directory(cluster: EmbeddedCluster, executor_id: str) -> Path:
    for framework in cluster.agent_state()["frameworks"]:
        for executor in framework["executors"] + framework["completed_executors"]:
            if executor["id"] == executor_id:
                return Path(executor["directory"])
    raise AssertionError(f"executor {executor_id} not in the agent's /state")


async def _finished_tasks(cluster: EmbeddedCluster, names: list[str]) -> str:
    """Run one command task per name to TASK_FINISHED, one after the other; the framework id."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        for used, name in enumerate(names):
            offer = await scheduler.next_offer(after=used)
            await client.accept([offer["id"]["value"]], launch(command_task(offer, name, f"echo {name}")))
            await scheduler.wait_for_state(name, "TASK_FINISHED")
        assert client.framework_id is not None
        return client.framework_id


# --- master ---------------------------------------------------------------------------------------


async def test_master_state_has_mesos_fields_for_master_agent_framework_and_task(
    cluster: EmbeddedCluster,
) -> None:
    """``/master/state`` as readonly_handler.cpp writes it: ``pid``, ``leader_info``, ``slaves``
    with a ``slave(1)@ip:port`` pid, frameworks with ``hostname`` / ``role`` / ``used_resources``,
    tasks with ``slave_id`` / ``statuses``."""
    async with subscribed(cluster.master_url, hostname="scheduler-host") as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "sleeper", "sleep 30")))
        await scheduler.wait_for_state("sleeper", "TASK_RUNNING")
        for path in ("/master/state", "/state"):
            state = (await _get(cluster.master_url + path)).json()
            assert state["pid"] == f"master@127.0.0.1:{cluster.master.port}" == state["leader"]
            assert state["leader_info"]["id"] == state["id"] == cluster.master.master_id
            assert state["leader_info"]["port"] == cluster.master.port
            (slave,) = state["slaves"]
            assert slave["id"] == cluster.agent_id and slave["active"] is True
            assert slave["pid"] == f"slave(1)@{cluster.agent.endpoint}"
            assert slave["resources"]["cpus"] == 2.0 and slave["used_resources"]["cpus"] == pytest.approx(0.1)
            (framework,) = state["frameworks"]
            assert framework["id"] == client.framework_id
            assert framework["hostname"] == "scheduler-host"
            assert framework["role"] == "*" and framework["active"] is True
            assert framework["used_resources"]["mem"] == 32.0
            (task,) = framework["tasks"]
            assert task["id"] == "sleeper" and task["slave_id"] == cluster.agent_id
            assert task["framework_id"] == client.framework_id and task["executor_id"] == ""
            assert task["state"] == "TASK_RUNNING"
            assert [status["state"] for status in task["statuses"]] == [
                "TASK_STAGING",
                "TASK_STARTING",
                "TASK_RUNNING",
            ][-len(task["statuses"]) :]
            assert task["resources"]["cpus"] == pytest.approx(0.1)


async def test_slaves_and_frameworks_endpoints_filter_by_id(cluster: EmbeddedCluster) -> None:
    """``/master/slaves`` answers ``slaves`` and ``recovered_slaves``; ``/master/frameworks``
    ``frameworks``, ``completed_frameworks``, ``unregistered_frameworks`` (``slave_id`` /
    ``framework_id`` select one)."""
    async with subscribed(cluster.master_url) as (client, _):
        for path in ("/master/slaves", "/slaves"):
            slaves = (await _get(cluster.master_url + path)).json()
            assert [slave["id"] for slave in slaves["slaves"]] == [cluster.agent_id]
            assert slaves["recovered_slaves"] == []
            assert slaves["slaves"][0]["unreserved_resources_full"]
        assert (await _get(cluster.master_url + "/slaves", slave_id="nope")).json()["slaves"] == []
        for path in ("/master/frameworks", "/frameworks"):
            frameworks = (await _get(cluster.master_url + path)).json()
            assert [f["id"] for f in frameworks["frameworks"]] == [client.framework_id]
            assert frameworks["completed_frameworks"] == frameworks["unregistered_frameworks"] == []
        other = (await _get(cluster.master_url + "/master/frameworks", framework_id="other")).json()
        assert other["frameworks"] == []


async def test_tasks_endpoint_pages_in_order_of_the_first_status(cluster: EmbeddedCluster) -> None:
    """``/master/tasks``: newest first by default, ``order=asc`` oldest first, ``limit`` (default
    100; -1 means all, as Mesos reads it unsigned) and ``offset``; ``task_id`` selects one;
    a malformed number falls back to its default (readonly_handler.cpp ``tasks``)."""
    framework_id = await _finished_tasks(cluster, ["t1", "t2", "t3"])
    url = cluster.master_url + "/master/tasks"

    async def ids(**params: Any) -> list[str]:
        return [task["id"] for task in (await _get(url, **params)).json()["tasks"]]

    assert await ids() == ["t3", "t2", "t1"]
    assert await ids(order="asc") == ["t1", "t2", "t3"]
    assert await ids(order="asc", limit=2) == ["t1", "t2"]
    assert await ids(order="asc", limit=2, offset=2) == ["t3"]
    assert await ids(order="asc", limit=-1, offset=1) == ["t2", "t3"]
    assert await ids(offset=-1) == []
    assert await ids(limit="many") == ["t3", "t2", "t1"]
    assert await ids(task_id="t2") == ["t2"]
    assert await ids(framework_id="other") == []
    assert [task["state"] for task in (await _get(url, framework_id=framework_id)).json()["tasks"]] == [
        "TASK_FINISHED"
    ] * 3
    assert await ids() == [task["id"] for task in (await _get(cluster.master_url + "/tasks")).json()["tasks"]]


async def test_state_summary_health_redirect_version_and_metrics(cluster: EmbeddedCluster) -> None:
    """``/master/state-summary`` counts tasks per state, ``/master/health`` is 200,
    ``/master/redirect`` 307s to the leader (``//host:port``), ``/version`` has ``version``,
    ``/metrics/snapshot`` has Mesos' ``master/*`` names."""
    await _finished_tasks(cluster, ["counted"])
    summary = (await _get(cluster.master_url + "/master/state-summary")).json()
    assert summary["slaves"][0]["TASK_FINISHED"] == 1
    assert summary["slaves"][0]["id"] == cluster.agent_id
    assert (await _get(cluster.master_url + "/master/health")).status_code == 200
    async with httpx.AsyncClient(timeout=5, follow_redirects=False) as http:
        redirect = await http.get(cluster.master_url + "/master/redirect")
    assert redirect.status_code == 307
    assert redirect.headers["Location"] == f"//127.0.0.1:{cluster.master.port}"
    version = (await _get(cluster.master_url + "/version")).json()
    assert version["version"].startswith("1.")
    metrics = (await _get(cluster.master_url + "/metrics/snapshot")).json()
    assert metrics["master/cpus_total"] == 2.0
    assert metrics["master/tasks_finished"] == 1.0
    assert metrics["master/tasks_running"] == 0.0
    assert metrics["master/frameworks_active"] == 0.0  # the framework above has disconnected
    assert metrics["master/frameworks_disconnected"] == metrics["master/frameworks_inactive"] == 1.0
    assert metrics["master/slaves_active"] == 1.0 and metrics["master/elected"] == 1.0


# --- agent ----------------------------------------------------------------------------------------


async def test_agent_state_shows_executors_with_their_directories(cluster: EmbeddedCluster) -> None:
    """The agent's ``/slave(1)/state``: ``flags.work_dir``, frameworks, executors with
    ``directory`` (the sandbox, under the work dir) and their tasks (src/slave/http.cpp); the
    ``slave/*_used`` metrics count what the running task holds."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "busy", "sleep 30")))
        await scheduler.wait_for_state("busy", "TASK_RUNNING")
        for path in ("/slave(1)/state", "/state"):
            state = (await _get(cluster.agent_url + path)).json()
            assert state["id"] == cluster.agent_id
            assert state["pid"] == f"slave(1)@{cluster.agent.endpoint}"
            assert state["flags"]["work_dir"] == str(cluster.agent.work_dir)
            (framework,) = state["frameworks"]
            assert framework["id"] == client.framework_id
            (executor,) = framework["executors"]
            assert executor["id"] == "busy"
            assert executor["directory"].startswith(state["flags"]["work_dir"] + "/")
            assert Path(executor["directory"]).is_dir()
            assert [task["id"] for task in executor["tasks"]] == ["busy"]
            assert executor["tasks"][0]["state"] == "TASK_RUNNING"
        metrics = (await _get(cluster.agent_url + "/metrics/snapshot")).json()
        assert metrics["slave/tasks_running"] == 1.0 and metrics["slave/registered"] == 1.0
        assert metrics["slave/cpus_used"] == 0.1 and metrics["slave/mem_used"] == 32.0  # the task's
        assert (await _get(cluster.agent_url + "/version")).json()["version"].startswith("1.")
        assert (await _get(cluster.agent_url + "/health")).status_code == 200


async def test_files_read_offsets_lengths_and_the_size_at_offset_minus_one(cluster: EmbeddedCluster) -> None:
    """``/files/read``: ``{"data", "offset"}``; ``offset=-1`` answers the size with empty data;
    ``length`` bounds the chunk; reading at or past the end gives empty data; a bad offset or
    length is 400; a directory is 400 (src/files/files.cpp ``read``)."""
    await _finished_tasks(cluster, ["talker"])
    stdout = str(_executor_directory(cluster, "talker") / "stdout")
    read = cluster.agent_url + "/files/read"
    size = (await _get(read, path=stdout, offset=-1)).json()
    assert size == {"data": "", "offset": len("talker\n")}
    assert (await _get(read, path=stdout, offset=0, length=3)).json() == {"data": "tal", "offset": 0}
    assert (await _get(read, path=stdout, offset=3)).json() == {"data": "ker\n", "offset": 3}
    assert (await _get(read, path=stdout)).json() == {"data": "talker\n", "offset": 0}
    assert (await _get(read, path=stdout, offset=100)).json() == {"data": "", "offset": 7}
    for bad in ({"offset": "x"}, {"offset": -2}, {"length": "ten"}, {"length": -5}):
        response = await _get(read, path=stdout, **bad)
        assert response.status_code == 400, bad
        assert next(iter(bad)) in response.text
    assert (await _get(read, path=os.path.dirname(stdout))).status_code == 400
    assert (await _get(read)).status_code == 400


async def test_files_read_keeps_multibyte_characters_whole(cluster: EmbeddedCluster) -> None:
    """A chunk that would end inside a UTF-8 character stops before it, so ``offset +
    len(data.encode())`` is where the next read starts (``data`` is a JSON string)."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "utf", "printf 'aé€b'")))
        await scheduler.wait_for_state("utf", "TASK_FINISHED")
    stdout = str(_executor_directory(cluster, "utf") / "stdout")
    text, offset = "", 0
    while True:
        chunk = (await _get(cluster.agent_url + "/files/read", path=stdout, offset=offset, length=2)).json()
        if not chunk["data"]:
            break
        text += chunk["data"]
        offset = chunk["offset"] + len(chunk["data"].encode())
    assert text == "aé€b"


async def test_files_refuse_paths_outside_the_sandboxes(cluster: EmbeddedCluster, tmp_path: Path) -> None:
    """Only paths inside executor sandboxes are served, checked after resolving ``..`` and
    symlinks: the agent's own files, other directories and missing files are 404."""
    await _finished_tasks(cluster, ["boxed"])
    sandbox = _executor_directory(cluster, "boxed")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (sandbox / "escape").symlink_to(secret)
    read = cluster.agent_url + "/files/read"
    for path in (
        str(secret),
        str(sandbox / ".." / ".." / ".." / ".." / ".." / "secret.txt"),
        str(sandbox / "escape"),
        str(sandbox / "missing"),
        str(cluster.agent.work_dir / "agent-pids.json"),
        "/etc/passwd",
        "relative/stdout",
    ):
        assert (await _get(read, path=path, offset=0)).status_code == 404, path
        assert (await _get(cluster.agent_url + "/files/browse", path=path)).status_code == 404, path
        assert (await _get(cluster.agent_url + "/files/download", path=path)).status_code == 404, path
    assert (await _get(read, path=str(sandbox / "stdout"), offset=0)).status_code == 200


async def test_files_follow_a_link_to_the_run_inside_the_sandboxes(cluster: EmbeddedCluster) -> None:
    """A ``runs/latest``-style link beside a run's directory reads as the run it points to
    (Mesos' agent serves ``.../executors/<id>/runs/latest``); a link out of the sandboxes does
    not."""
    await _finished_tasks(cluster, ["linked"])
    sandbox = _executor_directory(cluster, "linked")
    latest = sandbox.parent / "latest"
    if not latest.exists():
        latest.symlink_to(sandbox.name)
    chunk = (await _get(cluster.agent_url + "/files/read", path=str(latest / "stdout"), offset=0)).json()
    assert chunk == {"data": "linked\n", "offset": 0}
    listed = (await _get(cluster.agent_url + "/files/browse", path=str(latest))).json()
    assert str(latest / "stdout") in {entry["path"] for entry in listed}
    outside = sandbox.parent / "elsewhere"
    outside.symlink_to(cluster.agent.work_dir)
    assert (await _get(cluster.agent_url + "/files/browse", path=str(outside))).status_code == 404


async def test_files_browse_lists_entries_and_download_sends_bytes(cluster: EmbeddedCluster) -> None:
    """``/files/browse`` entries carry ``path``, ``nlink``, ``size``, ``mtime``, ``mode`` (as
    ``ls -l``), ``uid``, ``gid``; ``/files/download`` sends the file (files.cpp)."""
    await _finished_tasks(cluster, ["listed"])
    sandbox = _executor_directory(cluster, "listed")
    entries = (await _get(cluster.agent_url + "/files/browse", path=str(sandbox))).json()
    by_name = {Path(entry["path"]).name: entry for entry in entries}
    assert {"stdout", "stderr"} <= set(by_name)
    stdout = by_name["stdout"]
    assert stdout["path"] == str(sandbox / "stdout")
    assert stdout["size"] == len("listed\n") and stdout["nlink"] == 1
    assert stdout["mode"].startswith("-rw")
    assert set(stdout) == {"path", "nlink", "size", "mtime", "mode", "uid", "gid"}
    assert isinstance(stdout["uid"], str) and isinstance(stdout["gid"], str)
    download = await _get(cluster.agent_url + "/files/download", path=stdout["path"])
    assert download.status_code == 200 and download.content == b"listed\n"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert (await _get(cluster.agent_url + "/files/browse", path=stdout["path"])).status_code == 400


# --- the operator API -----------------------------------------------------------------------------


async def test_operator_api_answers_master_calls_in_master_proto_shapes(cluster: EmbeddedCluster) -> None:
    """``POST /api/v1`` on the master: ``{"type": T, "<t>": {...}}`` per master.proto's
    Response (docs/operator-http-api.md); GET_FLAGS lists the flags ``/master/state`` shows."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "op", "sleep 30")))
        await scheduler.wait_for_state("op", "TASK_RUNNING")
        health = await _call(cluster.master_url, {"type": "GET_HEALTH"})
        assert health.status_code == 200
        assert health.json() == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
        version = (await _call(cluster.master_url, {"type": "GET_VERSION"})).json()
        assert version["get_version"]["version_info"]["version"].startswith("1.")
        flags = (await _call(cluster.master_url, {"type": "GET_FLAGS"})).json()["get_flags"]["flags"]
        state_flags = (await _get(cluster.master_url + "/master/state")).json()["flags"]
        assert {flag["name"]: flag["value"] for flag in flags} == state_flags  # one set of flags
        agents = (await _call(cluster.master_url, {"type": "GET_AGENTS"})).json()["get_agents"]
        (agent,) = agents["agents"]
        assert agent["agent_info"]["id"] == {"value": cluster.agent_id}
        assert agent["pid"] == f"slave(1)@{cluster.agent.endpoint}" and agent["active"] is True
        frameworks = (await _call(cluster.master_url, {"type": "GET_FRAMEWORKS"})).json()["get_frameworks"]
        (framework,) = frameworks["frameworks"]
        assert framework["framework_info"]["id"] == {"value": client.framework_id}
        assert framework["connected"] is True and "nanoseconds" in framework["registered_time"]
        tasks = (await _call(cluster.master_url, {"type": "GET_TASKS"})).json()["get_tasks"]
        (task,) = tasks["tasks"]
        assert task["task_id"] == {"value": "op"} and task["agent_id"] == {"value": cluster.agent_id}
        assert task["state"] == "TASK_RUNNING" and task["statuses"][-1]["state"] == "TASK_RUNNING"
        executors = (await _call(cluster.master_url, {"type": "GET_EXECUTORS"})).json()
        assert executors["get_executors"]["executors"] == []  # a command task has no custom executor
        state = (await _call(cluster.master_url, {"type": "GET_STATE"})).json()["get_state"]
        assert set(state) == {"get_tasks", "get_executors", "get_frameworks", "get_agents"}
        assert state["get_tasks"]["tasks"][0]["task_id"] == {"value": "op"}


async def test_operator_api_answers_agent_calls_in_agent_proto_shapes(cluster: EmbeddedCluster) -> None:
    """``POST /api/v1`` on the agent (agent.proto): GET_STATE's tasks, executors and frameworks,
    GET_FLAGS with the ``work_dir`` of ``/state``, GET_CONTAINERS with the executor's pid;
    GET_AGENTS is a master call (400 here)."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "here", "sleep 30")))
        await scheduler.wait_for_state("here", "TASK_RUNNING")
        health = (await _call(cluster.agent_url, {"type": "GET_HEALTH"})).json()
        assert health == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
        agent = (await _call(cluster.agent_url, {"type": "GET_AGENT"})).json()["get_agent"]
        assert agent["agent_info"]["id"] == {"value": cluster.agent_id}
        flags = (await _call(cluster.agent_url, {"type": "GET_FLAGS"})).json()["get_flags"]["flags"]
        assert {"name": "work_dir", "value": str(cluster.agent.work_dir)} in flags
        state = (await _call(cluster.agent_url, {"type": "GET_STATE"})).json()["get_state"]
        assert [t["task_id"]["value"] for t in state["get_tasks"]["launched_tasks"]] == ["here"]
        frameworks = state["get_frameworks"]["frameworks"]
        assert [f["framework_info"]["id"]["value"] for f in frameworks] == [client.framework_id]
        containers = (await _call(cluster.agent_url, {"type": "GET_CONTAINERS"})).json()
        (container,) = containers["get_containers"]["containers"]
        assert container["executor_id"] == {"value": "here"}
        assert container["container_status"]["executor_pid"] > 0
        assert (await _call(cluster.agent_url, {"type": "GET_AGENTS"})).status_code == 400


async def test_operator_api_refuses_unknown_and_malformed_calls(cluster: EmbeddedCluster) -> None:
    """Unknown types and bodies that are no Call are 400, a wrong method 405, a missing
    Content-Type 400, protobuf 415, ``UNKNOWN`` and calls this cluster does not serve 501."""
    for url in (cluster.master_url, cluster.agent_url):
        assert (await _call(url, {"type": "GET_EVERYTHING"})).status_code == 400
        assert (await _call(url, {})).status_code == 400
        assert (await _call(url, ["GET_HEALTH"])).status_code == 400
        assert (await _call(url, {"type": "UNKNOWN"})).status_code == 501
        assert (await _call(url, {"type": "SET_LOGGING_LEVEL"})).status_code == 501
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(url + "/api/v1")).status_code == 405
            assert (await http.post(url + "/api/v1", content=b"{")).status_code == 400
            not_json = await http.post(
                url + "/api/v1", content=b"{", headers={"Content-Type": "application/json"}
            )
            assert not_json.status_code == 400
            protobuf = await http.post(
                url + "/api/v1", content=b"\x08\x01", headers={"Content-Type": "application/x-protobuf"}
            )
            assert protobuf.status_code == 415
        assert (await _call(url, {"type": "GET_HEALTH"}, Accept="text/html")).status_code == 406


async def test_a_finished_tasks_sandbox_stays_listed_as_a_completed_executor(
    cluster: EmbeddedCluster,
) -> None:
    """A command task's executor moves to ``completed_executors`` when it ends, its
    ``completed_tasks`` holding the task; its directory stays readable."""
    await _finished_tasks(cluster, ["gone"])
    await until(
        lambda: any(
            executor["id"] == "gone"
            for framework in cluster.agent_state()["frameworks"]
            for executor in framework["completed_executors"]
        ),
        what="completed executor",
    )
    (framework,) = cluster.agent_state()["frameworks"]
    (executor,) = [e for e in framework["completed_executors"] if e["id"] == "gone"]
    assert [task["id"] for task in executor["completed_tasks"]] == ["gone"]
    assert executor["completed_tasks"][0]["state"] == "TASK_FINISHED"
    chunk = (await _get(cluster.agent_url + "/files/read", path=executor["directory"] + "/stdout")).json()
    assert chunk["data"] == "gone\n"


async def test_operator_api_lists_and_reads_sandbox_files_on_the_agent(cluster: EmbeddedCluster) -> None:
    """Agent ``LIST_FILES`` (``file_infos`` with ``mtime`` as TimeInfo, ``mode`` a number) and
    ``READ_FILE`` (``size`` and base64 ``data`` from ``offset`` for ``length``), with the same path
    rules as ``/files`` (agent.proto ``ListFiles`` / ``ReadFile``)."""
    await _finished_tasks(cluster, ["read-me"])
    sandbox = _executor_directory(cluster, "read-me")
    listed = await _call(cluster.agent_url, {"type": "LIST_FILES", "list_files": {"path": str(sandbox)}})
    infos = {Path(info["path"]).name: info for info in listed.json()["list_files"]["file_infos"]}
    assert infos["stdout"]["size"] == len("read-me\n") and "nanoseconds" in infos["stdout"]["mtime"]
    assert infos["stdout"]["mode"] & 0o100000  # a regular file
    stdout = str(sandbox / "stdout")
    chunk = await _call(
        cluster.agent_url, {"type": "READ_FILE", "read_file": {"path": stdout, "offset": 5, "length": 2}}
    )
    assert chunk.json() == {
        "type": "READ_FILE",
        "read_file": {"size": 8, "data": base64.b64encode(b"me").decode()},
    }
    outside = await _call(
        cluster.agent_url, {"type": "READ_FILE", "read_file": {"path": "/etc/passwd", "offset": 0}}
    )
    assert outside.status_code == 404
    negative = await _call(
        cluster.agent_url, {"type": "READ_FILE", "read_file": {"path": stdout, "offset": -1}}
    )
    assert negative.status_code == 400 and "offset" in negative.text
    assert (await _call(cluster.agent_url, {"type": "READ_FILE"})).status_code == 400


async def test_state_answers_for_a_task_whose_allocation_info_is_not_an_object(
    cluster: EmbeddedCluster,
) -> None:
    """A task's role on the endpoints is its resources' ``allocation_info.role`` (master.proto's
    ``Task.role``); a resource whose ``allocation_info`` is not an object names no role, and both
    the master's and the agent's ``/state`` still answer, with the framework's role ``*``."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "odd", "sleep 30")
        for resource in task["resources"]:
            resource["allocation_info"] = "jobs"
        await client.accept([offer["id"]["value"]], launch(task))
        await scheduler.wait_for_state("odd", "TASK_RUNNING")
        master = await _get(cluster.master_url + "/master/state")
        assert master.status_code == 200
        (framework,) = master.json()["frameworks"]
        assert [(t["id"], t["role"]) for t in framework["tasks"]] == [("odd", "*")]
        agent = await _get(cluster.agent_url + "/slave(1)/state")
        assert agent.status_code == 200
        (executor,) = agent.json()["frameworks"][0]["executors"]
        assert [(t["id"], t["role"]) for t in executor["tasks"]] == [("odd", "*")]
