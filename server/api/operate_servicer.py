"""The operations servicer: protobuf → one use case call → protobuf."""

from __future__ import annotations

from datetime import datetime

import grpc
from elasticjob.cloud.v1 import operate_pb2, operate_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import empty_pb2

from server.api import convert
from server.domain.trace import ExecutionEvent
from server.usecases.operate import JobState, OperateManager


class OperateServicer(operate_pb2_grpc.OperateServiceServicer):
    def __init__(self, operate: OperateManager) -> None:
        self._operate = operate

    def GetJobState(
        self, request: operate_pb2.GetJobStateRequest, context: grpc.ServicerContext
    ) -> operate_pb2.JobState:
        return job_state_to_proto(self._operate.job_state(request.job_name))

    def ReconcileTasks(
        self, request: operate_pb2.ReconcileTasksRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self._operate.reconcile(request.kind)
        return empty_pb2.Empty()

    def ListSandboxes(
        self, request: operate_pb2.ListSandboxesRequest, context: grpc.ServicerContext
    ) -> operate_pb2.ListSandboxesResponse:
        return operate_pb2.ListSandboxesResponse(
            sandboxes=[
                operate_pb2.Sandbox(hostname=sandbox.hostname, path=sandbox.path)
                for sandbox in self._operate.sandboxes(request.app_name)
            ]
        )

    def ListSandboxesArray(
        self, request: operate_pb2.ListSandboxesRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        return convert.json_array(self.ListSandboxes(request, context).sandboxes)


def _time(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def last_run_to_proto(run: ExecutionEvent | None) -> operate_pb2.LastRun | None:
    if run is None:
        return None
    return operate_pb2.LastRun(
        id=run.id,
        task_id=run.task_id,
        source=str(run.execution_source),
        start_time=_time(run.start_time),
        complete_time=_time(run.complete_time),
        success=run.is_success,
        failure_cause=run.failure_cause or "",
        hostname=run.hostname,
        ip=run.ip,
    )


def job_state_to_proto(state: JobState) -> operate_pb2.JobState:
    return operate_pb2.JobState(
        job_name=state.job_name,
        app_name=state.app_name,
        job_execution_type=state.job_execution_type,
        enabled=state.enabled,
        job_disabled=state.job_disabled,
        app_disabled=state.app_disabled,
        zone=state.zone,
        next_fire_times=[_time(fire) for fire in state.next_fire_times],
        ready_runs=state.ready_runs,
        shards=[
            operate_pb2.ShardState(
                sharding_item=shard.item,
                current_task=None
                if shard.current_task is None
                else operate_pb2.ShardTask(
                    task_id=str(shard.current_task.task_id),
                    agent_id=shard.current_task.task_id.agent_id,
                    state=shard.current_task.state,
                    since=_time(shard.current_task.since),
                ),
                last_run=last_run_to_proto(shard.last_run),
            )
            for shard in state.shards
        ],
        failover=[
            operate_pb2.FailoverShard(
                sharding_item=shard.item,
                original_task_id=shard.original_task_id,
                attempts=shard.attempts,
                retry_at=_time(shard.retry_at),
            )
            for shard in state.failover
        ],
        waiting_reason=state.waiting_reason or "",
        waiting_since=_time(state.waiting_since),
        last_runs_unavailable=state.last_runs_unavailable,
    )
