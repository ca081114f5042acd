"""The embedded agent: runs executors and command tasks, and serves the v1 executor API.

What it does for each task the master hands it (``launch_task``):

* **Command task** (``TaskInfo.command``): the agent is its built-in command executor (executor id
  = task id). It fetches the command's ``uris`` into a fresh sandbox, sends ``TASK_STARTING``,
  starts the command (``shell`` true → ``/bin/sh -c value``; false → ``value`` with
  ``arguments[1:]``), sends ``TASK_RUNNING``, and ends with ``TASK_FINISHED`` (exit 0),
  ``TASK_FAILED`` (non-zero exit or signal), ``TASK_KILLED`` (KILL: SIGTERM to the process group,
  SIGKILL after the kill policy's grace period, 3 s by default) or ``TASK_FAILED`` with
  ``REASON_MAX_COMPLETION_TIME_REACHED``.
* **Custom executor** (``TaskInfo.executor``): started once per (framework, executor id) with
  its command, ``command.environment`` and the ``MESOS_*`` variables, in its sandbox; the task is
  queued until the executor SUBSCRIBEs, then delivered as a ``LAUNCH`` event. The executor's
  ``UPDATE`` calls are ``ACKNOWLEDGED`` as soon as the agent has recorded them (as Mesos does:
  from then on the agent resends them to the framework until it acknowledges). Later tasks for the
  same executor id go to the running executor. An executor that does not subscribe within
  ``executor_registration_timeout`` is killed and its tasks fail with
  ``REASON_EXECUTOR_REGISTRATION_TIMEOUT``. When an executor exits, its unfinished tasks become
  ``TASK_FAILED`` (``TASK_KILLED`` if they were being killed or the executor was shut down) with
  ``REASON_EXECUTOR_TERMINATED``, and the master is told (it sends FAILURE to the framework).

Sandboxes are ``<work_dir>/sandboxes/<framework>/<executor>/<run>/`` with ``stdout`` and ``stderr``
files. A failed fetch fails the task(s) with ``TASK_FAILED`` / ``REASON_CONTAINER_LAUNCH_FAILED``
(what Mesos reports for a fetcher failure) and a message naming the URI, without starting anything.

Every process is a process group started by :func:`~server.base.processes.start_process` and
recorded in a :class:`~server.base.processes.PidRegistry` in the work directory; :meth:`start`
reaps what a previous agent left behind, and when an executor or command exits, whatever is left
of its process group is killed (Mesos destroys the container).

Status updates go through the :class:`~server.cluster.updates.StatusUpdateManager`: ordered,
resent until acknowledged. Nothing is checkpointed: an agent restart starts from nothing (new agent
id), and tasks of the previous run are unknown to the master.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import enum
import logging
import os
import signal
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from server.base.processes import ManagedProcess, PidRegistry, ProcessStartError, start_process
from server.cluster.fetcher import Fetcher, FetchError, UriSpec
from server.cluster.resources import Resources
from server.cluster.updates import AddOutcome, StatusUpdateManager
from server.cluster.wire import (
    CallRefused,
    EventStream,
    JsonObject,
    accepts_json,
    duration_seconds,
    id_value,
    mesos_duration,
    read_call,
    refusal_response,
    serve_stream,
    task_status,
    wait_status,
)
from server.mesos.states import ALL_STATES, TERMINAL_STATES

__all__ = ["Agent", "AgentSettings", "ExecutorRun", "ExecutorState", "MasterLink"]

logger = logging.getLogger("server.cluster.agent")

EXECUTOR_API_PATH = "/api/v1/executor"
EXECUTOR_CALL_TYPES = frozenset({"UNKNOWN", "SUBSCRIBE", "UPDATE", "MESSAGE", "HEARTBEAT"})


class MasterLink(Protocol):
    """What the agent tells the master (in Mesos: messages from agent to master)."""

    def task_updated(self, framework_id: str, status: JsonObject) -> None:
        """A task has a new latest state (recorded, not necessarily delivered yet)."""

    def forward_update(self, framework_id: str, status: JsonObject) -> None:
        """Deliver this (reliable) update to the framework."""

    def task_removed(self, framework_id: str, task_id: str) -> None:
        """The task's terminal update was acknowledged: the agent has forgotten it."""

    def executor_terminated(self, framework_id: str, executor_id: str, status: int | None) -> None:
        """A custom executor is gone (``status``: its wait status, ``None`` if it never ran)."""

    def executor_message(self, framework_id: str, executor_id: str, data: str) -> None:
        """An executor sent a framework message (``data`` base64)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentSettings:
    """How the agent runs things (durations in seconds)."""

    work_dir: Path
    agent_id: str
    hostname: str
    resources: Resources
    executor_registration_timeout: float = 60.0
    executor_shutdown_grace_period: float = 5.0
    default_kill_grace_period: float = 3.0
    update_retry_interval: float = 10.0
    executor_heartbeat_interval: float = 30.0
    #: The base environment of executors and command tasks; ``None`` inherits the agent's own
    #: (as Mesos does without ``--executor_environment_variables``).
    environment: Mapping[str, str] | None = None
    #: Finished executors and tasks kept for ``/state``, per framework / executor.
    history: int = 200

    def __post_init__(self) -> None:
        for name in (
            "executor_registration_timeout",
            "executor_shutdown_grace_period",
            "default_kill_grace_period",
            "update_retry_interval",
            "executor_heartbeat_interval",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"AgentSettings.{name} must be positive")


class ExecutorState(enum.Enum):
    """Where an executor (or a command task's built-in executor) is in its life."""

    LAUNCHING = "LAUNCHING"  # fetching / starting
    REGISTERING = "REGISTERING"  # process started, not subscribed yet
    RUNNING = "RUNNING"  # subscribed (or, for a command task, the command runs)
    TERMINATING = "TERMINATING"  # being shut down
    TERMINATED = "TERMINATED"


@dataclass(frozen=True, slots=True)
class _Termination:
    """What the unfinished tasks of an executor become when it ends."""

    state: str
    reason: str
    message: str


@dataclass(eq=False)
class AgentTask:
    """A task on this agent."""

    task_id: str
    info: JsonObject
    latest: JsonObject | None = None
    killing: bool = False

    @property
    def state(self) -> str:
        return str(self.latest["state"]) if self.latest is not None else "TASK_STAGING"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(eq=False)
class ExecutorRun:
    """One run of an executor (custom, or the built-in one of a command task)."""

    framework_id: str
    executor_id: str
    info: JsonObject
    command_task: bool
    sandbox: Path
    run_id: str
    state: ExecutorState = ExecutorState.LAUNCHING
    tasks: dict[str, AgentTask] = field(default_factory=dict)
    completed_tasks: deque[AgentTask] = field(default_factory=lambda: deque(maxlen=200))
    queued: list[str] = field(default_factory=list)  # task ids waiting for SUBSCRIBE
    pending_kills: dict[str, JsonObject | None] = field(default_factory=dict)  # sent on resubscribe
    process: ManagedProcess | None = None
    connection: EventStream | None = None
    termination: _Termination | None = None
    exit_status: int | None = None
    kill_requested: asyncio.Event = field(default_factory=asyncio.Event)
    kill_grace: float | None = None  # the KILL call's kill policy, overriding the task's
    kill_grace_cap: float | None = None  # at most this long (agent or executor shutdown)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    @property
    def live_tasks(self) -> list[AgentTask]:
        return [task for task in self.tasks.values() if not task.terminal]


@dataclass(eq=False)
class _Framework:
    info: JsonObject
    executors: dict[str, ExecutorRun] = field(default_factory=dict)
    completed_executors: deque[ExecutorRun] = field(default_factory=lambda: deque(maxlen=200))
    task_owner: dict[str, ExecutorRun] = field(default_factory=dict)
    removed: bool = False

    @property
    def framework_id(self) -> str:
        return str(self.info["id"]["value"])

    @property
    def checkpoint(self) -> bool:
        return bool(self.info.get("checkpoint", False))

    def has_capability(self, name: str) -> bool:
        capabilities = self.info.get("capabilities") or []
        return any(isinstance(item, dict) and item.get("type") == name for item in capabilities)


class Agent:
    """The embedded agent (see the module docstring). Methods that the master calls return at
    once; the work they start (fetching, processes) runs in background tasks of the event loop."""

    def __init__(self, settings: AgentSettings, *, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self._link: MasterLink | None = None
        self._fetcher = fetcher or Fetcher(settings.work_dir / "fetch-cache")
        self._owns_fetcher = fetcher is None
        self._pids = PidRegistry(settings.work_dir / "agent-pids.json")
        self._frameworks: dict[str, _Framework] = {}
        self._lifecycles: set[asyncio.Task[None]] = set()
        self._updates = StatusUpdateManager(
            recorded=self._update_recorded,
            forward=self._forward_update,
            closed=self._stream_closed,
            retry_interval=settings.update_retry_interval,
        )
        self._heartbeats: asyncio.Task[None] | None = None
        self._stopping = False
        self.endpoint = ""  # "ip:port" of the executor API, set once the HTTP server is bound
        self.port = 0
        self.reaped_orphans: list[int] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def attach(self, link: MasterLink) -> None:
        self._link = link

    def bind(self, host: str, port: int) -> None:
        """Record where the executor API listens (for ``MESOS_AGENT_ENDPOINT`` and AgentInfo)."""
        self.endpoint = f"{host}:{port}"
        self.port = port

    async def start(self) -> None:
        """Kill what a previous agent on this work directory left running, then start serving."""
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        self.reaped_orphans = await self._pids.reap_orphans(
            grace_period=self.settings.default_kill_grace_period
        )
        if self.reaped_orphans:
            logger.warning("killed process groups left by a previous agent run: %s", self.reaped_orphans)
        self._updates.start()
        self._heartbeats = asyncio.create_task(self._heartbeat_loop(), name="agent-executor-heartbeats")
        logger.info(
            "agent %s started: %s, work dir %s",
            self.settings.agent_id,
            self.settings.resources,
            self.settings.work_dir,
        )

    async def stop(self, grace_period: float | None = None) -> None:
        """Shut down every executor and command task (SIGTERM, then SIGKILL after at most
        ``grace_period`` seconds) and wait until they are gone."""
        self._stopping = True
        for framework in list(self._frameworks.values()):
            for run in list(framework.executors.values()):
                self._shutdown_executor(run, grace_period=grace_period, message="Agent is shutting down")
        if self._lifecycles:
            await asyncio.wait(set(self._lifecycles), timeout=(grace_period or 5.0) + 5.0)
        for task in list(self._lifecycles):
            task.cancel()
        if self._heartbeats is not None:
            self._heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeats
        await self._updates.stop()
        if self._owns_fetcher:
            await self._fetcher.aclose()
        logger.info("agent %s stopped", self.settings.agent_id)

    def agent_info(self) -> JsonObject:
        """``AgentInfo`` JSON, as offers and the executor's SUBSCRIBED event carry it."""
        return {
            "id": {"value": self.settings.agent_id},
            "hostname": self.settings.hostname,
            "port": self.port,
            "resources": self.settings.resources.to_json(),
            "attributes": [],
        }

    # -- calls from the master ----------------------------------------------------------------

    def launch_task(self, framework_info: JsonObject, task: JsonObject) -> None:
        """Run a task the master accepted (validated there)."""
        framework = self._framework(framework_info)
        task_id = str(task["task_id"]["value"])
        agent_task = AgentTask(task_id, task)
        if "command" in task:
            self._launch_command_task(framework, agent_task)
            return
        executor_info = dict(task["executor"])
        executor_info.setdefault("framework_id", {"value": framework.framework_id})
        executor_id = str(executor_info["executor_id"]["value"])
        run = framework.executors.get(executor_id)
        if run is not None and run.state is ExecutorState.TERMINATING:
            framework.task_owner[task_id] = run
            run.tasks[task_id] = agent_task
            dropped = "TASK_DROPPED" if framework.has_capability("PARTITION_AWARE") else "TASK_LOST"
            self._agent_update(
                run, agent_task, dropped, "REASON_EXECUTOR_TERMINATED", "Executor is terminating"
            )
            return
        if run is None:
            run = self._new_run(framework, executor_id, executor_info, command_task=False)
            self._spawn(self._run_executor(framework, run), f"executor-{executor_id}")
        framework.task_owner[task_id] = run
        run.tasks[task_id] = agent_task
        if run.state is ExecutorState.RUNNING and run.connection is not None:
            run.connection.send({"type": "LAUNCH", "launch": {"task": task}})
        else:
            run.queued.append(task_id)
            logger.info("queued task %s for executor %s (not subscribed yet)", task_id, executor_id)

    def kill_task(self, framework_id: str, task_id: str, kill_policy: JsonObject | None) -> bool:
        """Kill a task; ``False`` if the agent does not know it."""
        framework = self._frameworks.get(framework_id)
        run = framework.task_owner.get(task_id) if framework else None
        task = run.tasks.get(task_id) if run else None
        if run is None or task is None:
            return False
        if task.terminal:
            return True
        grace = duration_seconds((kill_policy or {}).get("grace_period"))
        task.killing = True
        if run.command_task:
            if grace is not None:
                run.kill_grace = grace
            run.kill_requested.set()
        elif task_id in run.queued:
            run.queued.remove(task_id)
            self._agent_update(
                run,
                task,
                "TASK_KILLED",
                "REASON_TASK_KILLED_DURING_LAUNCH",
                "Killed before the executor subscribed",
            )
            if not run.live_tasks:
                self._shutdown_executor(run, message="Executor has no tasks left to run")
        elif run.connection is not None:
            kill: JsonObject = {"task_id": {"value": task_id}}
            if kill_policy:
                kill["kill_policy"] = kill_policy
            run.connection.send({"type": "KILL", "kill": kill})
        else:
            run.pending_kills[task_id] = kill_policy
        logger.info("killing task %s of framework %s", task_id, framework_id)
        return True

    def shutdown_executor(self, framework_id: str, executor_id: str) -> None:
        framework = self._frameworks.get(framework_id)
        run = framework.executors.get(executor_id) if framework else None
        if run is not None and not run.command_task:
            self._shutdown_executor(run, message="Executor shut down by the framework")

    def shutdown_framework(self, framework_id: str) -> None:
        """The framework was removed: kill all its executors and tasks, drop its updates."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return
        framework.removed = True
        self._updates.drop_framework(framework_id)
        for run in list(framework.executors.values()):
            self._shutdown_executor(run, message="Framework removed")
        self._forget_if_done(framework)

    def framework_message(self, framework_id: str, executor_id: str, data: str) -> bool:
        """Pass a scheduler's message to a subscribed executor (unreliable: dropped otherwise)."""
        framework = self._frameworks.get(framework_id)
        run = framework.executors.get(executor_id) if framework else None
        if run is None or run.connection is None:
            logger.warning("dropping message for executor %s: not subscribed", executor_id)
            return False
        run.connection.send({"type": "MESSAGE", "message": {"data": data}})
        return True

    def acknowledge(self, framework_id: str, task_id: str, uuid_text: str) -> bool:
        acknowledged = self._updates.acknowledge(framework_id, task_id, uuid_text)
        if not acknowledged:
            logger.info("ignoring acknowledgement %s of task %s: not the pending update", uuid_text, task_id)
        return acknowledged

    def resend_updates(self, framework_id: str) -> None:
        self._updates.resend(framework_id)

    def update_framework(self, framework_info: JsonObject) -> None:
        framework = self._frameworks.get(str(framework_info["id"]["value"]))
        if framework is not None:
            framework.info = framework_info

    def pending_updates(self, framework_id: str, task_id: str) -> list[JsonObject]:
        return self._updates.pending(framework_id, task_id)

    # -- introspection ------------------------------------------------------------------------

    def executors(self) -> list[ExecutorRun]:
        """Every executor run this agent remembers, live ones first."""
        live = [run for framework in self._frameworks.values() for run in framework.executors.values()]
        done = [run for framework in self._frameworks.values() for run in framework.completed_executors]
        return live + done

    # -- the executor API ---------------------------------------------------------------------

    async def handle_executor_api(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v1/executor``."""
        try:
            call = await read_call(request, EXECUTOR_CALL_TYPES)
            return await self._executor_call(request, call)
        except CallRefused as refusal:
            if refusal.status >= 400:
                logger.info("executor call refused: %s %s", refusal.status, refusal.text)
            return refusal_response(refusal)

    async def _executor_call(self, request: web.Request, call: JsonObject) -> web.StreamResponse:
        call_type = call["type"]
        if call_type == "HEARTBEAT":
            return web.Response(status=202)
        framework_id = id_value(call.get("framework_id"))
        executor_id = id_value(call.get("executor_id"))
        if framework_id is None:
            raise CallRefused(400, "Expecting 'framework_id' to be present")
        if executor_id is None:
            raise CallRefused(400, "Expecting 'executor_id' to be present")
        framework = self._frameworks.get(framework_id)
        if framework is None:
            raise CallRefused(400, "Framework cannot be found")
        run = framework.executors.get(executor_id)
        if run is None or run.command_task:
            raise CallRefused(400, "Executor cannot be found")
        if call_type != "SUBSCRIBE" and run.state in (ExecutorState.LAUNCHING, ExecutorState.REGISTERING):
            raise CallRefused(403, "Executor is not subscribed")
        if call_type == "SUBSCRIBE":
            if not accepts_json(request):
                raise CallRefused(406, "Expecting 'Accept' to allow 'application/json'")
            subscribe = call.get("subscribe") or {}
            if not isinstance(subscribe, dict):
                raise CallRefused(400, "Expecting 'subscribe' to be an object")
            return await self._subscribe_executor(request, framework, run, subscribe)
        if call_type == "UPDATE":
            status = _validate_executor_update(call, executor_id)
            self._executor_update(framework, run, status)
            return web.Response(status=202)
        message = call.get("message")
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, str) or not _is_base64(data):
            raise CallRefused(400, "Expecting 'message.data' to be present (base64 bytes)")
        if self._link is not None and not framework.removed:
            self._link.executor_message(framework_id, executor_id, data)
        return web.Response(status=202)

    async def _subscribe_executor(
        self, request: web.Request, framework: _Framework, run: ExecutorRun, subscribe: JsonObject
    ) -> web.StreamResponse:
        stream = EventStream(on_end=lambda ended: self._executor_stream_ended(run, ended))
        previous, run.connection = run.connection, stream
        if previous is not None:
            logger.info("executor %s resubscribed; closing its previous connection", run.executor_id)
            previous.close()
        stream.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "executor_info": run.info,
                    "framework_info": framework.info,
                    "agent_info": self.agent_info(),
                    "container_id": {"value": run.run_id},
                },
            }
        )
        if run.state is ExecutorState.TERMINATING:
            stream.send({"type": "SHUTDOWN"})
        else:
            if run.state is ExecutorState.REGISTERING:
                logger.info("executor %s of framework %s subscribed", run.executor_id, run.framework_id)
            run.state = ExecutorState.RUNNING
            for update in subscribe.get("unacknowledged_updates") or []:
                status = update.get("status") if isinstance(update, dict) else None
                if isinstance(status, dict) and isinstance(status.get("uuid"), str):
                    with contextlib.suppress(KeyError, TypeError):
                        self._executor_update(framework, run, status)
            for task_id in run.queued:
                task = run.tasks.get(task_id)
                if task is not None and not task.terminal:
                    stream.send({"type": "LAUNCH", "launch": {"task": task.info}})
            run.queued.clear()
            for task_id, kill_policy in run.pending_kills.items():
                kill: JsonObject = {"task_id": {"value": task_id}}
                if kill_policy:
                    kill["kill_policy"] = kill_policy
                stream.send({"type": "KILL", "kill": kill})
            run.pending_kills.clear()
        return await serve_stream(request, stream, {})

    def _executor_stream_ended(self, run: ExecutorRun, stream: EventStream) -> None:
        if run.connection is not stream:
            return
        run.connection = None
        if self._stopping or run.state is not ExecutorState.RUNNING:
            return
        framework = self._frameworks.get(run.framework_id)
        if framework is not None and not framework.checkpoint:
            logger.warning(
                "executor %s disconnected and framework %s does not checkpoint: shutting it down",
                run.executor_id,
                run.framework_id,
            )
            self._shutdown_executor(run, message="Executor disconnected")
        else:
            logger.warning("executor %s disconnected; waiting for it to resubscribe", run.executor_id)

    def _executor_update(self, framework: _Framework, run: ExecutorRun, status: JsonObject) -> None:
        task_id = str(status["task_id"]["value"])
        task = run.tasks.get(task_id)
        if task is None:
            logger.warning(
                "executor %s sent an update for unknown task %s; dropped", run.executor_id, task_id
            )
            return
        status = dict(status)
        status["agent_id"] = {"value": self.settings.agent_id}
        status["executor_id"] = {"value": run.executor_id}
        status.setdefault("timestamp", _now())
        if framework.removed:
            task.latest = status
        else:
            outcome = self._updates.add(run.framework_id, status)
            if outcome != AddOutcome.ACCEPTED:
                logger.info("update %s of task %s not recorded again: %s", status["state"], task_id, outcome)
        # As Mesos' agent does once its status update manager has the update: from now on the
        # agent, not the executor, is responsible for delivering it.
        if run.connection is not None:
            run.connection.send(
                {
                    "type": "ACKNOWLEDGED",
                    "acknowledged": {"task_id": {"value": task_id}, "uuid": status["uuid"]},
                }
            )

    # -- status update plumbing ---------------------------------------------------------------

    def _agent_update(
        self,
        run: ExecutorRun,
        task: AgentTask,
        state: str,
        reason: str | None,
        message: str,
        *,
        source: str = "SOURCE_AGENT",
    ) -> None:
        """Record an update the agent (or its built-in command executor) generates."""
        status = task_status(
            task.task_id,
            state,
            source=source,
            agent_id=self.settings.agent_id,
            executor_id=run.executor_id,
            reason=reason,
            message=message,
            reliable=True,
        )
        framework = self._frameworks.get(run.framework_id)
        if framework is None or framework.removed:
            task.latest = status
            return
        self._updates.add(run.framework_id, status)

    def _update_recorded(self, framework_id: str, status: JsonObject) -> None:
        framework = self._frameworks.get(framework_id)
        task_id = str(status["task_id"]["value"])
        run = framework.task_owner.get(task_id) if framework else None
        task = run.tasks.get(task_id) if run else None
        if task is not None:
            task.latest = status
        logger.info(
            "task %s is %s%s",
            task_id,
            status["state"],
            f": {status['message']}" if status.get("message") else "",
        )
        if self._link is not None:
            self._link.task_updated(framework_id, status)

    def _forward_update(self, framework_id: str, status: JsonObject) -> None:
        if self._link is not None:
            self._link.forward_update(framework_id, status)

    def _stream_closed(self, framework_id: str, task_id: str) -> None:
        framework = self._frameworks.get(framework_id)
        run = framework.task_owner.pop(task_id, None) if framework else None
        task = run.tasks.pop(task_id, None) if run else None
        if run is not None and task is not None:
            run.completed_tasks.append(task)
        if self._link is not None:
            self._link.task_removed(framework_id, task_id)
        if framework is not None:
            self._forget_if_done(framework)

    # -- running things -----------------------------------------------------------------------

    def _framework(self, framework_info: JsonObject) -> _Framework:
        framework_id = str(framework_info["id"]["value"])
        framework = self._frameworks.get(framework_id)
        if framework is None or framework.removed:
            framework = _Framework(framework_info)
            self._frameworks[framework_id] = framework
        else:
            framework.info = framework_info
        return framework

    def _new_run(
        self, framework: _Framework, executor_id: str, executor_info: JsonObject, *, command_task: bool
    ) -> ExecutorRun:
        run_id = str(uuid.uuid4())
        sandbox = self.settings.work_dir / "sandboxes" / framework.framework_id / executor_id / run_id
        run = ExecutorRun(
            framework_id=framework.framework_id,
            executor_id=executor_id,
            info=executor_info,
            command_task=command_task,
            sandbox=sandbox,
            run_id=run_id,
        )
        run.completed_tasks = deque(maxlen=self.settings.history)
        framework.executors[executor_id] = run
        return run

    def _spawn(self, coroutine: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine, name=name)
        self._lifecycles.add(task)
        task.add_done_callback(self._lifecycles.discard)

    def _launch_command_task(self, framework: _Framework, task: AgentTask) -> None:
        executor_info: JsonObject = {
            "executor_id": {"value": task.task_id},
            "framework_id": {"value": framework.framework_id},
            "name": f"Command Executor (Task: {task.task_id})",
            "type": "DEFAULT",
            "command": task.info["command"],
        }
        run = self._new_run(framework, task.task_id, executor_info, command_task=True)
        run.tasks[task.task_id] = task
        framework.task_owner[task.task_id] = run
        self._spawn(self._run_command_task(framework, run, task), f"command-task-{task.task_id}")

    async def _prepare_sandbox(self, run: ExecutorRun, command: JsonObject) -> None:
        await asyncio.to_thread(run.sandbox.mkdir, parents=True, exist_ok=True)
        uris = []
        for entry in command.get("uris") or []:
            try:
                uris.append(UriSpec.from_json(entry))
            except (ValueError, TypeError, AttributeError) as exc:
                uri = entry.get("value") if isinstance(entry, dict) else entry
                raise FetchError(f"fetch {uri} failed: {exc}", uri=str(uri)) from exc
        if uris:
            await self._fetcher.fetch(uris, run.sandbox)

    def _environment(self, framework: _Framework, run: ExecutorRun, command: JsonObject) -> dict[str, str]:
        base = os.environ if self.settings.environment is None else self.settings.environment
        environment = dict(base)
        grace = self._shutdown_grace(run)
        environment.update(
            {
                "MESOS_FRAMEWORK_ID": run.framework_id,
                "MESOS_EXECUTOR_ID": run.executor_id,
                "MESOS_DIRECTORY": str(run.sandbox),
                "MESOS_SANDBOX": str(run.sandbox),
                "MESOS_AGENT_ENDPOINT": self.endpoint,
                "MESOS_SLAVE_ID": self.settings.agent_id,
                "MESOS_AGENT_ID": self.settings.agent_id,
                "MESOS_CHECKPOINT": "1" if framework.checkpoint else "0",
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": mesos_duration(grace),
                "MESOS_CONTAINER_ID": run.run_id,
            }
        )
        if framework.checkpoint:
            # What a checkpointing executor needs to ride out a lost connection (Mesos' defaults).
            environment["MESOS_RECOVERY_TIMEOUT"] = "15mins"
            environment["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
        if run.command_task:
            environment["MESOS_TASK_ID"] = run.executor_id
        variables = (command.get("environment") or {}).get("variables") or []
        for variable in variables:
            if not isinstance(variable, dict) or not isinstance(variable.get("name"), str):
                continue
            if variable.get("type", "VALUE") == "VALUE" and isinstance(variable.get("value"), str):
                environment[variable["name"]] = variable["value"]
        return environment

    def _shutdown_grace(self, run: ExecutorRun) -> float:
        configured = duration_seconds(run.info.get("shutdown_grace_period"))
        return configured if configured is not None else self.settings.executor_shutdown_grace_period

    async def _start(self, framework: _Framework, run: ExecutorRun, command: JsonObject) -> ManagedProcess:
        shell = command.get("shell", True)
        value = command.get("value")
        argv: str | list[str]
        if shell is not False:
            if not isinstance(value, str) or not value:
                raise ProcessStartError("command.value is required when command.shell is true")
            argv = value
        else:
            arguments = [str(argument) for argument in command.get("arguments") or []]
            program = value if isinstance(value, str) and value else (arguments[0] if arguments else "")
            if not program:
                raise ProcessStartError(
                    "command.value (or arguments) is required when command.shell is false"
                )
            argv = [program, *arguments[1:]]
        return await start_process(
            argv,
            shell=shell is not False,
            cwd=run.sandbox,
            env=self._environment(framework, run, command),
            stdout_path=run.sandbox / "stdout",
            stderr_path=run.sandbox / "stderr",
            pid_registry=self._pids,
        )

    async def _run_command_task(self, framework: _Framework, run: ExecutorRun, task: AgentTask) -> None:
        command: JsonObject = task.info["command"]
        returncode: int | None = None
        try:
            try:
                await self._prepare_sandbox(run, command)
            except FetchError as exc:
                self._agent_update(
                    run,
                    task,
                    "TASK_FAILED",
                    "REASON_CONTAINER_LAUNCH_FAILED",
                    f"Failed to launch container: {exc}",
                )
                return
            if task.killing:
                self._agent_update(
                    run, task, "TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH", "Killed during launch"
                )
                return
            self._agent_update(
                run, task, "TASK_STARTING", None, "Starting the command", source="SOURCE_EXECUTOR"
            )
            try:
                process = await self._start(framework, run, command)
            except ProcessStartError as exc:
                self._agent_update(
                    run,
                    task,
                    "TASK_FAILED",
                    "REASON_COMMAND_EXECUTOR_FAILED",
                    str(exc),
                    source="SOURCE_EXECUTOR",
                )
                return
            run.process = process
            run.state = ExecutorState.RUNNING
            self._agent_update(
                run,
                task,
                "TASK_RUNNING",
                None,
                f"Command started (pid {process.pid})",
                source="SOURCE_EXECUTOR",
            )
            state, reason, message, returncode = await self._supervise_command(framework, run, task, process)
            self._agent_update(run, task, state, reason, message, source="SOURCE_EXECUTOR")
        except Exception as exc:
            logger.exception("command task %s failed unexpectedly", task.task_id)
            if not task.terminal:
                self._agent_update(
                    run, task, "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", f"Agent error: {exc!r}"
                )
        finally:
            if run.process is not None and run.process.returncode is None:
                await run.process.terminate(0)
            self._executor_exited(framework, run, returncode)

    async def _supervise_command(
        self, framework: _Framework, run: ExecutorRun, task: AgentTask, process: ManagedProcess
    ) -> tuple[str, str | None, str, int]:
        """Wait for the command to end, be killed, or run out of time; return its final status."""
        max_time = duration_seconds(task.info.get("max_completion_time"))
        exited = asyncio.ensure_future(process.wait())
        killed = asyncio.ensure_future(run.kill_requested.wait())
        try:
            done, _ = await asyncio.wait(
                {exited, killed}, timeout=max_time, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            killed.cancel()
        if exited in done:
            returncode = exited.result()
            if not _group_gone(process.pgid):
                await process.terminate(0)  # whatever the command left in its group goes with it
            if returncode == 0:
                return "TASK_FINISHED", None, "Command exited with status 0", returncode
            return "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", _describe_exit(returncode), returncode
        exited.cancel()
        grace = run.kill_grace
        if grace is None:
            grace = duration_seconds((task.info.get("kill_policy") or {}).get("grace_period"))
        if grace is None:
            grace = self.settings.default_kill_grace_period
        if run.kill_grace_cap is not None:
            grace = min(grace, run.kill_grace_cap)
        if killed in done:
            if framework.has_capability("TASK_KILLING_STATE"):
                self._agent_update(
                    run, task, "TASK_KILLING", None, "Killing the command", source="SOURCE_EXECUTOR"
                )
            returncode = await process.terminate(grace)
            return "TASK_KILLED", None, f"Command killed: {_describe_exit(returncode)}", returncode
        returncode = await process.terminate(grace)
        return (
            "TASK_FAILED",
            "REASON_MAX_COMPLETION_TIME_REACHED",
            f"Task exceeded its max completion time of {max_time:g} s",
            returncode,
        )

    async def _run_executor(self, framework: _Framework, run: ExecutorRun) -> None:
        returncode: int | None = None
        command: JsonObject = run.info.get("command") or {}
        try:
            try:
                await self._prepare_sandbox(run, command)
            except FetchError as exc:
                run.termination = _Termination(
                    "TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", f"Failed to launch container: {exc}"
                )
                return
            if run.state is ExecutorState.TERMINATING:
                return  # shut down (or all its tasks killed) while fetching
            try:
                process = await self._start(framework, run, command)
            except ProcessStartError as exc:
                run.termination = _Termination("TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", str(exc))
                return
            run.process = process
            logger.info(
                "executor %s of framework %s started (pid %d) in %s",
                run.executor_id,
                run.framework_id,
                process.pid,
                run.sandbox,
            )
            if _terminating(run):  # shut down while the process was being started
                self._spawn(process.terminate(0), f"kill-executor-{run.executor_id}")
            else:
                run.state = ExecutorState.REGISTERING
                loop = asyncio.get_running_loop()
                run.timers.append(
                    loop.call_later(
                        self.settings.executor_registration_timeout, self._registration_timed_out, run
                    )
                )
            returncode = await process.wait()
            if not _group_gone(process.pgid):
                await process.terminate(0)  # the rest of the container goes with the executor
        except Exception as exc:
            logger.exception("executor %s failed unexpectedly", run.executor_id)
            run.termination = run.termination or _Termination(
                "TASK_FAILED", "REASON_EXECUTOR_TERMINATED", f"Agent error: {exc!r}"
            )
        finally:
            if run.process is not None and run.process.returncode is None:
                await run.process.terminate(0)
            self._executor_exited(framework, run, returncode)

    def _registration_timed_out(self, run: ExecutorRun) -> None:
        if run.state is not ExecutorState.REGISTERING or run.process is None:
            return
        logger.warning(
            "executor %s did not subscribe within %g s; killing it",
            run.executor_id,
            self.settings.executor_registration_timeout,
        )
        run.termination = _Termination(
            "TASK_FAILED",
            "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
            f"Executor did not subscribe within {self.settings.executor_registration_timeout:g} s",
        )
        run.state = ExecutorState.TERMINATING
        self._spawn(run.process.terminate(0), f"kill-executor-{run.executor_id}")

    def _shutdown_executor(
        self, run: ExecutorRun, *, message: str, grace_period: float | None = None
    ) -> None:
        """Shut an executor down: SHUTDOWN event, then kill after its grace period."""
        if run.state is ExecutorState.TERMINATED:
            return
        if run.command_task:
            for task in run.live_tasks:
                task.killing = True
            if grace_period is not None:
                cap = run.kill_grace_cap
                run.kill_grace_cap = grace_period if cap is None else min(cap, grace_period)
            run.kill_requested.set()
            return
        previous, run.state = run.state, ExecutorState.TERMINATING
        run.termination = run.termination or _Termination(
            "TASK_KILLED", "REASON_EXECUTOR_TERMINATED", message
        )
        for task in run.live_tasks:
            task.killing = True
        if previous is ExecutorState.TERMINATING and grace_period is None:
            return
        logger.info(
            "shutting down executor %s of framework %s: %s", run.executor_id, run.framework_id, message
        )
        grace = (
            self._shutdown_grace(run)
            if grace_period is None
            else min(grace_period, self._shutdown_grace(run))
        )
        process = run.process
        if process is None:
            return  # still fetching: the launch sees TERMINATING and stops
        if run.connection is not None and previous is ExecutorState.RUNNING:
            run.connection.send({"type": "SHUTDOWN"})
            loop = asyncio.get_running_loop()
            run.timers.append(
                loop.call_later(
                    grace, lambda: self._spawn(process.terminate(0), f"kill-executor-{run.executor_id}")
                )
            )
        else:
            self._spawn(process.terminate(0), f"kill-executor-{run.executor_id}")

    def _executor_exited(self, framework: _Framework, run: ExecutorRun, returncode: int | None) -> None:
        if run.state is ExecutorState.TERMINATED:
            return
        run.state = ExecutorState.TERMINATED
        run.exit_status = returncode
        for timer in run.timers:
            timer.cancel()
        run.timers.clear()
        if run.connection is not None:
            run.connection.close()
            run.connection = None
        if not run.command_task:
            termination = run.termination or _Termination(
                "TASK_FAILED",
                "REASON_EXECUTOR_TERMINATED",
                f"Executor terminated: {_describe_exit(returncode)}",
            )
            for task in run.live_tasks:
                state = "TASK_KILLED" if task.killing else termination.state
                self._agent_update(run, task, state, termination.reason, termination.message)
            logger.info(
                "executor %s of framework %s terminated: %s",
                run.executor_id,
                run.framework_id,
                _describe_exit(returncode),
            )
        else:
            for task in run.live_tasks:  # only after an agent error
                self._agent_update(
                    run, task, "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", "Command executor ended"
                )
        if framework.executors.get(run.executor_id) is run:
            del framework.executors[run.executor_id]
        framework.completed_executors.append(run)
        if self._link is not None and not run.command_task and not framework.removed:
            self._link.executor_terminated(run.framework_id, run.executor_id, wait_status(returncode))
        self._forget_if_done(framework)

    def _forget_if_done(self, framework: _Framework) -> None:
        if (
            framework.removed
            and not framework.executors
            and self._frameworks.get(framework.framework_id) is framework
        ):
            del self._frameworks[framework.framework_id]

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.executor_heartbeat_interval)
            for framework in list(self._frameworks.values()):
                for run in list(framework.executors.values()):
                    if run.connection is not None:
                        run.connection.send({"type": "HEARTBEAT"})


def _group_gone(pgid: int) -> bool:
    """Cheap check that no process (not even a zombie) is left in the group, so the sweep with
    :meth:`ManagedProcess.terminate` (which scans ``/proc``) can be skipped."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _terminating(run: ExecutorRun) -> bool:
    return run.state is ExecutorState.TERMINATING


def _now() -> float:
    return time.time()


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "it never started"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"terminated by {name}"
    return f"exited with status {returncode}"


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _validate_executor_update(call: JsonObject, executor_id: str) -> JsonObject:
    """The checks ``validation::executor::call::validate`` makes on UPDATE (400 when they fail)."""
    update = call.get("update")
    status = update.get("status") if isinstance(update, dict) else None
    if not isinstance(status, dict):
        raise CallRefused(400, "Expecting 'update.status' to be present")
    if id_value(status.get("task_id")) is None:
        raise CallRefused(400, "Expecting 'update.status.task_id' to be present")
    state = status.get("state")
    if state not in ALL_STATES:
        raise CallRefused(400, f"Expecting 'update.status.state' to be a task state, got {state!r}")
    if not isinstance(status.get("uuid"), str) or not _is_base64(status["uuid"]):
        raise CallRefused(400, "Expecting 'uuid' to be present (base64 bytes)")
    status_executor = status.get("executor_id")
    if status_executor is not None and id_value(status_executor) != executor_id:
        raise CallRefused(
            400,
            f"ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus: {id_value(status_executor)}",
        )
    if status.get("source") != "SOURCE_EXECUTOR":
        raise CallRefused(
            400, f"Received Call from executor {executor_id} with invalid source, expecting 'SOURCE_EXECUTOR'"
        )
    if state == "TASK_STAGING":
        raise CallRefused(400, f"Received TASK_STAGING from executor {executor_id} which is not allowed")
    return status
