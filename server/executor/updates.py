"""Status updates the executor owes the agent, kept until the agent ACKNOWLEDGEs them (no IO).

Mesos's executor contract: every ``UPDATE`` carries a fresh 16-byte uuid and is kept until an
``ACKNOWLEDGED`` event names its task and uuid; after a lost connection, the next ``SUBSCRIBE``
lists every unacknowledged update (``unacknowledged_updates``) and every task none of whose
updates was acknowledged yet (``unacknowledged_tasks``, as the TaskInfo the agent sent).

:class:`UpdateLedger` is that bookkeeping and nothing else: ordered, in memory (an executor that
dies loses it, and the agent then reports its tasks lost), safe to query at any time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StatusUpdate", "UpdateLedger"]

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One update as sent: its TaskStatus JSON, with the task id and uuid pulled out."""

    status: JsonObject = field(hash=False, compare=False)
    task_id: str
    uuid: str

    @classmethod
    def of(cls, status: JsonObject) -> StatusUpdate:
        return cls(status, str(status["task_id"]["value"]), str(status["uuid"]))

    @property
    def state(self) -> str:
        return str(self.status["state"])


class UpdateLedger:
    """Unacknowledged updates (in the order they were made) and unacknowledged tasks."""

    def __init__(self) -> None:
        self._pending: dict[str, StatusUpdate] = {}
        self._tasks: dict[str, JsonObject] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add_task(self, task_info: Mapping[str, Any]) -> None:
        """Remember a LAUNCHed task until one of its updates is acknowledged."""
        task_id = str(task_info["task_id"]["value"])
        self._tasks[task_id] = dict(task_info)

    def add(self, status: JsonObject) -> StatusUpdate:
        """Record an update about to be sent."""
        update = StatusUpdate.of(status)
        self._pending[update.uuid] = update
        return update

    def acknowledge(self, task_id: str, update_uuid: str) -> StatusUpdate | None:
        """Drop the acknowledged update; its task counts as acknowledged from now on.

        Returns the update, or ``None`` if it was not pending (a repeated or unknown ACK).
        """
        update = self._pending.get(update_uuid)
        if update is None or update.task_id != task_id:
            return None
        del self._pending[update_uuid]
        self._tasks.pop(task_id, None)
        return update

    def is_pending(self, update_uuid: str) -> bool:
        return update_uuid in self._pending

    def unacknowledged_updates(self) -> list[StatusUpdate]:
        """Every pending update, oldest first."""
        return list(self._pending.values())

    def unacknowledged_tasks(self) -> list[JsonObject]:
        """The TaskInfo of every task none of whose updates was acknowledged."""
        return list(self._tasks.values())

    def subscribe_body(self) -> JsonObject:
        """The ``subscribe`` part of a SUBSCRIBE call."""
        return {
            "unacknowledged_tasks": self.unacknowledged_tasks(),
            "unacknowledged_updates": [{"status": update.status} for update in self._pending.values()],
        }
