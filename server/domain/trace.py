"""Trace events: what the scheduler records about every task and every run, in the terms of
ElasticJob's trace tables (``JOB_STATUS_TRACE_LOG`` and ``JOB_EXECUTION_LOG``).

The scheduler produces these values (status traces from launches and Mesos status updates,
executions from what executors report) and hands them to a :class:`TraceSink`; a trace store
writes them off the scheduling path. Times are aware UTC datetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "FAILURE_CAUSE_LIMIT",
    "MESSAGE_LIMIT",
    "ExecutionEvent",
    "ExecutionSource",
    "NoTrace",
    "StatusSource",
    "StatusTrace",
    "TraceSink",
]

#: ``JOB_EXECUTION_LOG.failure_cause`` is VARCHAR(4000); longer causes are cut to this.
FAILURE_CAUSE_LIMIT = 4000
#: ``JOB_STATUS_TRACE_LOG.message`` is VARCHAR(4000).
MESSAGE_LIMIT = 4000


class StatusSource(enum.StrEnum):
    """Who saw the state: the scheduler (launch, Mesos updates) or the executor."""

    CLOUD_SCHEDULER = "CLOUD_SCHEDULER"
    CLOUD_EXECUTOR = "CLOUD_EXECUTOR"


class ExecutionSource(enum.StrEnum):
    """Why a run happened, as ``JOB_EXECUTION_LOG.execution_source``."""

    NORMAL_TRIGGER = "NORMAL_TRIGGER"
    MISFIRE = "MISFIRE"
    FAILOVER = "FAILOVER"


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusTrace:
    """One row of ``JOB_STATUS_TRACE_LOG``: a task reached ``state`` (a Mesos state name such as
    ``TASK_STAGING``). ``original_task_id`` is empty for ``TASK_STAGING`` (the store fills it from
    the task's staging row for the other states); ``sharding_items`` is written as ``[0]``."""

    id: str
    job_name: str
    task_id: str
    original_task_id: str = ""
    slave_id: str = ""
    source: StatusSource = StatusSource.CLOUD_SCHEDULER
    execution_type: str = "READY"
    sharding_items: tuple[int, ...] = ()
    state: str
    message: str = ""
    creation_time: datetime

    def __post_init__(self) -> None:
        if len(self.message) > MESSAGE_LIMIT:
            object.__setattr__(self, "message", self.message[:MESSAGE_LIMIT])


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionEvent:
    """One run of one shard, a row of ``JOB_EXECUTION_LOG``. The start event has ``is_success``
    None and no ``complete_time``; the completion event of the same ``id`` carries both (and
    ``failure_cause`` when it failed). A store inserts on start and updates on completion,
    inserting when the start never arrived."""

    id: str
    job_name: str
    task_id: str
    hostname: str = ""
    ip: str = ""
    sharding_item: int
    execution_source: ExecutionSource = ExecutionSource.NORMAL_TRIGGER
    start_time: datetime | None = None
    complete_time: datetime | None = None
    is_success: bool | None = None
    failure_cause: str | None = None

    def __post_init__(self) -> None:
        if self.failure_cause is not None and len(self.failure_cause) > FAILURE_CAUSE_LIMIT:
            object.__setattr__(self, "failure_cause", self.failure_cause[:FAILURE_CAUSE_LIMIT])

    @property
    def is_completion(self) -> bool:
        return self.complete_time is not None


class TraceSink(Protocol):
    """Where the scheduler hands trace events. Implementations must return at once (buffer and
    write elsewhere) and never raise into the caller."""

    def status(self, trace: StatusTrace) -> None: ...
    def execution(self, event: ExecutionEvent) -> None: ...


class NoTrace:
    """The sink used when tracing is off: every event is dropped."""

    def status(self, trace: StatusTrace) -> None:
        pass

    def execution(self, event: ExecutionEvent) -> None:
        pass
