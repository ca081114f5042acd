"""The container of an executor run: its sandbox, what is fetched into it, its environment and
its process group.

Sandboxes are ``<work_dir>/sandboxes/<framework>/<executor>/<run>/`` with ``stdout`` and ``stderr``
files. Every process is a process group started by :func:`~server.base.processes.start_process`
and recorded in the agent's :class:`~server.base.processes.PidRegistry`. A ``CommandInfo`` with
``shell`` (the default) runs ``/bin/sh -c value``; without, ``value`` (or the first argument) with
``arguments[1:]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from pathlib import Path

from server.base.processes import ManagedProcess, PidRegistry, ProcessStartError, start_process
from server.cluster.agent.fetcher import Fetcher, FetchError, UriSpec
from server.cluster.agent.records import AgentFramework, ExecutorRun
from server.cluster.settings import AgentSettings
from server.mesos.values import JsonObject, duration_seconds, mesos_duration

__all__ = ["Containerizer", "describe_exit", "group_gone"]


class Containerizer:
    """Prepares sandboxes and starts the processes of executor runs on one agent."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        agent_id: str,
        work_dir: Path,
        fetcher: Fetcher,
        pids: PidRegistry,
    ) -> None:
        self._settings = settings
        self._agent_id = agent_id
        self._work_dir = work_dir
        self._fetcher = fetcher
        self._pids = pids
        #: ``ip:port`` of the executor API (``MESOS_AGENT_ENDPOINT``), set once it is bound.
        self.endpoint = ""

    def sandbox(self, framework_id: str, executor_id: str, run_id: str) -> Path:
        return self._work_dir / "sandboxes" / framework_id / executor_id / run_id

    async def prepare(self, run: ExecutorRun, command: JsonObject) -> None:
        """Create the run's sandbox and fetch ``command.uris`` into it; raises :class:`FetchError`,
        having removed the sandbox (nothing ran in it; the task's status names the URI)."""
        await asyncio.to_thread(run.sandbox.mkdir, parents=True, exist_ok=True)
        try:
            await self._fetch(run, command)
        except FetchError:
            await asyncio.to_thread(_remove_sandbox, run.sandbox)
            raise

    async def _fetch(self, run: ExecutorRun, command: JsonObject) -> None:
        uris = []
        for entry in command.get("uris") or []:
            try:
                uris.append(UriSpec.from_json(entry))
            except (ValueError, TypeError, AttributeError) as exc:
                uri = entry.get("value") if isinstance(entry, dict) else entry
                raise FetchError(f"fetch {uri} failed: {exc}", uri=str(uri)) from exc
        if uris:
            await self._fetcher.fetch(uris, run.sandbox)

    async def launch(
        self, framework: AgentFramework, run: ExecutorRun, command: JsonObject
    ) -> ManagedProcess:
        """Start ``command`` in the run's sandbox; raises :class:`ProcessStartError`."""
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
            env=self.environment(framework, run, command),
            stdout_path=run.sandbox / "stdout",
            stderr_path=run.sandbox / "stderr",
            pid_registry=self._pids,
        )

    def environment(self, framework: AgentFramework, run: ExecutorRun, command: JsonObject) -> dict[str, str]:
        """The agent's base environment, the ``MESOS_*`` variables, then ``command.environment``."""
        base = os.environ if self._settings.environment is None else self._settings.environment
        environment = dict(base)
        grace = self.shutdown_grace(run)
        environment.update(
            {
                "MESOS_FRAMEWORK_ID": run.framework_id,
                "MESOS_EXECUTOR_ID": run.executor_id,
                "MESOS_DIRECTORY": str(run.sandbox),
                "MESOS_SANDBOX": str(run.sandbox),
                "MESOS_AGENT_ENDPOINT": self.endpoint,
                "MESOS_SLAVE_ID": self._agent_id,
                "MESOS_AGENT_ID": self._agent_id,
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

    def shutdown_grace(self, run: ExecutorRun) -> float:
        """Seconds between an executor's SHUTDOWN and its SIGKILL."""
        configured = duration_seconds(run.info.get("shutdown_grace_period"))
        return configured if configured is not None else self._settings.executor_shutdown_grace_period


def group_gone(pgid: int) -> bool:
    """Cheap check that no process (not even a zombie) is left in the group, so the sweep with
    :meth:`ManagedProcess.terminate` (which scans ``/proc``) can be skipped."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def describe_exit(returncode: int | None) -> str:
    """How a process ended, in words (``exited with status 1``, ``terminated by SIGKILL``)."""
    if returncode is None:
        return "it never started"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"terminated by {name}"
    return f"exited with status {returncode}"


def _remove_sandbox(sandbox: Path) -> None:
    """Remove a sandbox, and its executor's directory when no other run is left in it."""
    shutil.rmtree(sandbox, ignore_errors=True)
    with contextlib.suppress(OSError):
        sandbox.parent.rmdir()
