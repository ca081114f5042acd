"""``POST /api/v1`` on the agent: the v1 operator API's read calls, in ``agent.proto``'s shapes.

Served: ``GET_HEALTH``, ``GET_VERSION``, ``GET_FLAGS``, ``GET_METRICS``, ``GET_AGENT``,
``GET_STATE``, ``GET_FRAMEWORKS``, ``GET_EXECUTORS``, ``GET_TASKS``, ``GET_CONTAINERS`` (live
executor runs, with ``container_status.executor_pid``), and ``LIST_FILES`` / ``READ_FILE`` on the
sandboxes with the path rules of :mod:`~server.cluster.agent.files` (``READ_FILE``'s ``data`` is
base64; a path outside the sandboxes is ``404``, a missing ``path`` or a bad offset ``400``). Other calls of ``agent.proto`` answer
``501``; anything else (``GET_AGENTS`` is a master call) ``400`` (see
:mod:`server.cluster.endpoints`).
"""

from __future__ import annotations

import base64

from aiohttp import web

from server.cluster.agent.core import Agent
from server.cluster.agent.endpoints import agent_flags, agent_metrics
from server.cluster.agent.files import MAX_READ_LENGTH, FileRefused, SandboxFiles, group_name, user_name
from server.cluster.agent.records import AgentFramework, AgentTask, ExecutorRun
from server.cluster.endpoints import OperatorHandler, serve_operator_call
from server.cluster.state import seconds_time, version_json
from server.cluster.wire import CallRefused
from server.mesos.values import JsonObject, id_object

__all__ = ["AGENT_CALL_TYPES", "AgentOperatorApi"]

#: Every call type of ``mesos.v1.agent.Call``.
AGENT_CALL_TYPES = frozenset(
    {
        "UNKNOWN", "GET_HEALTH", "GET_FLAGS", "GET_VERSION", "GET_METRICS", "GET_LOGGING_LEVEL",
        "SET_LOGGING_LEVEL", "LIST_FILES", "READ_FILE", "GET_STATE", "GET_CONTAINERS",
        "GET_FRAMEWORKS", "GET_EXECUTORS", "GET_OPERATIONS", "GET_TASKS", "GET_AGENT",
        "GET_RESOURCE_PROVIDERS", "LAUNCH_NESTED_CONTAINER", "WAIT_NESTED_CONTAINER",
        "KILL_NESTED_CONTAINER", "REMOVE_NESTED_CONTAINER", "LAUNCH_NESTED_CONTAINER_SESSION",
        "ATTACH_CONTAINER_INPUT", "ATTACH_CONTAINER_OUTPUT", "LAUNCH_CONTAINER", "WAIT_CONTAINER",
        "KILL_CONTAINER", "REMOVE_CONTAINER", "ADD_RESOURCE_PROVIDER_CONFIG",
        "UPDATE_RESOURCE_PROVIDER_CONFIG", "REMOVE_RESOURCE_PROVIDER_CONFIG",
        "MARK_RESOURCE_PROVIDER_GONE", "PRUNE_IMAGES",
    }
)  # fmt: skip


def _task_message(task: AgentTask, run: ExecutorRun, agent_id: str) -> JsonObject:
    message: JsonObject = {
        "name": str(task.info.get("name", "")),
        "task_id": id_object(task.task_id),
        "framework_id": id_object(run.framework_id),
        "agent_id": id_object(agent_id),
        "state": task.state,
        "resources": list(task.info.get("resources") or []),
        "statuses": [task.latest] if task.latest is not None else [],
    }
    if not run.command_task:
        message["executor_id"] = id_object(run.executor_id)
    return message


def _payload(call: JsonObject, name: str) -> JsonObject:
    payload = call.get(name)
    if not isinstance(payload, dict):
        raise CallRefused(400, f"Expecting '{name}' to be present")
    return payload


