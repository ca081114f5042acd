"""Test helpers for the executor: an agent-side double of the v1 executor API, TaskInfos, and the
real executor started as a subprocess the way an agent starts it.

:class:`AgentDouble` serves ``POST /api/v1/executor`` on ``127.0.0.1`` (port 0) with aiohttp and
checks calls the way the Mesos agent's validation does (``src/slave/validation.cpp``):

=================================================  ==========================================
request                                            answer
=================================================  ==========================================
not JSON, or not ``Content-Type: application/json``  415 / 400
``framework_id`` / ``executor_id`` not the expected  400
SUBSCRIBE                                          200 + RecordIO stream, first SUBSCRIBED
UPDATE without ``status.uuid`` of 16 bytes          400
UPDATE with ``source`` other than SOURCE_EXECUTOR    400
UPDATE with ``TASK_STAGING``                         400
UPDATE whose status names another executor          400
UPDATE / MESSAGE with no live subscription           403
a good UPDATE / MESSAGE                              202
=================================================  ==========================================

Every SUBSCRIBE body and every UPDATE's status is recorded; tests await them with
:meth:`AgentDouble.wait_for_update` / :meth:`AgentDouble.wait_for_subscriptions` instead of
sleeping. With ``auto_ack`` (the default) each UPDATE is ACKNOWLEDGED on the stream right after
its 202 (and each update carried by a SUBSCRIBE, right after SUBSCRIBED), as an agent does once
it has checkpointed the update; without it, the test acknowledges with
:meth:`AgentDouble.acknowledge`. :meth:`AgentDouble.drop_stream` cuts the subscription (the
TCP connection is closed, as when an agent process dies). A newer SUBSCRIBE replaces the live
stream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from server.base.processes import ManagedProcess, start_process
from server.domain.task import ExecutionType, ShardingContext, TaskId, executor_id
from server.mesos.recordio import encode_record

JsonObject = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[1]
AGENT_ID = "agent-0001"
FRAMEWORK_ID = "framework-0001"
APP_NAME = "app"
EXECUTOR_ID = executor_id(APP_NAME, AGENT_ID)


@dataclass
class _Stream:
    response: web.StreamResponse
    request: web.Request
    outgoing: asyncio.Queue[JsonObject | None] = field(default_factory=asyncio.Queue)


class AgentDouble:
    """The agent side of the executor API (see the module docstring)."""

    def __init__(
        self,
        *,
        framework_id: str = FRAMEWORK_ID,
        executor_id: str = EXECUTOR_ID,
        agent_id: str = AGENT_ID,
        auto_ack: bool = True,
    ) -> None:
        self.framework_id = framework_id
        self.executor_id = executor_id
        self.agent_id = agent_id
        self.auto_ack = auto_ack
        self.subscriptions: list[JsonObject] = []
        self.subscribe_headers: list[Mapping[str, str]] = []
        self.updates: list[JsonObject] = []
        self.messages: list[JsonObject] = []
        self.rejected: list[tuple[int, str]] = []
        self._stream: _Stream | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> AgentDouble:
        app = web.Application()
        app.router.add_route("*", "/api/v1/executor", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop_stream()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def endpoint(self) -> str:
        """``ip:port``, as the agent puts it in ``MESOS_AGENT_ENDPOINT``."""
        return f"127.0.0.1:{self._port}"

    # -- what the test does -------------------------------------------------------------------------

    @property
    def subscribed(self) -> bool:
        return self._stream is not None

    def send(self, event: JsonObject) -> None:
        """Put one event on the live stream."""
        assert self._stream is not None, "no live subscription"
        self._stream.outgoing.put_nowait(event)

    def launch(self, task_info: JsonObject) -> str:
        self.send({"type": "LAUNCH", "launch": {"framework_info": self._framework_info(), "task": task_info}})
        return str(task_info["task_id"]["value"])

    def launch_group(self, task_infos: list[JsonObject]) -> None:
        group = {
            "executor": {"executor_id": {"value": self.executor_id}},
            "task_group": {"tasks": task_infos},
        }
        self.send({"type": "LAUNCH_GROUP", "launch_group": group})

    def kill(self, task_id: str, grace_seconds: float | None = None) -> None:
        kill: JsonObject = {"task_id": {"value": task_id}}
        if grace_seconds is not None:
            kill["kill_policy"] = {"grace_period": {"nanoseconds": int(grace_seconds * 1e9)}}
        self.send({"type": "KILL", "kill": kill})

    def shutdown(self) -> None:
        self.send({"type": "SHUTDOWN"})

    def acknowledge(self, status: JsonObject) -> None:
        self.send(
            {
                "type": "ACKNOWLEDGED",
                "acknowledged": {"task_id": status["task_id"], "uuid": status["uuid"]},
            }
        )

    def drop_stream(self) -> None:
        """Cut the live subscription's TCP connection (no clean end of the chunked body)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            transport = stream.request.transport
            if transport is not None:
                transport.close()
            stream.outgoing.put_nowait(None)

    # -- waiting --------------------------------------------------------------------------------------

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def wait_for_subscriptions(self, count: int = 1, timeout: float = 10.0) -> JsonObject:
        """Wait until ``count`` SUBSCRIBE calls were answered; return the latest body."""
        await self.wait_until(lambda: len(self.subscriptions) >= count and self._stream is not None, timeout)
        return self.subscriptions[-1]

    async def wait_for_update(
        self, task_id: str, state: str, message: str | None = None, *, count: int = 1, timeout: float = 10.0
    ) -> JsonObject:
        """Wait for the ``count``-th update of ``task_id`` in ``state`` (and ``message``)."""

        def matching() -> list[JsonObject]:
            return [
                status
                for status in self.updates_of(task_id)
                if status["state"] == state and (message is None or status.get("message") == message)
            ]

        await self.wait_until(lambda: len(matching()) >= count, timeout)
        return matching()[count - 1]

    def updates_of(self, task_id: str) -> list[JsonObject]:
        return [status for status in self.updates if status["task_id"]["value"] == task_id]

    def states_of(self, task_id: str) -> list[str]:
        return [str(status["state"]) for status in self.updates_of(task_id)]

    # -- the endpoint ----------------------------------------------------------------------------------

    def _framework_info(self) -> JsonObject:
        return {"id": {"value": self.framework_id}, "user": "tester", "name": "elasticjob-test"}

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _reject(self, status: int, reason: str) -> web.Response:
        self.rejected.append((status, reason))
        await self._notify()
        return web.Response(status=status, text=reason)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return await self._reject(405, "Expecting a 'POST' request")
        if request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return await self._reject(415, "Expecting 'Content-Type' of application/json")
        try:
            call = json.loads(await request.read())
        except ValueError as exc:
            return await self._reject(400, f"Failed to parse body into JSON: {exc}")
        if not isinstance(call, dict):
            return await self._reject(400, "Expecting a JSON object")
        if call.get("framework_id") != {"value": self.framework_id}:
            return await self._reject(400, f"Unknown framework {call.get('framework_id')}")
        if call.get("executor_id") != {"value": self.executor_id}:
            return await self._reject(400, f"Unknown executor {call.get('executor_id')}")
        kind = call.get("type")
        if kind == "SUBSCRIBE":
            return await self._subscribe(request, call)
        if kind == "UPDATE":
            return await self._update(call)
        if kind == "MESSAGE":
            if self._stream is None:
                return await self._reject(403, "executor is not subscribed")
            self.messages.append(call)
            await self._notify()
            return web.Response(status=202)
        return await self._reject(400, f"unknown call type {kind!r}")

    async def _subscribe(self, request: web.Request, call: JsonObject) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Accept", "application/json"):
            return await self._reject(406, "Expecting 'Accept' to allow application/json")
        previous = self._stream
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        stream = _Stream(response=response, request=request)
        self._stream = stream
        if previous is not None:
            previous.outgoing.put_nowait(None)
        self.subscriptions.append(call)
        self.subscribe_headers.append(dict(request.headers))
        stream.outgoing.put_nowait(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "executor_info": {
                        "executor_id": {"value": self.executor_id},
                        "framework_id": {"value": self.framework_id},
                        "command": {"value": f"{sys.executable} -m server.executor"},
                    },
                    "framework_info": self._framework_info(),
                    "agent_info": {
                        "id": {"value": self.agent_id},
                        "hostname": "127.0.0.1",
                        "port": self._port,
                    },
                    "container_id": {"value": "container-1"},
                },
            }
        )
        if self.auto_ack:
            for update in call.get("subscribe", {}).get("unacknowledged_updates", []):
                status = update["status"]
                stream.outgoing.put_nowait(
                    {
                        "type": "ACKNOWLEDGED",
                        "acknowledged": {"task_id": status["task_id"], "uuid": status["uuid"]},
                    }
                )
        await self._notify()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while (event := await stream.outgoing.get()) is not None:
                await response.write(encode_record(json.dumps(event).encode()))
        if self._stream is stream:
            self._stream = None
        return response

    async def _update(self, call: JsonObject) -> web.Response:
        status = call.get("update", {}).get("status")
        if not isinstance(status, dict):
            return await self._reject(400, "Expecting 'update' to be present")
        try:
            raw_uuid = base64.b64decode(str(status.get("uuid", "")), validate=True)
        except (binascii.Error, ValueError):
            raw_uuid = b""
        if len(raw_uuid) != 16:
            return await self._reject(400, "Expecting 'uuid' to be a 16-byte UUID")
        if status.get("source") != "SOURCE_EXECUTOR":
            return await self._reject(400, "Received Call from executor with invalid source")
        if status.get("state") == "TASK_STAGING":
            return await self._reject(400, "Received TASK_STAGING from executor")
        if "executor_id" in status and status["executor_id"] != call["executor_id"]:
            return await self._reject(400, "ExecutorID in Call does not match ExecutorID in TaskStatus")
        if self._stream is None:
            return await self._reject(403, "executor is not subscribed")
        self.updates.append(status)
        if self.auto_ack:
            self.acknowledge(status)
        await self._notify()
        return web.Response(status=202)


