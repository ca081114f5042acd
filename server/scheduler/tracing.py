"""Trace events from what the scheduler sees: launches, status updates and executor reports,
handed to a :class:`~server.domain.trace.TraceSink` as ElasticJob's trace rows.

- A launch the master took is a ``TASK_STAGING`` status trace of each task.
- Every status update received is a status trace (source ``CLOUD_SCHEDULER``) with its state,
  message and agent; a failure state carries its Mesos reason too (``REASON_...: message``), so
  a fetch error or an invalid task says why. An end the scheduler decides without an update (an
  ACCEPT the master refused, a task nobody answers for in reconciliation) is traced the same way.
- An executor's report (:mod:`server.domain.execution_report`) in an update's ``data``, or in an
  executor ``MESSAGE`` (a DAEMON run), is an execution event: the run's start, or its completion
  with success and cause, with the agent's hostname and IP from its offers and the execution
  source from the launch: ``FAILOVER`` for a failover task, ``MISFIRE`` for the READY run of a
  misfire job launched after a run during which it was queued (as ElasticJob runs a misfired fire
  once the run it fell into is over), else ``NORMAL_TRIGGER``.

Every call is a few dictionary operations and one sink call (which returns at once): nothing
here waits; with tracing off (:class:`~server.domain.trace.NoTrace`) every call returns at once. What it remembers (agents' addresses, each launched task's source) lives in memory
only; after a takeover the source is told from the task id (FAILOVER or NORMAL_TRIGGER).
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from server.domain.execution_report import ExecutionReport, InvalidReport, find_report
from server.domain.task import ExecutionType, TaskId, TaskIdError
from server.domain.trace import ExecutionEvent, ExecutionSource, NoTrace, StatusTrace, TraceSink
from server.mesos.states import ACTIVE_STATES, TERMINAL_STATES
from server.scheduler.matching import Placement
from server.scheduler.state import SchedulerState
from server.scheduler.task_updates import StatusUpdate

__all__ = ["TaskTracing"]

log = logging.getLogger("server.scheduler.tracing")

#: Most agents whose addresses are remembered (a cluster larger than this traces blank hosts).
_AGENT_LIMIT = 100_000


class TaskTracing:
    """Turns the core's events into trace events (see the module docstring)."""

    def __init__(
        self, sink: TraceSink, state: SchedulerState, *, new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    ) -> None:
        self._sink = sink
        self._enabled = not isinstance(sink, NoTrace)
        self._state = state
        self._new_id = new_id
        #: agent id → (hostname, ip), from the offers seen.
        self._agents: dict[str, tuple[str, str]] = {}
        #: task id → why it was launched, from its launch until it ends.
        self._sources: dict[str, ExecutionSource] = {}
        #: Misfire jobs a task of which ended while runs were queued: their next run misfired.
        self._misfired: set[str] = set()
        self._warned_bad_report = False

    @property
    def sink(self) -> TraceSink:
        return self._sink

    @sink.setter
    def sink(self, sink: TraceSink) -> None:
        self._sink = sink
        self._enabled = not isinstance(sink, NoTrace)

    def _now(self) -> datetime:
        return self._state.clock.now(UTC)

    def offers_seen(self, offers: Iterable[Mapping[str, Any]]) -> None:
        """Remember each offering agent's hostname and IP (``url.address.ip`` of the offer)."""
        if not self._enabled:
            return
        agents = self._agents
        for offer in offers:
            agent_id = str(offer.get("agent_id", {}).get("value", ""))
            if not agent_id or (agent_id not in agents and len(agents) >= _AGENT_LIMIT):
                continue
            address = offer.get("url", {}).get("address", {})
            agents[agent_id] = (str(offer.get("hostname", "")), str(address.get("ip", "")))

    def launched(self, placements: list[Placement]) -> None:
        """The master took an ACCEPT: each task is staging."""
        if not self._enabled:
            return
        now = self._now()
        misfired = self._misfired
        launched_misfired: set[str] = set()
        for placement in placements:
            task_id = placement.task_id
            text = str(task_id)
            if task_id.execution_type is ExecutionType.FAILOVER:
                source = ExecutionSource.FAILOVER
            elif task_id.job_name in misfired:
                source = ExecutionSource.MISFIRE
                launched_misfired.add(task_id.job_name)
            else:
                source = ExecutionSource.NORMAL_TRIGGER
            self._sources[text] = source
            self._status(task_id, text, "TASK_STAGING", "", task_id.agent_id, now)
        misfired -= launched_misfired

    def status(self, update: StatusUpdate, status: Mapping[str, Any]) -> None:
        """A status update of a task of ours as received (``status``: its JSON, for the agent and
        the data)."""
        if not self._enabled:
            return
        task_id, text, state = update.task_id, update.text, update.state
        message = _with_reason(state, update.reason, update.message)
        agent_id = str(status.get("agent_id", {}).get("value", "")) or task_id.agent_id
        self._status(task_id, text, state, message, agent_id, self._now())
        data = status.get("data")
        if isinstance(data, str) and data:
            self._report(task_id, text, _decode_base64(data), agent_id)
        if state in TERMINAL_STATES:
            self._ended(task_id, text)

    def decided(self, task_id: TaskId, state: str, reason: str, message: str) -> None:
        """An end the scheduler recorded without an update saying so."""
        if not self._enabled:
            return
        text = str(task_id)
        self._status(
            task_id, text, state, _with_reason(state, reason, message), task_id.agent_id, self._now()
        )
        self._ended(task_id, text)

    def message(self, agent_id: str, executor_id: str, data: bytes) -> bool:
        """An executor MESSAGE; returns whether it was a report (of a task of ours)."""
        if not self._enabled:
            return _looks_like_report(data)
        try:
            report = find_report(data)
        except InvalidReport as exc:
            self._bad_report(executor_id, exc)
            return False
        if report is None:
            return False
        try:
            task_id = TaskId.parse(report.task_id)
        except TaskIdError:
            self._bad_report(executor_id, InvalidReport(f"report taskId {report.task_id[:60]!r} is not ours"))
            return False
        self._execution(task_id, report.task_id, report, agent_id or task_id.agent_id)
        return True

    def _ended(self, task_id: TaskId, text: str) -> None:
        self._sources.pop(text, None)
        job_name = task_id.job_name
        job = self._state.jobs.get(job_name)
        if job is not None and job.misfire and self._state.ready.get(job_name, (0, None))[0] > 0:
            self._misfired.add(job_name)

    def _report(self, task_id: TaskId, text: str, data: bytes | None, agent_id: str) -> None:
        if data is None:
            return
        try:
            report = find_report(data)
        except InvalidReport as exc:
            self._bad_report(text, exc)
            return
        if report is not None:
            self._execution(task_id, text, report, agent_id)

    def _bad_report(self, where: str, exc: InvalidReport) -> None:
        level = logging.DEBUG if self._warned_bad_report else logging.WARNING
        self._warned_bad_report = True
        log.log(level, "unreadable execution report from %s (later ones are logged at debug): %s", where, exc)

    def _execution(self, task_id: TaskId, text: str, report: ExecutionReport, agent_id: str) -> None:
        hostname, ip = self._agents.get(agent_id, ("", ""))
        source = self._sources.get(text)
        if source is None:
            failover = task_id.execution_type is ExecutionType.FAILOVER
            source = ExecutionSource.FAILOVER if failover else ExecutionSource.NORMAL_TRIGGER
        self._sink.execution(
            ExecutionEvent(
                id=report.id,
                job_name=task_id.job_name,
                task_id=text,
                hostname=hostname,
                ip=ip,
                sharding_item=task_id.item,
                execution_source=source,
                start_time=report.start_time.astimezone(UTC),
                complete_time=report.complete_time.astimezone(UTC) if report.complete_time else None,
                is_success=report.success,
                failure_cause=report.failure_cause,
            )
        )

    def _status(
        self, task_id: TaskId, text: str, state: str, message: str, agent_id: str, now: datetime
    ) -> None:
        self._sink.status(
            StatusTrace(
                id=self._new_id(),
                job_name=task_id.job_name,
                task_id=text,
                slave_id=agent_id,
                execution_type=task_id.execution_type.value,
                sharding_items=(task_id.item,),
                state=state,
                message=message,
                creation_time=now,
            )
        )


def _with_reason(state: str, reason: str, message: str) -> str:
    """The trace message: a failure state's reason first (``REASON_X: message``)."""
    if not reason or state in ACTIVE_STATES or state == "TASK_FINISHED":
        return message
    return f"{reason}: {message}" if message else reason


def _decode_base64(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _looks_like_report(data: bytes) -> bool:
    """Whether ``data`` looks like a report (tracing off: it is not logged as an unknown message)."""
    return data.lstrip().startswith(b'{"' + b"execution")
