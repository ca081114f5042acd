from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetJobStateRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class JobState(_message.Message):
    __slots__ = ("job_name", "app_name", "job_execution_type", "enabled", "job_disabled", "app_disabled", "zone", "next_fire_times", "ready_runs", "shards", "failover", "waiting_reason", "waiting_since", "last_runs_unavailable")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_EXECUTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    JOB_DISABLED_FIELD_NUMBER: _ClassVar[int]
    APP_DISABLED_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_TIMES_FIELD_NUMBER: _ClassVar[int]
    READY_RUNS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    FAILOVER_FIELD_NUMBER: _ClassVar[int]
    WAITING_REASON_FIELD_NUMBER: _ClassVar[int]
    WAITING_SINCE_FIELD_NUMBER: _ClassVar[int]
    LAST_RUNS_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    app_name: str
    job_execution_type: str
    enabled: bool
    job_disabled: bool
    app_disabled: bool
    zone: str
    next_fire_times: _containers.RepeatedScalarFieldContainer[str]
    ready_runs: int
    shards: _containers.RepeatedCompositeFieldContainer[ShardState]
    failover: _containers.RepeatedCompositeFieldContainer[FailoverShard]
    waiting_reason: str
    waiting_since: str
    last_runs_unavailable: bool
    def __init__(self, job_name: _Optional[str] = ..., app_name: _Optional[str] = ..., job_execution_type: _Optional[str] = ..., enabled: _Optional[bool] = ..., job_disabled: _Optional[bool] = ..., app_disabled: _Optional[bool] = ..., zone: _Optional[str] = ..., next_fire_times: _Optional[_Iterable[str]] = ..., ready_runs: _Optional[int] = ..., shards: _Optional[_Iterable[_Union[ShardState, _Mapping]]] = ..., failover: _Optional[_Iterable[_Union[FailoverShard, _Mapping]]] = ..., waiting_reason: _Optional[str] = ..., waiting_since: _Optional[str] = ..., last_runs_unavailable: _Optional[bool] = ...) -> None: ...

class ShardState(_message.Message):
    __slots__ = ("sharding_item", "current_task", "last_run")
    SHARDING_ITEM_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TASK_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_FIELD_NUMBER: _ClassVar[int]
    sharding_item: int
    current_task: ShardTask
    last_run: LastRun
    def __init__(self, sharding_item: _Optional[int] = ..., current_task: _Optional[_Union[ShardTask, _Mapping]] = ..., last_run: _Optional[_Union[LastRun, _Mapping]] = ...) -> None: ...

class LastRun(_message.Message):
    __slots__ = ("id", "task_id", "source", "start_time", "complete_time", "success", "failure_cause", "hostname", "ip")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CAUSE_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    source: str
    start_time: str
    complete_time: str
    success: bool
    failure_cause: str
    hostname: str
    ip: str
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., source: _Optional[str] = ..., start_time: _Optional[str] = ..., complete_time: _Optional[str] = ..., success: _Optional[bool] = ..., failure_cause: _Optional[str] = ..., hostname: _Optional[str] = ..., ip: _Optional[str] = ...) -> None: ...

class ShardTask(_message.Message):
    __slots__ = ("task_id", "agent_id", "state", "since")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    agent_id: str
    state: str
    since: str
    def __init__(self, task_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., state: _Optional[str] = ..., since: _Optional[str] = ...) -> None: ...

class FailoverShard(_message.Message):
    __slots__ = ("sharding_item", "original_task_id", "attempts", "retry_at")
    SHARDING_ITEM_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RETRY_AT_FIELD_NUMBER: _ClassVar[int]
    sharding_item: int
    original_task_id: str
    attempts: int
    retry_at: str
    def __init__(self, sharding_item: _Optional[int] = ..., original_task_id: _Optional[str] = ..., attempts: _Optional[int] = ..., retry_at: _Optional[str] = ...) -> None: ...

class ReconcileTasksRequest(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: str
    def __init__(self, kind: _Optional[str] = ...) -> None: ...

class ListSandboxesRequest(_message.Message):
    __slots__ = ("app_name",)
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    def __init__(self, app_name: _Optional[str] = ...) -> None: ...

class ListSandboxesResponse(_message.Message):
    __slots__ = ("sandboxes",)
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    sandboxes: _containers.RepeatedCompositeFieldContainer[Sandbox]
    def __init__(self, sandboxes: _Optional[_Iterable[_Union[Sandbox, _Mapping]]] = ...) -> None: ...

class Sandbox(_message.Message):
    __slots__ = ("hostname", "path")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    path: str
    def __init__(self, hostname: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...
