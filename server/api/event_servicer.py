"""The history servicer: query string fields → ``History`` → rows as ElasticJob-Cloud 3.0 named
them (times as ISO 8601 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from elasticjob.cloud.v1 import event_pb2, event_pb2_grpc
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from server.domain.trace import ExecutionEvent, StatusTrace
from server.usecases.history import History

__all__ = ["EventServicer", "iso_time"]

# Request field → the query parameter name the use case knows (3.0's names).
_PARAMETERS = {
    "per_page": "per_page",
    "page": "page",
    "sort": "sort",
    "order": "order",
    "start_time": "startTime",
    "end_time": "endTime",
    "job_name": "jobName",
    "task_id": "taskId",
    "ip": "ip",
    "is_success": "isSuccess",
    "slave_id": "slaveId",
    "source": "source",
    "execution_type": "executionType",
    "state": "state",
}


def iso_time(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with milliseconds: ``2026-05-01T12:00:00.000Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parameters(request: Message) -> dict[str, str]:
    return {
        _PARAMETERS[descriptor.name]: value
        for descriptor, value in request.ListFields()
        if descriptor.name in _PARAMETERS and value
    }


def _nullable(text: str | None) -> struct_pb2.Value:
    if text is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    return struct_pb2.Value(string_value=text)


def execution_to_proto(run: ExecutionEvent) -> event_pb2.Execution:
    return event_pb2.Execution(
        id=run.id,
        hostname=run.hostname,
        ip=run.ip,
        task_id=run.task_id,
        job_name=run.job_name,
        source=str(run.execution_source),
        sharding_item=run.sharding_item,
        start_time=_nullable(iso_time(run.start_time) if run.start_time else None),
        complete_time=_nullable(iso_time(run.complete_time) if run.complete_time else None),
        success=bool(run.is_success),
        failure_cause=_nullable(run.failure_cause),
    )


def status_trace_to_proto(trace: StatusTrace) -> event_pb2.StatusTrace:
    return event_pb2.StatusTrace(
        id=trace.id,
        job_name=trace.job_name,
        original_task_id=trace.original_task_id,
        task_id=trace.task_id,
        slave_id=trace.slave_id,
        source=str(trace.source),
        execution_type=trace.execution_type,
        sharding_items="[" + ", ".join(str(item) for item in trace.sharding_items) + "]",
        state=trace.state,
        message=trace.message,
        creation_time=iso_time(trace.creation_time),
    )


class EventServicer(event_pb2_grpc.EventServiceServicer):
    def __init__(self, history: History) -> None:
        self._history = history

    def ListExecutions(
        self, request: event_pb2.ListExecutionsRequest, context: grpc.ServicerContext
    ) -> event_pb2.ListExecutionsResponse:
        page = self._history.executions(_parameters(request))
        return event_pb2.ListExecutionsResponse(
            total=page.total, rows=[execution_to_proto(run) for run in page.rows]
        )

    def ListStatusTraces(
        self, request: event_pb2.ListStatusTracesRequest, context: grpc.ServicerContext
    ) -> event_pb2.ListStatusTracesResponse:
        page = self._history.status_traces(_parameters(request))
        return event_pb2.ListStatusTracesResponse(
            total=page.total, rows=[status_trace_to_proto(trace) for trace in page.rows]
        )
