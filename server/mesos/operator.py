"""What the project reads from a Mesos master and its agents over their HTTP endpoints.

Written against the JSON of a real Mesos 1.x master and agent (``/state``, ``/master/tasks``,
``/files/read``), so it works the same against a real cluster and against the embedded one:

* :func:`app_sandboxes`: the sandboxes of an app's executors (ElasticJob-Cloud 3.0's rule: the
  framework's executors whose id starts with ``<app>@-@``, each agent found from the master's
  ``slaves[].pid``, its ``/state`` read, the path given without the agent's ``work_dir``).
* :func:`task_sandbox`: where a running or completed task's executor directory is.
* :func:`read_file`: a chunk of a sandbox file through the agent's ``/files/read``.

Every call takes ``timeout`` (seconds, per request) and ``transport`` (an ``httpx`` transport,
the seam tests use). Errors: :class:`~server.mesos.errors.TransportError` when a master or agent
cannot be reached, :class:`~server.mesos.errors.ProtocolError` for an answer that is not the
expected JSON, :class:`FileNotFound` for a ``404`` of ``/files/read``, and
:class:`~server.mesos.errors.CallRejected` for any other unexpected status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from server.mesos.errors import CallRejected, ProtocolError, TransportError

__all__ = [
    "DEFAULT_TIMEOUT",
    "FileChunk",
    "FileNotFound",
    "Sandbox",
    "TaskSandbox",
    "app_sandboxes",
    "read_file",
    "task_sandbox",
]

#: Seconds each request may take (ElasticJob-Cloud 3.0 used 3 s).
DEFAULT_TIMEOUT = 3.0

#: What separates an app's name from the rest of its executor ids.
_APP_DELIMITER = "@-@"


@dataclass(frozen=True, slots=True)
class Sandbox:
    """One executor sandbox of an app: the agent's hostname and the directory under its work dir."""

    hostname: str
    path: str


@dataclass(frozen=True, slots=True)
class TaskSandbox:
    """Where a task's executor directory is: the agent (id, ``http://host:port``, hostname) and
    the absolute directory on it, as ``/files/read`` takes it."""

    agent_id: str
    agent_url: str
    hostname: str
    directory: str


@dataclass(frozen=True, slots=True)
class FileChunk:
    """Bytes of a sandbox file read from ``offset`` (empty at the end of the file; with
    ``offset=-1`` asked, ``offset`` is the file's size)."""

    data: bytes
    offset: int


class FileNotFound(CallRejected):
    """``/files/read`` answered ``404``: no such file in the agent's sandboxes."""


async def _get_json(
    client: httpx.AsyncClient,
    url: str,
    what: str,
    params: Mapping[str, str | int] | None = None,
    *,
    not_found: type[CallRejected] = CallRejected,
) -> Mapping[str, Any]:
    """The JSON object ``url`` answers; raises the errors of the module docstring."""
    try:
        response = await client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise TransportError(f"{what}: {url} could not be read: {exc}") from exc
    if response.status_code == 404:
        raise not_found(what, response.status_code, response.text)
    if response.status_code != 200:
        raise CallRejected(what, response.status_code, response.text)
    try:
        document = response.json()
    except ValueError as exc:
        raise ProtocolError(f"{what}: {url} did not answer JSON") from exc
    if not isinstance(document, Mapping):
        raise ProtocolError(f"{what}: {url} did not answer a JSON object")
    return document


