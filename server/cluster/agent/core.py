"""The embedded agent: what the master asks of it, its executors' subscriptions, and the status
updates of their tasks.

For each task the master hands it (:meth:`Agent.launch_task`), a command task gets a run of the
built-in command executor; a task with an ``ExecutorInfo`` goes to that executor, started once per
(framework, executor id) (see :mod:`~server.cluster.agent.runs`). The task is queued until the
executor SUBSCRIBEs, then delivered as a ``LAUNCH`` event; later tasks for the same executor id go
to the running executor. The executor's ``UPDATE`` calls are ``ACKNOWLEDGED`` as soon as the agent
has recorded them (as Mesos does: from then on the agent resends them to the framework until it
acknowledges). When an executor exits, its unfinished tasks become ``TASK_FAILED``
(``TASK_KILLED`` if they were being killed or the executor was shut down) with
``REASON_EXECUTOR_TERMINATED``, and the master is told (it sends FAILURE to the framework).

:meth:`Agent.start` reaps the process groups a previous agent on the same work directory left
behind. Status updates go through the :class:`~server.cluster.agent.updates.StatusUpdateManager`:
ordered, resent until acknowledged. Nothing is checkpointed: an agent restart starts from nothing
(new agent id), and tasks of the previous run are unknown to the master.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from server.base.processes import PidRegistry
from server.cluster.agent.containerizer import Containerizer, describe_exit
from server.cluster.agent.fetcher import Fetcher
from server.cluster.agent.records import AgentFramework, AgentTask, ExecutorRun, ExecutorState, Termination
from server.cluster.agent.runs import RunSupervisor
from server.cluster.agent.statuses import MasterLink, TaskStatuses
from server.cluster.resources import Resources
from server.cluster.settings import AgentSettings
from server.cluster.wire import EventStream
from server.mesos.events import (
    HEARTBEAT,
    SHUTDOWN,
    acknowledged_event,
    executor_message_event,
    executor_subscribed_event,
    kill_event,
    launch_event,
)
from server.mesos.values import JsonObject, duration_seconds, wait_status

__all__ = ["Agent"]

logger = logging.getLogger("server.cluster.agent")


class Agent:
    """The embedded agent (see the module docstring). Methods that the master calls return at
    once; the work they start (fetching, processes) runs in background tasks of the event loop."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        agent_id: str,
        hostname: str,
        resources: Resources,
        work_dir: Path,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.settings = settings
        self.agent_id = agent_id
        self.hostname = hostname
        self.resources = resources
        self.work_dir = work_dir
        self._link: MasterLink | None = None
        self._fetcher = fetcher or Fetcher(work_dir / "fetch-cache")
        self._owns_fetcher = fetcher is None
        self._pids = PidRegistry(work_dir / "agent-pids.json")
        self._containerizer = Containerizer(
            settings, agent_id=agent_id, work_dir=work_dir, fetcher=self._fetcher, pids=self._pids
        )
        self._frameworks: dict[str, AgentFramework] = {}
        self._statuses = TaskStatuses(
            settings, agent_id=agent_id, frameworks=self._frameworks, forget_if_done=self._forget_if_done
        )
        self._runs = RunSupervisor(
            settings,
            self._containerizer,
            update=self._statuses.agent_update,
            exited=self._executor_exited,
            spawn=self._spawn,
        )
        self._lifecycles: set[asyncio.Task[None]] = set()
        self._heartbeats: asyncio.Task[None] | None = None
        self._stopping = False
        self.host = "127.0.0.1"
        self.port = 0
        self.reaped_orphans: list[int] = []

    @property
    def endpoint(self) -> str:
        """``ip:port`` of the executor API (once the HTTP server is bound)."""
        return self._containerizer.endpoint

    def attach(self, link: MasterLink) -> None:
        self._link = link
        self._statuses.link = link

    def bind(self, host: str, port: int) -> None:
        """Record where the executor API listens (for ``MESOS_AGENT_ENDPOINT`` and AgentInfo)."""
        self.host = host
        self.port = port
        self._containerizer.endpoint = f"{host}:{port}"

    async def start(self) -> None:
        """Kill what a previous agent on this work directory left running, then start serving."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.reaped_orphans = await self._pids.reap_orphans(
            grace_period=self.settings.default_kill_grace_period
        )
        if self.reaped_orphans:
            logger.warning("killed process groups left by a previous agent run: %s", self.reaped_orphans)
        self._statuses.start()
        self._heartbeats = asyncio.create_task(self._heartbeat_loop(), name="agent-executor-heartbeats")
        logger.info("agent %s started: %s, work dir %s", self.agent_id, self.resources, self.work_dir)

    async def stop(self, grace_period: float | None = None) -> None:
        """Shut down every executor and command task (SIGTERM, then SIGKILL after at most
        ``grace_period`` seconds) and wait until they are gone."""
        self._stopping = True
        for framework in list(self._frameworks.values()):
            for run in list(framework.executors.values()):
                self._runs.shutdown(run, grace_period=grace_period, message="Agent is shutting down")
        if self._lifecycles:
            await asyncio.wait(set(self._lifecycles), timeout=(grace_period or 5.0) + 5.0)
        for task in list(self._lifecycles):
            task.cancel()
        if self._heartbeats is not None:
            self._heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeats
        await self._statuses.stop()
        if self._owns_fetcher:
            await self._fetcher.aclose()
        logger.info("agent %s stopped", self.agent_id)

    def agent_info(self) -> JsonObject:
        """``AgentInfo`` JSON, as offers and the executor's SUBSCRIBED event carry it."""
        return {
            "id": {"value": self.agent_id},
            "hostname": self.hostname,
            "port": self.port,
            "resources": self.resources.to_json(),
            "attributes": [],
        }

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
            self._statuses.agent_update(
                run,
                agent_task,
                framework.dropped_task_state,
                "REASON_EXECUTOR_TERMINATED",
                "Executor is terminating",
            )
            return
        if run is None:
            run = self._new_run(framework, executor_id, executor_info, command_task=False)
            self._spawn(self._runs.run_executor(framework, run), f"executor-{executor_id}")
        framework.task_owner[task_id] = run
        run.tasks[task_id] = agent_task
        if run.state is ExecutorState.RUNNING and run.connection is not None:
            run.connection.send(launch_event(task))
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
            self._statuses.agent_update(
                run,
                task,
                "TASK_KILLED",
                "REASON_TASK_KILLED_DURING_LAUNCH",
                "Killed before the executor subscribed",
            )
            if not run.live_tasks:
                self._runs.shutdown(run, message="Executor has no tasks left to run")
        elif run.connection is not None:
            run.connection.send(kill_event(task_id, kill_policy))
        else:
            run.pending_kills[task_id] = kill_policy
        logger.info("killing task %s of framework %s", task_id, framework_id)
        return True

    def shutdown_executor(self, framework_id: str, executor_id: str) -> None:
        framework = self._frameworks.get(framework_id)
        run = framework.executors.get(executor_id) if framework else None
        if run is not None and not run.command_task:
            self._runs.shutdown(run, message="Executor shut down by the framework")

    def shutdown_framework(self, framework_id: str) -> None:
        """The framework was removed: kill all its executors and tasks, drop its updates."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return
        framework.removed = True
        self._statuses.drop_framework(framework_id)
        for run in list(framework.executors.values()):
            self._runs.shutdown(run, message="Framework removed")
        self._forget_if_done(framework)

    def framework_message(self, framework_id: str, executor_id: str, data: str) -> bool:
        """Pass a scheduler's message to a subscribed executor (unreliable: dropped otherwise)."""
        framework = self._frameworks.get(framework_id)
        run = framework.executors.get(executor_id) if framework else None
        if run is None or run.connection is None:
            logger.warning("dropping message for executor %s: not subscribed", executor_id)
            return False
        run.connection.send(executor_message_event(data))
        return True

    def acknowledge(self, framework_id: str, task_id: str, uuid_text: str) -> bool:
        return self._statuses.acknowledge(framework_id, task_id, uuid_text)

    def resend_updates(self, framework_id: str) -> None:
        self._statuses.resend(framework_id)

    def update_framework(self, framework_info: JsonObject) -> None:
        framework = self._frameworks.get(str(framework_info["id"]["value"]))
        if framework is not None:
            framework.info = framework_info

    def pending_updates(self, framework_id: str, task_id: str) -> list[JsonObject]:
        return self._statuses.pending(framework_id, task_id)

    def frameworks(self) -> list[AgentFramework]:
        """Every framework this agent remembers (``removed`` ones too, until forgotten)."""
        return list(self._frameworks.values())

    def executors(self) -> list[ExecutorRun]:
        """Every executor run this agent remembers, live ones first."""
        live = [run for framework in self._frameworks.values() for run in framework.executors.values()]
        done = [run for framework in self._frameworks.values() for run in framework.completed_executors]
        return live + done

    def executor_run(self, framework_id: str, executor_id: str) -> tuple[AgentFramework, ExecutorRun] | str:
        """The framework and the custom executor run a call comes from, or why there is none."""
        framework = self._frameworks.get(framework_id)
        if framework is None:
            return "Framework cannot be found"
        run = framework.executors.get(executor_id)
        if run is None or run.command_task:
            return "Executor cannot be found"
        return framework, run

    def executor_subscribed(
        self, framework: AgentFramework, run: ExecutorRun, subscribe: JsonObject
    ) -> EventStream:
        """The new event stream of a subscribing executor: SUBSCRIBED, then what it missed."""
        stream = EventStream(on_end=lambda ended: self._executor_stream_ended(run, ended))
        previous, run.connection = run.connection, stream
        if previous is not None:
            logger.info("executor %s resubscribed; closing its previous connection", run.executor_id)
            previous.close()
        stream.send(
            executor_subscribed_event(
                executor_info=run.info,
                framework_info=framework.info,
                agent_info=self.agent_info(),
                container_id=run.run_id,
            )
        )
        if run.state is ExecutorState.TERMINATING:
            stream.send(SHUTDOWN)
            return stream
        if run.state is ExecutorState.REGISTERING:
            logger.info("executor %s of framework %s subscribed", run.executor_id, run.framework_id)
        run.state = ExecutorState.RUNNING
        for update in subscribe.get("unacknowledged_updates") or []:
            status = update.get("status") if isinstance(update, dict) else None
            if isinstance(status, dict) and isinstance(status.get("uuid"), str):
                with contextlib.suppress(KeyError, TypeError):
                    self.executor_update(framework, run, status)
        for task_id in run.queued:
            task = run.tasks.get(task_id)
            if task is not None and not task.terminal:
                stream.send(launch_event(task.info))
        run.queued.clear()
        for task_id, kill_policy in run.pending_kills.items():
            stream.send(kill_event(task_id, kill_policy))
        run.pending_kills.clear()
        return stream

    def executor_update(self, framework: AgentFramework, run: ExecutorRun, status: JsonObject) -> None:
        """Record a (validated) status update from an executor and acknowledge it to the executor."""
        recorded = self._statuses.executor_update(framework, run, status)
        # As Mesos' agent does once its status update manager has the update: from now on the
        # agent, not the executor, is responsible for delivering it.
        if recorded is not None and run.connection is not None:
            run.connection.send(acknowledged_event(str(recorded["task_id"]["value"]), recorded["uuid"]))

    def executor_message(self, framework: AgentFramework, run: ExecutorRun, data: str) -> None:
        if self._link is not None and not framework.removed:
            self._link.executor_message(framework.framework_id, run.executor_id, data)

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
            self._runs.shutdown(run, message="Executor disconnected")
        else:
            logger.warning("executor %s disconnected; waiting for it to resubscribe", run.executor_id)

    def _framework(self, framework_info: JsonObject) -> AgentFramework:
        framework_id = str(framework_info["id"]["value"])
        framework = self._frameworks.get(framework_id)
        if framework is None or framework.removed:
            framework = AgentFramework(framework_info)
            framework.completed_executors = deque(maxlen=self.settings.history)
            self._frameworks[framework_id] = framework
        else:
            framework.info = framework_info
        return framework

    def _new_run(
        self, framework: AgentFramework, executor_id: str, executor_info: JsonObject, *, command_task: bool
    ) -> ExecutorRun:
        run_id = str(uuid.uuid4())
        run = ExecutorRun(
            framework_id=framework.framework_id,
            executor_id=executor_id,
            info=executor_info,
            command_task=command_task,
            sandbox=self._containerizer.sandbox(framework.framework_id, executor_id, run_id),
            run_id=run_id,
        )
        run.completed_tasks = deque(maxlen=self.settings.history)
        framework.executors[executor_id] = run
        return run

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine, name=name)
        self._lifecycles.add(task)
        task.add_done_callback(self._lifecycles.discard)

    def _launch_command_task(self, framework: AgentFramework, task: AgentTask) -> None:
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
        self._spawn(self._runs.run_command_task(framework, run, task), f"command-task-{task.task_id}")

    def _executor_exited(self, framework: AgentFramework, run: ExecutorRun, returncode: int | None) -> None:
        """A run is over: fail what it left unfinished, forget it, tell the master."""
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
            termination = run.termination or Termination(
                "TASK_FAILED",
                "REASON_EXECUTOR_TERMINATED",
                f"Executor terminated: {describe_exit(returncode)}",
            )
            for task in run.live_tasks:
                state = "TASK_KILLED" if task.killing else termination.state
                self._statuses.agent_update(run, task, state, termination.reason, termination.message)
            logger.info(
                "executor %s of framework %s terminated: %s",
                run.executor_id,
                run.framework_id,
                describe_exit(returncode),
            )
        else:
            for task in run.live_tasks:  # only after an agent error
                self._statuses.agent_update(
                    run, task, "TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED", "Command executor ended"
                )
        if framework.executors.get(run.executor_id) is run:
            del framework.executors[run.executor_id]
        framework.completed_executors.append(run)
        if self._link is not None and not run.command_task and not framework.removed:
            self._link.executor_terminated(run.framework_id, run.executor_id, wait_status(returncode))
        self._forget_if_done(framework)

    def _forget_if_done(self, framework: AgentFramework) -> None:
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
                        run.connection.send(HEARTBEAT)
