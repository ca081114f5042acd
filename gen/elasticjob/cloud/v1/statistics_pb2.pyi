from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ListTaskResultStatisticsRequest(_message.Message):
    __slots__ = ("since",)
    SINCE_FIELD_NUMBER: _ClassVar[int]
    since: str
    def __init__(self, since: _Optional[str] = ...) -> None: ...

class GetTaskResultStatisticsRequest(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class TaskResultStatistics(_message.Message):
    __slots__ = ("id", "success_count", "failed_count", "statistic_interval", "statistics_time", "creation_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    success_count: int
    failed_count: int
    statistic_interval: str
    statistics_time: str
    creation_time: str
    def __init__(self, id: _Optional[int] = ..., success_count: _Optional[int] = ..., failed_count: _Optional[int] = ..., statistic_interval: _Optional[str] = ..., statistics_time: _Optional[str] = ..., creation_time: _Optional[str] = ...) -> None: ...

class ListRunningStatisticsRequest(_message.Message):
    __slots__ = ("since",)
    SINCE_FIELD_NUMBER: _ClassVar[int]
    since: str
    def __init__(self, since: _Optional[str] = ...) -> None: ...

class RunningStatistics(_message.Message):
    __slots__ = ("id", "running_count", "statistics_time", "creation_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    running_count: int
    statistics_time: str
    creation_time: str
    def __init__(self, id: _Optional[int] = ..., running_count: _Optional[int] = ..., statistics_time: _Optional[str] = ..., creation_time: _Optional[str] = ...) -> None: ...

class ListJobRegisterStatisticsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JobRegisterStatistics(_message.Message):
    __slots__ = ("id", "registered_count", "statistics_time", "creation_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    registered_count: int
    statistics_time: str
    creation_time: str
    def __init__(self, id: _Optional[int] = ..., registered_count: _Optional[int] = ..., statistics_time: _Optional[str] = ..., creation_time: _Optional[str] = ...) -> None: ...

class GetJobExecutionTypeStatisticsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JobExecutionTypeStatistics(_message.Message):
    __slots__ = ("transient_job_count", "daemon_job_count")
    TRANSIENT_JOB_COUNT_FIELD_NUMBER: _ClassVar[int]
    DAEMON_JOB_COUNT_FIELD_NUMBER: _ClassVar[int]
    transient_job_count: int
    daemon_job_count: int
    def __init__(self, transient_job_count: _Optional[int] = ..., daemon_job_count: _Optional[int] = ...) -> None: ...