def _client(timeout: float, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, transport=transport)


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _agent_urls(master_state: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Agent id → (``http://host:port`` from its pid, hostname), from a master's ``slaves``."""
    found: dict[str, tuple[str, str]] = {}
    for slave in _objects(master_state.get("slaves")):
        pid = slave.get("pid")
        if isinstance(pid, str) and "@" in pid:
            found[str(slave.get("id"))] = (f"http://{pid.split('@', 1)[1]}", str(slave.get("hostname", "")))
    return found


def _frameworks(state: Mapping[str, Any], framework_id: str) -> list[Mapping[str, Any]]:
    return [
        framework
        for framework in [*_objects(state.get("frameworks")), *_objects(state.get("completed_frameworks"))]
        if framework.get("id") == framework_id
    ]


def _without_work_dir(directory: str, work_dir: str) -> str:
    return directory[len(work_dir) :] if work_dir and directory.startswith(work_dir) else directory


async def app_sandboxes(
    master_url: str,
    framework_id: str,
    app_name: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Sandbox]:
    """The sandboxes of ``app_name``'s live executors of framework ``framework_id``, agent by
    agent in the master's order (see the module docstring)."""
    prefix = app_name + _APP_DELIMITER
    master_url = master_url.rstrip("/")
    async with _client(timeout, transport) as client:
        state = await _get_json(client, f"{master_url}/state", "state")
        agents = _agent_urls(state)
        agent_ids: list[str] = []
        for framework in _objects(state.get("frameworks")):
            if framework.get("id") != framework_id:
                continue
            for executor in _objects(framework.get("executors")):
                if str(executor.get("executor_id", "")).startswith(prefix):
                    agent_id = str(executor.get("slave_id"))
                    if agent_id not in agent_ids:
                        agent_ids.append(agent_id)
        sandboxes: list[Sandbox] = []
        for agent_id in agent_ids:
            if agent_id not in agents:
                continue
            agent_url, hostname = agents[agent_id]
            agent_state = await _get_json(client, f"{agent_url}/state", "agent state")
            work_dir = str((agent_state.get("flags") or {}).get("work_dir", ""))
            hostname = str(agent_state.get("hostname") or hostname)
            for framework in _objects(agent_state.get("frameworks")):
                if framework.get("id") != framework_id:
                    continue
                for executor in _objects(framework.get("executors")):
                    if str(executor.get("id", "")).startswith(prefix):
                        directory = str(executor.get("directory", ""))
                        sandboxes.append(Sandbox(hostname, _without_work_dir(directory, work_dir)))
        return sandboxes


def _holds_task(executor: Mapping[str, Any], task_id: str) -> bool:
    tasks: Iterable[Mapping[str, Any]] = [
        *_objects(executor.get("tasks")),
        *_objects(executor.get("queued_tasks")),
        *_objects(executor.get("completed_tasks")),
    ]
    return any(task.get("id") == task_id for task in tasks)


async def task_sandbox(
    master_url: str,
    framework_id: str,
    task_id: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TaskSandbox | None:
    """Where the executor directory of task ``task_id`` of framework ``framework_id`` is, or
    ``None`` when the master, or its agent, no longer knows the task."""
    master_url = master_url.rstrip("/")
    async with _client(timeout, transport) as client:
        found = await _get_json(
            client,
            f"{master_url}/master/tasks",
            "tasks",
            {"framework_id": framework_id, "task_id": task_id, "limit": -1},
        )
        matches = [
            task
            for task in _objects(found.get("tasks"))
            if task.get("id") == task_id and task.get("framework_id") == framework_id
        ]
        if not matches:
            return None
        agent_id = str(matches[0].get("slave_id"))
        state = await _get_json(client, f"{master_url}/master/slaves", "slaves", {"slave_id": agent_id})
        agents = _agent_urls(state)
        if agent_id not in agents:
            return None
        agent_url, hostname = agents[agent_id]
        agent_state = await _get_json(client, f"{agent_url}/state", "agent state")
        for framework in _frameworks(agent_state, framework_id):
            executors = [
                *_objects(framework.get("executors")),
                *_objects(framework.get("completed_executors")),
            ]
            for executor in executors:
                if _holds_task(executor, task_id) and executor.get("directory"):
                    return TaskSandbox(
                        agent_id=agent_id,
                        agent_url=agent_url,
                        hostname=str(agent_state.get("hostname") or hostname),
                        directory=str(executor["directory"]),
                    )
        return None


async def read_file(
    agent_url: str,
    path: str,
    *,
    offset: int,
    length: int,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FileChunk:
    """At most ``length`` bytes of the sandbox file ``path`` from ``offset`` (``-1``: just the
    file's size, in :attr:`FileChunk.offset`)."""
    async with _client(timeout, transport) as client:
        answer = await _get_json(
            client,
            f"{agent_url.rstrip('/')}/files/read",
            "files/read",
            {"path": path, "offset": offset, "length": length},
            not_found=FileNotFound,
        )
    data, at = answer.get("data"), answer.get("offset")
    if not isinstance(data, str) or not isinstance(at, int) or isinstance(at, bool):
        raise ProtocolError(f"files/read: {agent_url} answered no 'data' string and 'offset' integer")
    return FileChunk(data=data.encode("utf-8", errors="surrogateescape"), offset=at)
