"""An in-memory trace sink for tests: every event the scheduler hands over, in order."""

from __future__ import annotations

from server.domain.trace import ExecutionEvent, StatusTrace


class ListSink:
    """A ``TraceSink`` that keeps the events in lists (appends are atomic: the scheduler's thread
    writes while the test's reads)."""

    def __init__(self) -> None:
        self.statuses: list[StatusTrace] = []
        self.executions: list[ExecutionEvent] = []
        self.written = 0
        self.dropped = 0

    def status(self, trace: StatusTrace) -> None:
        self.statuses.append(trace)
        self.written += 1

    def execution(self, event: ExecutionEvent) -> None:
        self.executions.append(event)
        self.written += 1

    def states_of(self, task_id: str) -> list[str]:
        return [trace.state for trace in list(self.statuses) if trace.task_id == task_id]

    def of_job(self, job_name: str) -> list[StatusTrace]:
        return [trace for trace in list(self.statuses) if trace.job_name == job_name]

    def executions_of(self, job_name: str) -> list[ExecutionEvent]:
        return [event for event in list(self.executions) if event.job_name == job_name]
