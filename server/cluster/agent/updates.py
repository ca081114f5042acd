"""The agent's status update manager: reliable, ordered delivery of task status updates.

One stream per (framework, task), as in Mesos:

* Updates are delivered in the order they were recorded, one at a time: only the oldest
  unacknowledged update (the head) is forwarded; the next one goes out when the framework
  acknowledges the head by its uuid.
* The head is forwarded again until acknowledged: ``retry_interval`` seconds after it was first
  sent, then after twice as long each time, up to ``retry_interval_max`` (Mesos' agent: 10 s
  doubling to 10 minutes); and at once when :meth:`StatusUpdateManager.resend` is called (the
  framework resubscribed), which does not change the interval.
* An update whose uuid the stream already holds is a duplicate and is ignored. Nothing is
  accepted after a terminal update.
* Once the terminal update is acknowledged the stream is closed and forgotten.

Nothing here survives an agent restart (the embedded agent does not checkpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from server.mesos.states import TERMINAL_STATES
from server.mesos.values import JsonObject

__all__ = ["AddOutcome", "PendingUpdate", "StatusUpdateManager"]

logger = logging.getLogger("server.cluster.agent")


@dataclass(slots=True)
class PendingUpdate:
    """One recorded update waiting for its acknowledgement."""

    status: JsonObject
    forwarded_at: float | None = None
    #: Seconds after ``forwarded_at`` at which the update is resent if still unacknowledged.
    retry_after: float = 0.0

    @property
    def uuid(self) -> str:
        return str(self.status["uuid"])

    @property
    def terminal(self) -> bool:
        return self.status["state"] in TERMINAL_STATES


@dataclass(slots=True)
class _Stream:
    pending: deque[PendingUpdate] = field(default_factory=deque)
    acknowledged: set[str] = field(default_factory=set)
    terminated: bool = False  # a terminal update was recorded


class AddOutcome:
    """What :meth:`StatusUpdateManager.add` did with an update."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # already pending
    ALREADY_ACKNOWLEDGED = "already-acknowledged"
    AFTER_TERMINAL = "after-terminal"


class StatusUpdateManager:
    """Keeps and forwards task status update streams (see the module docstring).

    :param recorded: told of every accepted update before it is forwarded, ``(framework_id,
        status)``: the task's latest state changed.
    :param forward: sends one update to the master, ``(framework_id, status)``.
    :param closed: told when a stream ends (its terminal update acknowledged), ``(framework_id,
        task_id)``.
    """

    def __init__(
        self,
        *,
        recorded: Callable[[str, JsonObject], None],
        forward: Callable[[str, JsonObject], None],
        closed: Callable[[str, str], None],
        retry_interval: float,
        retry_interval_max: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._recorded = recorded
        self._forward = forward
        self._closed = closed
        self._retry_interval = retry_interval
        self._retry_interval_max = max(retry_interval, retry_interval_max or retry_interval)
        self._clock = clock
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._retry_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._retry_task is None:
            self._retry_task = asyncio.create_task(self._retry_loop(), name="status-update-retries")

    async def stop(self) -> None:
        task, self._retry_task = self._retry_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def add(self, framework_id: str, status: JsonObject) -> str:
        """Record an update (it must carry a ``uuid``); forward it if it is the head. Returns an
        :class:`AddOutcome` value."""
        task_id = str(status["task_id"]["value"])
        stream = self._streams.setdefault((framework_id, task_id), _Stream())
        uuid = str(status["uuid"])
        if uuid in stream.acknowledged:
            return AddOutcome.ALREADY_ACKNOWLEDGED
        if any(update.uuid == uuid for update in stream.pending):
            return AddOutcome.DUPLICATE
        if stream.terminated:
            return AddOutcome.AFTER_TERMINAL
        update = PendingUpdate(status)
        stream.pending.append(update)
        stream.terminated = update.terminal
        self._recorded(framework_id, status)
        if len(stream.pending) == 1:
            self._send(framework_id, update)
        return AddOutcome.ACCEPTED

    def acknowledge(self, framework_id: str, task_id: str, uuid: str) -> bool:
        """Acknowledge the head of a stream; returns whether ``uuid`` matched it."""
        stream = self._streams.get((framework_id, task_id))
        if stream is None or not stream.pending or stream.pending[0].uuid != uuid:
            return False
        update = stream.pending.popleft()
        stream.acknowledged.add(uuid)
        if stream.pending:
            self._send(framework_id, stream.pending[0])
        elif update.terminal:
            del self._streams[(framework_id, task_id)]
            self._closed(framework_id, task_id)
        return True

    def resend(self, framework_id: str) -> None:
        """Forward the head of every stream of the framework now."""
        for (owner, _task_id), stream in list(self._streams.items()):
            if owner == framework_id and stream.pending:
                self._send(owner, stream.pending[0])

    def drop_framework(self, framework_id: str) -> None:
        """Forget the framework's streams (it was removed: nobody will acknowledge them)."""
        for key in [key for key in self._streams if key[0] == framework_id]:
            del self._streams[key]

    def pending(self, framework_id: str, task_id: str) -> list[JsonObject]:
        """The unacknowledged updates of one task, oldest first."""
        stream = self._streams.get((framework_id, task_id))
        return [update.status for update in stream.pending] if stream else []

    def pending_count(self) -> int:
        return sum(len(stream.pending) for stream in self._streams.values())

    def _send(self, framework_id: str, update: PendingUpdate) -> None:
        if update.forwarded_at is None:
            update.retry_after = self._retry_interval
        update.forwarded_at = self._clock()
        self._forward(framework_id, update.status)

    def retry_due(self) -> None:
        """Resend every head whose retry time has come, doubling its interval (up to the
        maximum). The retry loop calls this; tests with a fake clock may too."""
        now = self._clock()
        for (framework_id, task_id), stream in list(self._streams.items()):
            head = stream.pending[0] if stream.pending else None
            if head is None or head.forwarded_at is None or now < head.forwarded_at + head.retry_after:
                continue
            logger.debug("resending unacknowledged %s of task %s", head.status["state"], task_id)
            head.retry_after = min(head.retry_after * 2, self._retry_interval_max)
            try:
                self._send(framework_id, head)
            except Exception:
                logger.exception("resending an update of task %s failed", task_id)

    async def _retry_loop(self) -> None:
        tick = max(min(self._retry_interval / 4, 1.0), 0.01)
        while True:
            await asyncio.sleep(tick)
            self.retry_due()
