from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListExecutionsRequest(_message.Message):
    __slots__ = ("per_page", "page", "sort", "order", "start_time", "end_time", "job_name", "task_id", "ip", "is_success")
    PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    IS_SUCCESS_FIELD_NUMBER: _ClassVar[int]
    per_page: str
    page: str
    sort: str
    order: str
    start_time: str
    end_time: str
    job_name: str
    task_id: str
    ip: str
    is_success: str
    def __init__(self, per_page: _Optional[str] = ..., page: _Optional[str] = ..., sort: _Optional[str] = ..., order: _Optional[str] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ..., job_name: _Optional[str] = ..., task_id: _Optional[str] = ..., ip: _Optional[str] = ..., is_success: _Optional[str] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("total", "rows")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    total: int
    rows: _containers.RepeatedCompositeFieldContainer[Execution]
    def __init__(self, total: _Optional[int] = ..., rows: _Optional[_Iterable[_Union[Execution, _Mapping]]] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("id", "hostname", "ip", "task_id", "job_name", "source", "sharding_item", "start_time", "complete_time", "success", "failure_cause")
    ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SHARDING_ITEM_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CAUSE_FIELD_NUMBER: _ClassVar[int]
    id: str
    hostname: str
    ip: str
    task_id: str
    job_name: str
    source: str
    sharding_item: int
    start_time: _struct_pb2.Value
    complete_time: _struct_pb2.Value
    success: bool
    failure_cause: _struct_pb2.Value
    def __init__(self, id: _Optional[str] = ..., hostname: _Optional[str] = ..., ip: _Optional[str] = ..., task_id: _Optional[str] = ..., job_name: _Optional[str] = ..., source: _Optional[str] = ..., sharding_item: _Optional[int] = ..., start_time: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., complete_time: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., success: _Optional[bool] = ..., failure_cause: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class ListStatusTracesRequest(_message.Message):
    __slots__ = ("per_page", "page", "sort", "order", "start_time", "end_time", "job_name", "task_id", "slave_id", "source", "execution_type", "state")
    PER_PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SLAVE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    per_page: str
    page: str
    sort: str
    order: str
    start_time: str
    end_time: str
    job_name: str
    task_id: str
    slave_id: str
    source: str
    execution_type: str
    state: str
    def __init__(self, per_page: _Optional[str] = ..., page: _Optional[str] = ..., sort: _Optional[str] = ..., order: _Optional[str] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ..., job_name: _Optional[str] = ..., task_id: _Optional[str] = ..., slave_id: _Optional[str] = ..., source: _Optional[str] = ..., execution_type: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class ListStatusTracesResponse(_message.Message):
    __slots__ = ("total", "rows")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    total: int
    rows: _containers.RepeatedCompositeFieldContainer[StatusTrace]
    def __init__(self, total: _Optional[int] = ..., rows: _Optional[_Iterable[_Union[StatusTrace, _Mapping]]] = ...) -> None: ...

class StatusTrace(_message.Message):
    __slots__ = ("id", "job_name", "original_task_id", "task_id", "slave_id", "source", "execution_type", "sharding_items", "state", "message", "creation_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SLAVE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHARDING_ITEMS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    job_name: str
    original_task_id: str
    task_id: str
    slave_id: str
    source: str
    execution_type: str
    sharding_items: str
    state: str
    message: str
    creation_time: str
    def __init__(self, id: _Optional[str] = ..., job_name: _Optional[str] = ..., original_task_id: _Optional[str] = ..., task_id: _Optional[str] = ..., slave_id: _Optional[str] = ..., source: _Optional[str] = ..., execution_type: _Optional[str] = ..., sharding_items: _Optional[str] = ..., state: _Optional[str] = ..., message: _Optional[str] = ..., creation_time: _Optional[str] = ...) -> None: ...
