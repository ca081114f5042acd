"""Running an executor run until it ends: the built-in command executor, or a custom executor.

* **Command task** (``TaskInfo.command``): the agent is its built-in command executor (executor id
  = task id). It fetches the command's ``uris``, sends ``TASK_STARTING``, starts the command, sends
  ``TASK_RUNNING``, and ends with ``TASK_FINISHED`` (exit 0), ``TASK_FAILED`` (non-zero exit or
  signal), ``TASK_KILLED`` (KILL: SIGTERM to the process group, SIGKILL after the kill policy's
  grace period, ``default_kill_grace_period`` by default) or ``TASK_FAILED`` with
  ``REASON_MAX_COMPLETION_TIME_REACHED``.
* **Custom executor**: fetched and started in its sandbox, then given
  ``executor_registration_timeout`` to subscribe (else it is killed and its tasks fail with
  ``REASON_EXECUTOR_REGISTRATION_TIMEOUT``).

A sandbox that cannot be made for the run's user (it does not exist) ends the task(s) with
``TASK_DROPPED`` (``TASK_LOST`` without PARTITION_AWARE) / ``REASON_EXECUTOR_TERMINATED`` and
Mesos' "Failed to create executor directory" message, from the agent. A failed fetch fails the task(s) with ``TASK_FAILED`` / ``REASON_CONTAINER_LAUNCH_FAILED`` (what
Mesos reports for a fetcher failure) and a message naming the URI, without starting anything.
When the run's main process exits, whatever is left of its process group is killed (Mesos
destroys the container), and the agent is told (``exited``).

Shutting an executor down (:meth:`RunSupervisor.shutdown`) sends it ``SHUTDOWN`` and kills it
after its shutdown grace period; a command task is killed as by a KILL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from server.base.processes import ManagedProcess, ProcessStartError
from server.cluster.agent.containerizer import Containerizer, SandboxError, describe_exit, group_gone
from server.cluster.agent.fetcher import FetchError
from server.cluster.agent.records import AgentFramework, AgentTask, ExecutorRun, ExecutorState, Termination
from server.cluster.settings import AgentSettings
from server.mesos.events import SHUTDOWN
from server.mesos.values import duration_seconds

__all__ = ["AgentUpdate", "RunExited", "RunSupervisor"]

logger = logging.getLogger("server.cluster.agent")


class AgentUpdate(Protocol):
    """Records an update the agent (or its built-in command executor) generates."""

    def __call__(
        self,
        run: ExecutorRun,
        task: AgentTask,
        state: str,
        reason: str | None,
        message: str,
        *,
        source: str = "SOURCE_AGENT",
    ) -> None: ...


#: Told that a run is over (with its process's return code, ``None`` if it never started).
RunExited = Callable[[AgentFramework, ExecutorRun, int | None], None]


class RunSupervisor:
    """Starts and watches executor runs (see the module docstring)."""

    def __init__(
        self,
        settings: AgentSettings,
        containerizer: Containerizer,
        *,
        update: AgentUpdate,
        exited: RunExited,
        spawn: Callable[[Coroutine[Any, Any, Any], str], None],
    ) -> None:
        self._settings = settings
        self._containerizer = containerizer
        self._update = update
        self._exited = exited
        self._spawn = spawn

    def kill_process(self, run: ExecutorRun, process: ManagedProcess) -> None:
        """Kill the run's process group now, in the background."""
        self._spawn(process.terminate(0), f"kill-executor-{run.executor_id}")

    async def run_command_task(self, framework: AgentFramework, run: ExecutorRun, task: AgentTask) -> None:
        command = task.info["command"]
        update = self._update
        returncode: int | None = None
        try:
            try:
                await self._containerizer.prepare(framework, run, command)
            except SandboxError as exc:
                update(run, task, framework.dropped_task_state, "REASON_EXECUTOR_TERMINATED", str(exc))
                return
            except FetchError as exc:
                update(
                    run,
                    task,
                    "TASK_FAILED",
                    "REASON_CONTAINER_LAUNCH_FAILED",
                    f"Failed to launch container: {exc}",
                )
                return
            if task.killing:
                update(run, task, "TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH", "Killed during launch")
                return
            update(run, task, "TASK_STARTING", None, "Starting the command", source="SOURCE_EXECUTOR")
            try:
                process = await self._containerizer.launch(framework, run, command)
            except ProcessStartError as exc:
                update(
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
            update(
                run,
                task,
                "TASK_RUNNING",
                None,
                f"Command started (pid {process.pid})",
                source="SOURCE_EXECUTOR",
            )
            state, reason, message, returncode = await self._supervise_command(framework, run, task, process)
            update(run, task, state, reason, message, source="SOURCE_EXECUTOR")
        except Exception as exc:
            logger.exception("command task %s failed unexpectedly", task.task_id)
            if not task.terminal:
                update(run, task, "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", f"Agent error: {exc!r}")
        finally:
            if run.process is not None and run.process.returncode is None:
                await run.process.terminate(0)
            self._exited(framework, run, returncode)

    async def _supervise_command(
        self, framework: AgentFramework, run: ExecutorRun, task: AgentTask, process: ManagedProcess
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
            if not group_gone(process.pgid):
                await process.terminate(0)  # whatever the command left in its group goes with it
            if returncode == 0:
                return "TASK_FINISHED", None, "Command exited with status 0", returncode
            return "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", describe_exit(returncode), returncode
        exited.cancel()
        grace = run.kill_grace
        if grace is None:
            grace = duration_seconds((task.info.get("kill_policy") or {}).get("grace_period"))
        if grace is None:
            grace = self._settings.default_kill_grace_period
        if run.kill_grace_cap is not None:
            grace = min(grace, run.kill_grace_cap)
        if killed in done:
            if framework.has_capability("TASK_KILLING_STATE"):
                self._update(run, task, "TASK_KILLING", None, "Killing the command", source="SOURCE_EXECUTOR")
            returncode = await process.terminate(grace)
            return "TASK_KILLED", None, f"Command killed: {describe_exit(returncode)}", returncode
        returncode = await process.terminate(grace)
        return (
            "TASK_FAILED",
            "REASON_MAX_COMPLETION_TIME_REACHED",
            f"Task exceeded its max completion time of {max_time:g} s",
            returncode,
        )

    async def run_executor(self, framework: AgentFramework, run: ExecutorRun) -> None:
        returncode: int | None = None
        command = run.info.get("command") or {}
        try:
            try:
                await self._containerizer.prepare(framework, run, command)
            except SandboxError as exc:
                run.termination = Termination(
                    framework.dropped_task_state, "REASON_EXECUTOR_TERMINATED", str(exc)
                )
                return
            except FetchError as exc:
                run.termination = Termination(
                    "TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", f"Failed to launch container: {exc}"
                )
                return
            if run.terminating:
                return  # shut down (or all its tasks killed) while fetching
            try:
                process = await self._containerizer.launch(framework, run, command)
            except ProcessStartError as exc:
                run.termination = Termination("TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED", str(exc))
                return
            run.process = process
            logger.info(
                "executor %s of framework %s started (pid %d) in %s",
                run.executor_id,
                run.framework_id,
                process.pid,
                run.sandbox,
            )
            if run.terminating:  # shut down while the process was being started
                self.kill_process(run, process)
            else:
                run.state = ExecutorState.REGISTERING
                loop = asyncio.get_running_loop()
                run.timers.append(
                    loop.call_later(
                        self._settings.executor_registration_timeout, self._registration_timed_out, run
                    )
                )
            returncode = await process.wait()
            if not group_gone(process.pgid):
                await process.terminate(0)  # the rest of the container goes with the executor
        except Exception as exc:
            logger.exception("executor %s failed unexpectedly", run.executor_id)
            run.termination = run.termination or Termination(
                "TASK_FAILED", "REASON_EXECUTOR_TERMINATED", f"Agent error: {exc!r}"
            )
        finally:
            if run.process is not None and run.process.returncode is None:
                await run.process.terminate(0)
            self._exited(framework, run, returncode)

    def _registration_timed_out(self, run: ExecutorRun) -> None:
        if run.state is not ExecutorState.REGISTERING or run.process is None:
            return
        timeout = self._settings.executor_registration_timeout
        logger.warning("executor %s did not subscribe within %g s; killing it", run.executor_id, timeout)
        run.termination = Termination(
            "TASK_FAILED",
            "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
            f"Executor did not subscribe within {timeout:g} s",
        )
        run.state = ExecutorState.TERMINATING
        self.kill_process(run, run.process)

    def shutdown(self, run: ExecutorRun, *, message: str, grace_period: float | None = None) -> None:
        """Shut a run down: a command task is killed; a custom executor gets SHUTDOWN and is
        killed after its shutdown grace period (at most ``grace_period``)."""
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
        run.termination = run.termination or Termination("TASK_KILLED", "REASON_EXECUTOR_TERMINATED", message)
        for task in run.live_tasks:
            task.killing = True
        if previous is ExecutorState.TERMINATING and grace_period is None:
            return
        logger.info(
            "shutting down executor %s of framework %s: %s", run.executor_id, run.framework_id, message
        )
        shutdown_grace = self._containerizer.shutdown_grace(run)
        grace = shutdown_grace if grace_period is None else min(grace_period, shutdown_grace)
        process = run.process
        if process is None:
            return  # still fetching: the launch sees TERMINATING and stops
        if run.connection is not None and previous is ExecutorState.RUNNING:
            run.connection.send(SHUTDOWN)
            loop = asyncio.get_running_loop()
            run.timers.append(loop.call_later(grace, self.kill_process, run, process))
        else:
            self.kill_process(run, process)
