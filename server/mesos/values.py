"""Scalar values of the Mesos v1 JSON protocol: ids, uuids, ``bytes`` fields, durations.

What ``include/mesos/v1/mesos.proto`` and the protobuf JSON mapping say about them:

* ``FrameworkID``, ``AgentID``, ``TaskID``, ``ExecutorID``, ``OfferID`` are objects
  ``{"value": "..."}`` with ``value`` required.
* ``bytes`` fields (``TaskStatus.uuid``, ``data``) travel as standard base64 text.
* ``DurationInfo`` is ``{"nanoseconds": n}``, an ``int64`` (which JSON may carry as a string).
* A status update uuid is 16 random bytes; a ``Mesos-Stream-Id`` is a UUID in text form.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Iterable
from typing import Any

__all__ = [
    "JsonObject",
    "b64decode",
    "b64encode",
    "duration_seconds",
    "id_object",
    "id_problem",
    "id_value",
    "id_values",
    "is_base64",
    "is_id",
    "mesos_duration",
    "new_stream_id",
    "new_uuid",
    "wait_status",
]

#: A decoded JSON object of the protocol (a call, an event, or a message inside one).
JsonObject = dict[str, Any]


def id_object(value: str) -> JsonObject:
    """The id message ``{"value": value}``."""
    return {"value": value}


def id_value(value: Any) -> str | None:
    """The ``value`` of an ``{"value": "..."}`` id object, or ``None`` if it is not one."""
    if isinstance(value, dict) and isinstance(value.get("value"), str):
        return str(value["value"])
    return None


def is_id(value: Any) -> bool:
    """Whether ``value`` is an id object with a string ``value``."""
    return id_value(value) is not None


def id_values(values: Iterable[Any] | None) -> list[str]:
    """The values of the id objects in ``values``, skipping anything that is not one."""
    return [value for value in (id_value(item) for item in values or []) if value is not None]


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a task / executor / framework id, or ``None`` if it can.

    Mesos refuses empty ids, ``.`` and ``..``, and ids with ``/`` or NUL (they name sandbox
    directories); control characters are refused here too for the same reason.
    """
    if not value:
        return "ID must not be empty"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if _NOT_IN_IDS.search(value) is not None:
        return "ID must not contain '/' or control characters"
    return None


#: What an id may not contain: ``/`` and the C0 control characters and DEL.
_NOT_IN_IDS = re.compile("[/\x00-\x1f\x7f]")


def b64encode(data: bytes) -> str:
    """A ``bytes`` field as JSON carries it."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """The bytes of a ``bytes`` field; raises :class:`ValueError` for text that is not base64."""
    return base64.b64decode(text, validate=True)


def is_base64(value: Any) -> bool:
    """Whether ``value`` is text a ``bytes`` field can hold (standard base64)."""
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def new_uuid() -> str:
    """A fresh 16-byte status update uuid, base64 as JSON carries ``bytes``."""
    return b64encode(uuid.uuid4().bytes)


def new_stream_id() -> str:
    """A fresh ``Mesos-Stream-Id``: a UUID in its text form."""
    return str(uuid.uuid4())


def duration_seconds(value: Any) -> float | None:
    """Seconds of a ``DurationInfo`` (``{"nanoseconds": n}``), ``None`` if absent or malformed."""
    if not isinstance(value, dict):
        return None
    nanoseconds = value.get("nanoseconds")
    if isinstance(nanoseconds, str) and nanoseconds.lstrip("-").isdigit():
        nanoseconds = int(nanoseconds)  # int64 fields may arrive as JSON strings
    if isinstance(nanoseconds, bool) or not isinstance(nanoseconds, int | float):
        return None
    seconds = float(nanoseconds) / 1e9
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def mesos_duration(seconds: float) -> str:
    """A duration as Mesos prints it in environment variables (``5secs``, ``0.5secs``)."""
    return f"{seconds:g}secs"


def wait_status(returncode: int | None) -> int | None:
    """The ``waitpid`` status Mesos reports in ``FAILURE`` events, from a Python return code
    (exit ``N`` gives ``N << 8``; killed by signal ``S`` gives ``S``)."""
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    return (returncode & 0xFF) << 8
