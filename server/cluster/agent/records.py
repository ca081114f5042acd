"""What the agent remembers: frameworks, executor runs and their tasks."""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from server.base.processes import Credentials, ManagedProcess
from server.cluster.wire import EventStream
from server.mesos.states import TERMINAL_STATES
from server.mesos.values import JsonObject

__all__ = ["AgentFramework", "AgentTask", "ExecutorRun", "ExecutorState", "Termination"]


class ExecutorState(enum.Enum):
    """Where an executor (or a command task's built-in executor) is in its life."""

    LAUNCHING = "LAUNCHING"  # fetching / starting
    REGISTERING = "REGISTERING"  # process started, not subscribed yet
    RUNNING = "RUNNING"  # subscribed (or, for a command task, the command runs)
    TERMINATING = "TERMINATING"  # being shut down
    TERMINATED = "TERMINATED"


@dataclass(frozen=True, slots=True)
class Termination:
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
    #: The user the run's processes run as (``None``: the agent's own).
    credentials: Credentials | None = None
    connection: EventStream | None = None
    termination: Termination | None = None
    exit_status: int | None = None
    kill_requested: asyncio.Event = field(default_factory=asyncio.Event)
    kill_grace: float | None = None  # the KILL call's kill policy, overriding the task's
    kill_grace_cap: float | None = None  # at most this long (agent or executor shutdown)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    @property
    def live_tasks(self) -> list[AgentTask]:
        return [task for task in self.tasks.values() if not task.terminal]

    @property
    def terminating(self) -> bool:
        return self.state is ExecutorState.TERMINATING


@dataclass(eq=False)
class AgentFramework:
    """A framework with executors on this agent (or whose updates are still being delivered)."""

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

    def runs(self) -> tuple[list[ExecutorRun], list[ExecutorRun]]:
        """The executor runs not terminated yet, and the terminated ones (those still in
        ``executors``, then ``completed_executors``)."""
        live = [run for run in self.executors.values() if run.state is not ExecutorState.TERMINATED]
        done = [run for run in self.executors.values() if run.state is ExecutorState.TERMINATED]
        return live, [*done, *self.completed_executors]

    @property
    def dropped_task_state(self) -> str:
        """What a task becomes that the agent could not start: ``TASK_DROPPED``, or ``TASK_LOST``
        without PARTITION_AWARE."""
        return "TASK_DROPPED" if self.has_capability("PARTITION_AWARE") else "TASK_LOST"
