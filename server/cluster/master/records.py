"""What the master remembers: frameworks, their tasks, executors and outstanding offers."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.cluster.resources import Resources
from server.cluster.wire import EventStream
from server.mesos.states import TERMINAL_STATES
from server.mesos.values import JsonObject

__all__ = ["Framework", "MasterExecutor", "MasterTask", "Offer"]


@dataclass(eq=False)
class MasterTask:
    """A task as the master knows it, from launch until its terminal update is acknowledged."""

    framework_id: str
    task_id: str
    name: str
    agent_id: str
    executor_id: str | None  # the custom executor; None for a command task
    info: JsonObject
    resources: Resources
    latest: JsonObject
    delivering: JsonObject | None = None  # the update being delivered (unacknowledged head)
    #: Every state the task went through: ``{"state", "timestamp", "source"}`` plus ``message`` and
    #: ``reason`` when the status had them.
    history: list[JsonObject] = field(default_factory=list)

    def record(self, status: JsonObject) -> None:
        """Make ``status`` the latest one and add it to the history."""
        self.latest = status
        entry: JsonObject = {
            "state": status["state"],
            "timestamp": float(status.get("timestamp") or time.time()),
            "source": status.get("source"),
        }
        for key in ("message", "reason"):
            if status.get(key):
                entry[key] = status[key]
        self.history.append(entry)

    @property
    def state(self) -> str:
        return str(self.latest["state"])

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(eq=False)
class MasterExecutor:
    """A custom executor the master has launched tasks for, until the agent says it is gone."""

    executor_id: str
    info: JsonObject
    resources: Resources


@dataclass(eq=False)
class Offer:
    """An outstanding offer: good for one ACCEPT or DECLINE until rescinded."""

    offer_id: str
    framework_id: str
    role: str
    resources: Resources
    created_at: float
    timer: asyncio.TimerHandle | None = None

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


@dataclass(eq=False)
class Framework:
    """A registered framework."""

    framework_id: str
    info: JsonObject
    order: int
    registered_at: float
    connection: EventStream | None = None
    heartbeats: asyncio.Task[None] | None = None
    reregistered_at: float | None = None
    disconnected_at: float | None = None
    removed_at: float | None = None
    removal_timer: asyncio.TimerHandle | None = None
    tasks: dict[str, MasterTask] = field(default_factory=dict)
    completed_tasks: deque[MasterTask] = field(default_factory=deque)
    executors: dict[str, MasterExecutor] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)

    @property
    def capabilities(self) -> set[str]:
        items = self.info.get("capabilities") or []
        return {
            str(item["type"])
            for item in items
            if isinstance(item, dict) and isinstance(item.get("type"), str)
        }

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def multi_role(self) -> bool:
        return "MULTI_ROLE" in self.capabilities

    @property
    def roles(self) -> tuple[str, ...]:
        if self.multi_role:
            return tuple(str(role) for role in self.info.get("roles") or [])
        return (str(self.info.get("role") or "*"),)

    @property
    def failover_timeout(self) -> float:
        value = self.info.get("failover_timeout", 0.0)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    @property
    def connected(self) -> bool:
        return self.connection is not None

    @property
    def unknown_task_state(self) -> str:
        """What the master answers for a task it does not know."""
        return "TASK_UNKNOWN" if self.partition_aware else "TASK_LOST"

    @property
    def dropped_task_state(self) -> str:
        """What a task becomes that the master drops without launching it."""
        return "TASK_DROPPED" if self.partition_aware else "TASK_LOST"

    def used_resources(self) -> Resources:
        """What the framework's live tasks and its executors hold."""
        used = Resources()
        for task in self.tasks.values():
            if not task.terminal:
                used = used + task.resources
        for executor in self.executors.values():
            used = used + executor.resources
        return used

    def offered_resources(self) -> Resources:
        offered = Resources()
        for offer in self.offers.values():
            offered = offered + offer.resources
        return offered

    def send(self, event: Mapping[str, Any]) -> None:
        """Put an event on the framework's stream (dropped while it is not connected)."""
        if self.connection is not None:
            self.connection.send(event)
