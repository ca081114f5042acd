"""What an executor reports about one run of a shard, as the JSON both sides read and write.

A TRANSIENT task's runs travel in ``TaskStatus.data`` of the status updates the executor sends
anyway: its ``TASK_RUNNING`` carries the start, its terminal update the completion. A DAEMON
task's runs (many in one task) travel in executor ``MESSAGE`` calls, which name no task, so the
report names it. The document is one JSON object under the key ``execution``::

    {"execution": {"id": "...", "taskId": "...", "startTime": "2026-12-02T04:00:00.123+00:00",
                   "completeTime": null, "success": null, "failureCause": null, "exitCode": null}}

A start report has no ``completeTime`` and no ``success``; a completion report has both (and the
start time again, so a completion whose start was lost still makes a whole row). Times are ISO
8601 with their offset; ``failureCause`` is cut to :data:`~server.domain.trace.FAILURE_CAUSE_LIMIT`
characters. :func:`decode_report` refuses anything else with :class:`InvalidReport`, and
:func:`find_report` tells "no report here" (``None``) from a broken one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.domain.trace import FAILURE_CAUSE_LIMIT

__all__ = ["REPORT_KEY", "ExecutionReport", "InvalidReport", "decode_report", "encode_report", "find_report"]

#: The top-level key of a report document.
REPORT_KEY = "execution"
#: Longest id and task id a report may carry (``JOB_EXECUTION_LOG`` holds 40 and 255 characters).
_ID_LIMIT = 40
_TASK_ID_LIMIT = 255


class InvalidReport(ValueError):
    """Bytes that claim to be a report but are not a valid one; the message names the field."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionReport:
    """One run's start (``complete_time`` None) or completion, as the executor saw it."""

    id: str
    start_time: datetime
    task_id: str = ""
    complete_time: datetime | None = None
    success: bool | None = None
    failure_cause: str | None = None
    #: The script's exit status (negative: killed by that signal); None when it never ran.
    exit_code: int | None = None

    def __post_init__(self) -> None:
        if not self.id or len(self.id) > _ID_LIMIT:
            raise InvalidReport(f"report id must be 1..{_ID_LIMIT} characters")
        if len(self.task_id) > _TASK_ID_LIMIT:
            raise InvalidReport(f"report taskId is longer than {_TASK_ID_LIMIT} characters")
        if self.start_time.tzinfo is None:
            raise InvalidReport("report startTime has no UTC offset")
        if self.complete_time is not None and self.complete_time.tzinfo is None:
            raise InvalidReport("report completeTime has no UTC offset")
        if (self.complete_time is None) != (self.success is None):
            raise InvalidReport("a report has both completeTime and success, or neither")
        if self.failure_cause is not None and len(self.failure_cause) > FAILURE_CAUSE_LIMIT:
            object.__setattr__(self, "failure_cause", self.failure_cause[:FAILURE_CAUSE_LIMIT])

    @property
    def is_completion(self) -> bool:
        return self.complete_time is not None


def encode_report(report: ExecutionReport) -> bytes:
    """The report document, UTF-8 JSON."""
    body: dict[str, Any] = {
        "id": report.id,
        "taskId": report.task_id,
        "startTime": report.start_time.isoformat(timespec="milliseconds"),
        "completeTime": (
            report.complete_time.isoformat(timespec="milliseconds") if report.complete_time else None
        ),
        "success": report.success,
        "failureCause": report.failure_cause,
        "exitCode": report.exit_code,
    }
    return json.dumps({REPORT_KEY: body}, separators=(",", ":")).encode()


def find_report(data: bytes | None) -> ExecutionReport | None:
    """The report in ``data``; None when ``data`` is empty or is a JSON document without one.
    Raises :class:`InvalidReport` when a report is there but broken."""
    if not data or not data.lstrip().startswith(b"{"):
        return None
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if not isinstance(document, dict) or REPORT_KEY not in document:
        return None
    return _from_document(document)


def decode_report(data: bytes) -> ExecutionReport:
    """The report in ``data``; raises :class:`InvalidReport` when there is none or it is broken."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise InvalidReport(f"report is not JSON: {exc}") from None
    if not isinstance(document, dict) or REPORT_KEY not in document:
        raise InvalidReport(f"report has no {REPORT_KEY!r} object")
    return _from_document(document)


def _from_document(document: dict[str, Any]) -> ExecutionReport:
    body = document[REPORT_KEY]
    if not isinstance(body, dict):
        raise InvalidReport(f"report {REPORT_KEY!r} must be an object")
    return ExecutionReport(
        id=_text(body, "id", required=True) or "",
        task_id=_text(body, "taskId") or "",
        start_time=_time(body, "startTime", required=True) or datetime.min,
        complete_time=_time(body, "completeTime"),
        success=_flag(body, "success"),
        failure_cause=_text(body, "failureCause"),
        exit_code=_whole(body, "exitCode"),
    )


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidReport(f"report has no {name!r}")
        return None
    if not isinstance(value, str):
        raise InvalidReport(f"report field {name!r} must be a string")
    return value


def _time(body: dict[str, Any], name: str, *, required: bool = False) -> datetime | None:
    text = _text(body, name, required=required)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidReport(f"report field {name!r} is not an ISO 8601 time: {text[:40]!r}") from None


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise InvalidReport(f"report field {name!r} must be true or false")


def _whole(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidReport(f"report field {name!r} must be a whole number")
    return value