# -- TaskInfos --------------------------------------------------------------------------------------


def task_info(
    job_name: str,
    item: int = 0,
    *,
    total: int = 1,
    bootstrap_script: str = "app/run.sh",
    job_execution_type: str = "TRANSIENT",
    error_handler: str = "LOG",
    service_handler: str = "CPU",
    cron: str = "",
    misfire: bool = False,
    sampling: int = 0,
    item_parameter: str = "",
    job_parameter: str = "",
    kill_grace_seconds: float | None = None,
    agent_id: str = AGENT_ID,
) -> JsonObject:
    """A TaskInfo as ``server/scheduler/taskinfo.py`` builds it (executor and resources trimmed)."""
    task_id = str(TaskId(job_name, item, ExecutionType.READY, agent_id))
    context = ShardingContext(
        task_id=task_id,
        job_name=job_name,
        sharding_item=item,
        sharding_total_count=total,
        sharding_item_parameter=item_parameter,
        job_parameter=job_parameter,
        execution_type="READY",
        job_execution_type=job_execution_type,
        cron=cron,
        misfire=misfire,
        failover=False,
        job_executor_service_handler_type=service_handler,
        job_error_handler_type=error_handler,
        props={},
        bootstrap_script=bootstrap_script,
        event_trace_sampling_count=sampling,
    )
    document = context.to_json_document()
    document["environment"] = context.environment()
    info: JsonObject = {
        "name": f"{job_name}@-@{item}",
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "executor": {"executor_id": {"value": EXECUTOR_ID}, "framework_id": {"value": FRAMEWORK_ID}},
        "data": base64.b64encode(json.dumps(document, sort_keys=True).encode()).decode("ascii"),
    }
    if kill_grace_seconds is not None:
        info["kill_policy"] = {"grace_period": {"nanoseconds": int(kill_grace_seconds * 1e9)}}
    return info


