"""The container of an executor run: its sandbox, what is fetched into it, its user, its
environment and its process group.

* **Sandbox** (Mesos' layout, ``src/slave/paths.cpp``):
  ``<work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>/``,
  with ``runs/latest`` a symlink to the newest run, and ``stdout`` / ``stderr`` files in it.
* **User**: when the agent runs as root with ``switch_user`` on, the run belongs to
  ``CommandInfo.user``, else ``FrameworkInfo.user``: the sandbox (and what is fetched into it) is
  chowned to that user and the process runs as it. A user that does not exist fails the launch
  with :class:`SandboxError` (as Mesos' "Failed to create executor directory ...: Failed to chown
  directory to 'x': No such user 'x'"), the sandbox removed.
* **Environment** (Mesos' ``executorEnvironment`` in ``src/slave/slave.cpp`` and the
  containerizer's ``MESOS_SANDBOX``): the agent's base environment, then ``LIBPROCESS_PORT``,
  ``MESOS_FRAMEWORK_ID``, ``MESOS_EXECUTOR_ID``, ``MESOS_DIRECTORY``, ``MESOS_SANDBOX``,
  ``MESOS_SLAVE_ID``, ``MESOS_SLAVE_PID``, ``MESOS_AGENT_ENDPOINT``, ``MESOS_CHECKPOINT``,
  ``MESOS_HTTP_COMMAND_EXECUTOR``, ``MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD``,
  ``MESOS_ALLOCATION_ROLE`` (and with checkpointing ``MESOS_RECOVERY_TIMEOUT``,
  ``MESOS_SUBSCRIPTION_BACKOFF_MAX``), then ``command.environment``. A command task sees the
  same variables as its command executor would (its executor id is the task id); there is no
  ``MESOS_TASK_ID``, ``MESOS_AGENT_ID`` or ``MESOS_CONTAINER_ID``, as Mesos gives none.
  ``MESOS_NATIVE_LIBRARY`` is not set (there is no libmesos here).

Every process is a process group started by :func:`~server.base.processes.start_process` and
recorded in the agent's :class:`~server.base.processes.PidRegistry`. A ``CommandInfo`` with
``shell`` (the default) runs ``/bin/sh -c value``; without, ``value`` (or the first argument) with
``arguments[1:]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
from pathlib import Path

from server.base.processes import Credentials, ManagedProcess, PidRegistry, ProcessStartError, start_process
from server.cluster.agent.fetcher import Fetcher, FetchError, UriSpec
from server.cluster.agent.records import AgentFramework, ExecutorRun
from server.cluster.resources import resource_role
from server.cluster.settings import AgentSettings
from server.mesos.values import JsonObject, duration_seconds, mesos_duration

__all__ = ["Containerizer", "SandboxError", "describe_exit", "group_gone", "run_user"]


class SandboxError(Exception):
    """The run's sandbox could not be made for its user (the message is Mesos')."""


def run_user(framework_info: JsonObject, command: JsonObject) -> str | None:
    """Whom a run belongs to: ``CommandInfo.user``, else ``FrameworkInfo.user``."""
    user = command.get("user")
    if isinstance(user, str) and user:
        return user
    user = framework_info.get("user")
    return user if isinstance(user, str) and user else None


def _credentials(user: str) -> Credentials:
    """The user's uid, gid and groups; raises :class:`KeyError` for an unknown user."""
    entry = pwd.getpwnam(user)
    return Credentials(uid=entry.pw_uid, gid=entry.pw_gid, groups=tuple(os.getgrouplist(user, entry.pw_gid)))


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
        """``<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<executor>/runs/<container>``."""
        return (
            self._work_dir
            / "slaves"
            / self._agent_id
            / "frameworks"
            / framework_id
            / "executors"
            / executor_id
            / "runs"
            / run_id
        )

    def switches_user(self) -> bool:
        """Whether runs get their own user (``switch_user`` on and the agent is root)."""
        return self._settings.switch_user and os.geteuid() == 0

    async def prepare(self, framework: AgentFramework, run: ExecutorRun, command: JsonObject) -> None:
        """Create the run's sandbox (owned by the run's user), point ``runs/latest`` at it and
        fetch ``command.uris`` into it. Raises :class:`SandboxError` (unknown user) or
        :class:`FetchError`, having removed the sandbox (nothing ran in it; the message says
        why)."""
        credentials: Credentials | None = None
        user = run_user(framework.info, command) if self.switches_user() else None
        if user is not None:
            try:
                credentials = _credentials(user)
            except KeyError:
                raise SandboxError(
                    f"Failed to create executor directory '{run.sandbox}': "
                    f"Failed to chown directory to '{user}': No such user '{user}'"
                ) from None
        run.credentials = credentials
        await asyncio.to_thread(_create_sandbox, run.sandbox, credentials)
        try:
            await self._fetch(run, command)
        except FetchError:
            await asyncio.to_thread(_remove_sandbox, run.sandbox)
            raise
        if credentials is not None:
            await asyncio.to_thread(_chown_tree, run.sandbox, credentials)

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
            credentials=run.credentials,
        )

    def environment(self, framework: AgentFramework, run: ExecutorRun, command: JsonObject) -> dict[str, str]:
        """The agent's base environment, the ``MESOS_*`` variables, then ``command.environment``."""
        base = os.environ if self._settings.environment is None else self._settings.environment
        environment = dict(base)
        grace = self.shutdown_grace(run)
        environment.update(
            {
                "LIBPROCESS_PORT": "0",
                "MESOS_FRAMEWORK_ID": run.framework_id,
                "MESOS_EXECUTOR_ID": run.executor_id,
                "MESOS_DIRECTORY": str(run.sandbox),
                "MESOS_SANDBOX": str(run.sandbox),
                "MESOS_SLAVE_ID": self._agent_id,
                "MESOS_SLAVE_PID": f"slave(1)@{self.endpoint}",
                "MESOS_AGENT_ENDPOINT": self.endpoint,
                "MESOS_CHECKPOINT": "1" if framework.checkpoint else "0",
                "MESOS_HTTP_COMMAND_EXECUTOR": "0",
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": mesos_duration(grace),
                "MESOS_ALLOCATION_ROLE": _allocation_role(framework, run),
            }
        )
        if framework.checkpoint:
            # What a checkpointing executor needs to ride out a lost connection (Mesos' defaults).
            environment["MESOS_RECOVERY_TIMEOUT"] = "15mins"
            environment["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
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


def _allocation_role(framework: AgentFramework, run: ExecutorRun) -> str:
    """The role the run's resources were allocated to: their ``allocation_info.role``, else the
    framework's role (``*`` by default)."""
    resources = [
        resource
        for info in [run.info, *(task.info for task in run.tasks.values())]
        for resource in info.get("resources") or []
    ]
    roles = framework.info.get("roles") or []
    role = framework.info.get("role")
    if roles and isinstance(roles[0], str):
        default = str(roles[0])
    else:
        default = role if isinstance(role, str) and role else "*"
    return resource_role(resources, default)


def _create_sandbox(sandbox: Path, credentials: Credentials | None) -> None:
    """Make the run directory (owned by ``credentials``) and point ``runs/latest`` at it."""
    sandbox.mkdir(parents=True, exist_ok=True)
    if credentials is not None:
        os.chown(sandbox, credentials.uid, credentials.gid)
    latest = sandbox.parent / "latest"
    fresh = sandbox.parent / f".latest-{sandbox.name}"
    with contextlib.suppress(FileNotFoundError):
        fresh.unlink()
    fresh.symlink_to(sandbox)
    fresh.replace(latest)


def _chown_tree(sandbox: Path, credentials: Credentials) -> None:
    """Give the user what the (root) fetcher put in the sandbox."""
    for path in [sandbox, *sandbox.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):
            os.chown(path, credentials.uid, credentials.gid, follow_symlinks=False)
    for name in ("stdout", "stderr"):
        output = sandbox / name
        output.touch(exist_ok=True)  # the process appends to them as its user
        os.chown(output, credentials.uid, credentials.gid)


def _remove_sandbox(sandbox: Path) -> None:
    """Remove a sandbox (and ``runs/latest`` when it points at it), then its ``runs`` and
    executor directories when no other run is left in them."""
    shutil.rmtree(sandbox, ignore_errors=True)
    latest = sandbox.parent / "latest"
    with contextlib.suppress(OSError):
        if os.readlink(latest) == str(sandbox):
            latest.unlink()
    for directory in (sandbox.parent, sandbox.parent.parent):
        with contextlib.suppress(OSError):
            directory.rmdir()
