from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Job(_message.Message):
    __slots__ = ("app_name", "job_name", "cpu_count", "memory_mb", "job_execution_type", "cron", "sharding_total_count", "sharding_item_parameters", "job_parameter", "failover", "misfire", "job_executor_service_handler_type", "job_error_handler_type", "description", "props")
    class PropsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    JOB_EXECUTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    SHARDING_TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARDING_ITEM_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    JOB_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    FAILOVER_FIELD_NUMBER: _ClassVar[int]
    MISFIRE_FIELD_NUMBER: _ClassVar[int]
    JOB_EXECUTOR_SERVICE_HANDLER_TYPE_FIELD_NUMBER: _ClassVar[int]
    JOB_ERROR_HANDLER_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROPS_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    job_name: str
    cpu_count: float
    memory_mb: float
    job_execution_type: str
    cron: str
    sharding_total_count: int
    sharding_item_parameters: str
    job_parameter: str
    failover: bool
    misfire: bool
    job_executor_service_handler_type: str
    job_error_handler_type: str
    description: str
    props: _containers.ScalarMap[str, str]
    def __init__(self, app_name: _Optional[str] = ..., job_name: _Optional[str] = ..., cpu_count: _Optional[float] = ..., memory_mb: _Optional[float] = ..., job_execution_type: _Optional[str] = ..., cron: _Optional[str] = ..., sharding_total_count: _Optional[int] = ..., sharding_item_parameters: _Optional[str] = ..., job_parameter: _Optional[str] = ..., failover: _Optional[bool] = ..., misfire: _Optional[bool] = ..., job_executor_service_handler_type: _Optional[str] = ..., job_error_handler_type: _Optional[str] = ..., description: _Optional[str] = ..., props: _Optional[_Mapping[str, str]] = ...) -> None: ...

class JobConfigRequest(_message.Message):
    __slots__ = ("app_name", "job_name", "cpu_count", "memory_mb", "job_execution_type", "cron", "sharding_total_count", "sharding_item_parameters", "job_parameter", "failover", "misfire", "job_executor_service_handler_type", "job_error_handler_type", "description", "props")
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    JOB_EXECUTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    SHARDING_TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARDING_ITEM_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    JOB_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    FAILOVER_FIELD_NUMBER: _ClassVar[int]
    MISFIRE_FIELD_NUMBER: _ClassVar[int]
    JOB_EXECUTOR_SERVICE_HANDLER_TYPE_FIELD_NUMBER: _ClassVar[int]
    JOB_ERROR_HANDLER_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROPS_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    job_name: str
    cpu_count: _struct_pb2.Value
    memory_mb: _struct_pb2.Value
    job_execution_type: str
    cron: str
    sharding_total_count: _struct_pb2.Value
    sharding_item_parameters: str
    job_parameter: str
    failover: _struct_pb2.Value
    misfire: _struct_pb2.Value
    job_executor_service_handler_type: _struct_pb2.Value
    job_error_handler_type: _struct_pb2.Value
    description: str
    props: _struct_pb2.Struct
    def __init__(self, app_name: _Optional[str] = ..., job_name: _Optional[str] = ..., cpu_count: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., memory_mb: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., job_execution_type: _Optional[str] = ..., cron: _Optional[str] = ..., sharding_total_count: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., sharding_item_parameters: _Optional[str] = ..., job_parameter: _Optional[str] = ..., failover: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., misfire: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., job_executor_service_handler_type: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., job_error_handler_type: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., description: _Optional[str] = ..., props: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DeregisterJobRequest(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class TriggerJobRequest(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class RunJobRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class GetJobDisabledRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class DisableJobRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class EnableJobRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class TaskMetaInfo(_message.Message):
    __slots__ = ("job_name", "sharding_items")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    SHARDING_ITEMS_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    sharding_items: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, job_name: _Optional[str] = ..., sharding_items: _Optional[_Iterable[int]] = ...) -> None: ...

class RunningTask(_message.Message):
    __slots__ = ("id", "meta_info", "type", "slave_id", "idle")
    ID_FIELD_NUMBER: _ClassVar[int]
    META_INFO_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SLAVE_ID_FIELD_NUMBER: _ClassVar[int]
    IDLE_FIELD_NUMBER: _ClassVar[int]
    id: str
    meta_info: TaskMetaInfo
    type: str
    slave_id: str
    idle: bool
    def __init__(self, id: _Optional[str] = ..., meta_info: _Optional[_Union[TaskMetaInfo, _Mapping]] = ..., type: _Optional[str] = ..., slave_id: _Optional[str] = ..., idle: _Optional[bool] = ...) -> None: ...

class ListRunningTasksRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunningTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[RunningTask]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[RunningTask, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReadyJob(_message.Message):
    __slots__ = ("job_name", "times")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    times: int
    def __init__(self, job_name: _Optional[str] = ..., times: _Optional[int] = ...) -> None: ...

class ListReadyJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReadyJobsResponse(_message.Message):
    __slots__ = ("ready_jobs", "next_page_token")
    READY_JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ready_jobs: _containers.RepeatedCompositeFieldContainer[ReadyJob]
    next_page_token: str
    def __init__(self, ready_jobs: _Optional[_Iterable[_Union[ReadyJob, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class FailoverTask(_message.Message):
    __slots__ = ("task_info", "original_task_id")
    TASK_INFO_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_info: TaskMetaInfo
    original_task_id: str
    def __init__(self, task_info: _Optional[_Union[TaskMetaInfo, _Mapping]] = ..., original_task_id: _Optional[str] = ...) -> None: ...

class ListFailoverTasksRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFailoverTasksResponse(_message.Message):
    __slots__ = ("failover_tasks", "next_page_token")
    FAILOVER_TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    failover_tasks: _containers.RepeatedCompositeFieldContainer[FailoverTask]
    next_page_token: str
    def __init__(self, failover_tasks: _Optional[_Iterable[_Union[FailoverTask, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
