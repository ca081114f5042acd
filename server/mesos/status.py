"""Building ``mesos.v1.TaskStatus`` messages.

A status with a ``uuid`` is a reliable update: whoever sends it resends it until it is
acknowledged. One without (what a master generates for reconciliation, invalid offers or unknown
tasks) must not be acknowledged (Scheduler HTTP API, "UPDATE" and "ACKNOWLEDGE").
"""

from __future__ import annotations

import time

from server.mesos.values import JsonObject, b64encode, new_uuid

__all__ = ["task_status"]


def task_status(
    task_id: str,
    state: str,
    *,
    source: str,
    agent_id: str | None = None,
    executor_id: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    data: bytes | None = None,
    reliable: bool = False,
    timestamp: float | None = None,
) -> JsonObject:
    """A ``TaskStatus``; ``reliable`` gives it a fresh uuid (it must then be acknowledged).

    ``timestamp`` is seconds since the epoch, the current time when not given.
    """
    status: JsonObject = {
        "task_id": {"value": task_id},
        "state": state,
        "source": source,
        "timestamp": time.time() if timestamp is None else timestamp,
    }
    if agent_id is not None:
        status["agent_id"] = {"value": agent_id}
    if executor_id is not None:
        status["executor_id"] = {"value": executor_id}
    if reason is not None:
        status["reason"] = reason
    if message is not None:
        status["message"] = message
    if data is not None:
        status["data"] = b64encode(data)
    if reliable:
        status["uuid"] = new_uuid()
    return status