def decode_uuid(status: JsonObject) -> bytes:
    return base64.b64decode(status["uuid"], validate=True)


# -- apps in the sandbox ------------------------------------------------------------------------------


def write_script(sandbox: Path, relative: str, body: str, *, executable: bool = True) -> Path:
    """Write a shell script into the sandbox (as the fetcher would have extracted it)."""
    path = sandbox / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body if executable else body)
    path.chmod(0o755 if executable else 0o644)
    return path


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (non-zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


# -- the real executor ----------------------------------------------------------------------------


class ExecutorProcess:
    """``python -m server.executor`` started as an agent starts it: sandbox as cwd, stdout and
    stderr into the sandbox files, ``MESOS_*`` in the environment, its own process group."""

    def __init__(self, process: ManagedProcess, sandbox: Path) -> None:
        self.process = process
        self.sandbox = sandbox

    @classmethod
    async def start(
        cls,
        agent: AgentDouble,
        sandbox: Path,
        *,
        checkpoint: bool = False,
        shutdown_grace: str = "5secs",
        recovery_timeout: str = "10secs",
        backoff_max: str = "100ms",
        extra_env: Mapping[str, str] | None = None,
    ) -> ExecutorProcess:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO_ROOT),
            "MESOS_FRAMEWORK_ID": agent.framework_id,
            "MESOS_EXECUTOR_ID": agent.executor_id,
            "MESOS_SLAVE_ID": agent.agent_id,
            "MESOS_AGENT_ENDPOINT": agent.endpoint,
            "MESOS_DIRECTORY": str(sandbox),
            "MESOS_SANDBOX": str(sandbox),
            "MESOS_CHECKPOINT": "1" if checkpoint else "0",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": shutdown_grace,
            "ELASTICJOB_APP_NAME": APP_NAME,
        }
        if checkpoint:
            env["MESOS_RECOVERY_TIMEOUT"] = recovery_timeout
            env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = backoff_max
        env.update(extra_env or {})
        sandbox.mkdir(parents=True, exist_ok=True)
        process = await start_process(
            [sys.executable, "-m", "server.executor"],
            shell=False,
            cwd=sandbox,
            env=env,
            stdout_path=sandbox / "stdout",
            stderr_path=sandbox / "stderr",
        )
        return cls(process, sandbox)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self, timeout: float = 10.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    def signal(self, number: signal.Signals) -> None:
        os.kill(self.process.pid, number)

    async def stop(self) -> None:
        if self.process.returncode is None:
            await self.process.terminate(2.0)

    def stderr(self) -> str:
        return (self.sandbox / "stderr").read_text(errors="replace")

    def stdout(self) -> str:
        return (self.sandbox / "stdout").read_text(errors="replace")