class AgentOperatorApi:
    """The aiohttp handler of the agent's operator API."""

    def __init__(self, agent: Agent, *, started_at: float) -> None:
        self._agent = agent
        self._handlers: dict[str, OperatorHandler] = {
            "GET_HEALTH": lambda _: {"healthy": True},
            "GET_VERSION": lambda _: {"version_info": version_json()},
            "GET_FLAGS": lambda _: {"flags": self._flags()},
            "GET_METRICS": lambda _: {
                "metrics": [
                    {"name": name, "value": value} for name, value in agent_metrics(agent, started_at).items()
                ]
            },
            "GET_AGENT": lambda _: {"agent_info": agent.agent_info()},
            "GET_STATE": lambda _: self.get_state(),
            "GET_FRAMEWORKS": lambda _: self.get_frameworks(),
            "GET_EXECUTORS": lambda _: self.get_executors(),
            "GET_TASKS": lambda _: self.get_tasks(),
            "GET_CONTAINERS": lambda _: self.get_containers(),
            "LIST_FILES": self.list_files,
            "READ_FILE": self.read_file,
        }
        self._files = SandboxFiles(agent)

    async def handle(self, request: web.Request) -> web.Response:
        return await serve_operator_call(request, AGENT_CALL_TYPES, self._handlers)

    def _flags(self) -> list[JsonObject]:
        return [{"name": name, "value": value} for name, value in agent_flags(self._agent).items()]

    def _frameworks(self) -> list[AgentFramework]:
        return self._agent.frameworks()

    def _runs(self) -> tuple[list[ExecutorRun], list[ExecutorRun]]:
        live: list[ExecutorRun] = []
        done: list[ExecutorRun] = []
        for framework in self._frameworks():
            framework_live, framework_done = framework.runs()
            live.extend(framework_live)
            done.extend(framework_done)
        return live, done

    def get_frameworks(self) -> JsonObject:
        frameworks = self._frameworks()
        return {
            "frameworks": [{"framework_info": f.info} for f in frameworks if not f.removed],
            "completed_frameworks": [{"framework_info": f.info} for f in frameworks if f.removed],
        }

    def get_executors(self) -> JsonObject:
        live, done = self._runs()
        return {
            "executors": [{"executor_info": run.info} for run in live if not run.command_task],
            "completed_executors": [{"executor_info": run.info} for run in done if not run.command_task],
        }

    def get_tasks(self) -> JsonObject:
        live, done = self._runs()
        agent_id = self._agent.agent_id
        queued: list[JsonObject] = []
        launched: list[JsonObject] = []
        terminated: list[JsonObject] = []
        completed: list[JsonObject] = []
        for run in [*live, *done]:
            for task in run.tasks.values():
                if task.task_id in run.queued:
                    queued.append(_task_message(task, run, agent_id))
                elif task.terminal:
                    terminated.append(_task_message(task, run, agent_id))
                else:
                    launched.append(_task_message(task, run, agent_id))
            completed.extend(_task_message(task, run, agent_id) for task in run.completed_tasks)
        return {
            "pending_tasks": [],
            "queued_tasks": queued,
            "launched_tasks": launched,
            "terminated_tasks": terminated,
            "completed_tasks": completed,
        }

    def get_containers(self) -> JsonObject:
        live, _ = self._runs()
        containers = []
        for run in live:
            container: JsonObject = {
                "framework_id": id_object(run.framework_id),
                "executor_id": id_object(run.executor_id),
                "executor_name": str(run.info.get("name", "")),
                "container_id": id_object(run.run_id),
                "container_status": {"container_id": id_object(run.run_id)},
            }
            if run.process is not None:
                container["container_status"]["executor_pid"] = run.process.pid
            containers.append(container)
        return {"containers": containers}

    def list_files(self, call: JsonObject) -> JsonObject:
        path = _payload(call, "list_files").get("path")
        try:
            listed = self._files.entries(path if isinstance(path, str) else None)
        except FileRefused as refusal:
            raise CallRefused(refusal.status, refusal.text) from None
        return {
            "file_infos": [
                {
                    "path": entry_path,
                    "nlink": info.st_nlink,
                    "size": info.st_size,
                    "mtime": seconds_time(info.st_mtime),
                    "mode": info.st_mode,
                    "uid": user_name(info.st_uid),
                    "gid": group_name(info.st_gid),
                }
                for entry_path, info in listed
            ]
        }

    def read_file(self, call: JsonObject) -> JsonObject:
        payload = _payload(call, "read_file")
        path = payload.get("path")
        offset, length = payload.get("offset"), payload.get("length", MAX_READ_LENGTH)
        for name, value in (("offset", offset), ("length", length)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CallRefused(400, f"Expecting 'read_file.{name}' to be a non-negative integer")
        assert isinstance(offset, int) and isinstance(length, int)
        try:
            size, _ = self._files.read_chunk(path if isinstance(path, str) else None, -1, 0)
            _, data = self._files.read_chunk(
                path if isinstance(path, str) else None, offset, length, whole_characters=False
            )
        except FileRefused as refusal:
            raise CallRefused(refusal.status, refusal.text) from None
        return {"size": size, "data": base64.b64encode(data).decode("ascii")}

    def get_state(self) -> JsonObject:
        return {
            "get_tasks": self.get_tasks(),
            "get_executors": self.get_executors(),
            "get_frameworks": self.get_frameworks(),
        }
