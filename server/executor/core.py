"""The executor: the agent's events in, shard tasks and status updates out.

One executor serves every task of one app on one agent (executor id ``app@-@agentId``); Mesos
sends each new task of the app to it as a ``LAUNCH``. When its last task ends it stays up, since
the agent may send more (unless ``exit_when_idle``: an executor made for one launch of an app
whose cache is disabled leaves, like a SHUTDOWN, once its tasks have ended); it exits only

- on ``SHUTDOWN`` (or SIGTERM / SIGINT): every task is killed (SIGTERM, then SIGKILL after the
  task's kill grace period, shortened to fit ``MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD``), each sends
  ``TASK_KILLED``, the executor waits for the agent to acknowledge them (within what is left of
  that grace period) and exits with status 0;
- when the agent is lost for good (see :mod:`server.executor.agent`): every task is killed, since
  nobody could hear from it anymore, and the executor exits with status 1.

``LAUNCH`` is checked before anything runs: an unreadable sharding context or a bootstrap script
that is missing or escapes the sandbox (see :mod:`server.executor.sandbox`) gets ``TASK_FAILED``
with the reason. ``LAUNCH_GROUP`` (task groups, for the default executor) is refused the same way.
``KILL`` uses the event's kill policy, else the TaskInfo's, else 3 seconds. A ``KILL`` for a task
the executor does not have (never launched, or already ended) is logged and ignored: its terminal
update, if any, is already in the ledger.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import signal
from collections.abc import Mapping

from server.base.clock import Clock, SystemClock
from server.executor.agent import AgentConnection, ConnectionEnd
from server.executor.runs import RunSlots
from server.executor.sandbox import ScriptRefused, resolve_bootstrap
from server.executor.settings import ExecutorSettings
from server.executor.shard import InvalidTask, decode_task, grace_period
from server.executor.tasks import ShardTask
from server.executor.updates import JsonObject, StatusUpdate

__all__ = ["EXIT_AGENT_LOST", "EXIT_OK", "Executor"]

log = logging.getLogger("server.executor")

EXIT_OK = 0
EXIT_AGENT_LOST = 1
#: Share of the shutdown grace period given to the tasks' SIGTERM → SIGKILL wait; the rest is for
#: sending TASK_KILLED and getting it acknowledged before the agent destroys the executor.
_SHUTDOWN_KILL_SHARE = 0.6


class Executor:
    """See the module docstring. Build it, then ``await run()`` for the exit status."""

    def __init__(
        self,
        settings: ExecutorSettings,
        *,
        clock: Clock | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock or SystemClock()
        self._environment = dict(os.environ if environment is None else environment)
        self._zone = settings.zone()
        self._slots = RunSlots(settings.parallelism)
        self._connection = AgentConnection(settings, self)
        self._tasks: dict[str, ShardTask] = {}
        self._stopping: asyncio.Task[None] | None = None

    @property
    def connection(self) -> AgentConnection:
        return self._connection

    async def run(self, *, handle_signals: bool = False) -> int:
        """Serve until SHUTDOWN or the agent is lost; return the process exit status."""
        loop = asyncio.get_running_loop()
        log.info(
            "executor %s of framework %s starting in %s (agent %s, checkpoint %s, parallelism %d)",
            self._settings.executor_id,
            self._settings.framework_id,
            self._settings.sandbox,
            self._settings.agent_endpoint,
            "on" if self._settings.checkpoint else "off",
            self._slots.parallelism,
        )
        if handle_signals:
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, self._begin_shutdown, f"signal {number.name}")
        try:
            end = await self._connection.run()
        finally:
            if handle_signals:
                for number in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(number)
        if end is ConnectionEnd.AGENT_LOST:
            log.error("the agent is gone: killing %d task(s) and exiting", len(self._tasks))
            await self._kill_all(budget=None)
            return EXIT_AGENT_LOST
        if self._stopping is not None:
            await self._stopping
        log.info("executor %s exits", self._settings.executor_id)
        return EXIT_OK

    # -- AgentEventHandler ------------------------------------------------------------------------------

    def on_subscribed(self, subscribed: JsonObject) -> None:
        agent = subscribed.get("agent_info", {})
        framework = subscribed.get("framework_info", {})
        log.info(
            "subscribed: agent %s (%s), framework %r",
            agent.get("id", {}).get("value", "?"),
            agent.get("hostname", "?"),
            framework.get("name", "?"),
        )

    def on_launch(self, task_info: JsonObject) -> None:
        task_id = str(task_info["task_id"]["value"])
        if task_id in self._tasks:
            log.warning("task %s is already running here; ignoring the repeated LAUNCH", task_id)
            return
        self._connection.ledger.add_task(task_info)
        if self._stopping is not None:
            self._refuse(task_id, "the executor is shutting down")
            return
        try:
            shard = decode_task(task_info)
            resolve_bootstrap(self._settings.sandbox, shard.context.bootstrap_script)
        except (InvalidTask, ScriptRefused) as exc:
            self._refuse(task_id, str(exc))
            return
        task = ShardTask(
            shard,
            sandbox=self._settings.sandbox,
            base_environment=self._environment,
            slots=self._slots,
            send=self._connection.send_update,
            send_message=self._connection.send_message,
            zone=self._zone,
            clock=self._clock,
            on_done=self._forget,
        )
        self._tasks[task_id] = task
        log.info(
            "task %s: %s shard %s of %s, bootstrapScript %r",
            task_id,
            shard.execution_type.value,
            shard.label,
            shard.context.sharding_total_count,
            shard.context.bootstrap_script,
        )
        task.start()

    def on_launch_group(self, task_infos: list[JsonObject]) -> None:
        for task_info in task_infos:
            self._connection.ledger.add_task(task_info)
            self._refuse(
                str(task_info["task_id"]["value"]),
                "the ElasticJob executor does not run task groups (LAUNCH_GROUP); launch tasks one by one",
            )

    def on_kill(self, task_id: str, kill_policy: JsonObject | None) -> None:
        task = self._tasks.get(task_id)
        if task is None:
            log.warning("KILL for task %s, which is not running here; ignored", task_id)
            return
        grace = grace_period(kill_policy, task.shard.kill_grace_period)
        log.info("task %s: killing (grace period %.2f s)", task_id, grace)
        task.kill(grace)

    def on_acknowledged(self, update: StatusUpdate) -> None:
        log.debug("task %s: %s acknowledged", update.task_id, update.state)

    def on_message(self, data: str) -> None:
        try:
            text = base64.b64decode(data).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            text = data
        log.info("message from the scheduler (ignored): %s", text[:200])

    def on_shutdown(self) -> None:
        self._begin_shutdown("SHUTDOWN from the agent")

    # -- internals ------------------------------------------------------------------------------------

    def _refuse(self, task_id: str, reason: str) -> None:
        log.error("task %s refused: %s", task_id, reason)
        self._connection.send_update(task_id, "TASK_FAILED", reason)

    def _forget(self, task: ShardTask) -> None:
        if self._tasks.get(task.task_id) is task:
            del self._tasks[task.task_id]
        if self._settings.exit_when_idle and not self._tasks:
            self._begin_shutdown("its tasks have ended and the app's cache is disabled")

    def _begin_shutdown(self, reason: str) -> None:
        if self._stopping is None:
            log.info("shutting down (%s): killing %d task(s)", reason, len(self._tasks))
            self._stopping = asyncio.create_task(self._shutdown())

    async def _shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        budget = self._settings.shutdown_grace_period
        deadline = loop.time() + budget
        await self._kill_all(budget=budget * _SHUTDOWN_KILL_SHARE)
        if not await self._connection.wait_settled(deadline - loop.time()):
            log.warning(
                "%d update(s) not acknowledged before the shutdown grace period ran out",
                len(self._connection.ledger),
            )
        self._connection.close()

    async def _kill_all(self, *, budget: float | None) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            grace = task.shard.kill_grace_period
            task.kill(grace if budget is None else min(grace, budget))
        if tasks:
            await asyncio.gather(*(task.wait() for task in tasks))


def run_from_environment(env: Mapping[str, str] | None = None) -> int:
    """Build the executor from the environment and run it until it exits; the exit status."""
    settings = ExecutorSettings.from_environment(env)

    async def main() -> int:
        executor = Executor(settings)
        return await executor.run(handle_signals=True)

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main())
    return EXIT_OK
