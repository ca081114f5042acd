from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PreviewCronRequest(_message.Message):
    __slots__ = ("cron", "time_zone", "count")
    CRON_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    cron: str
    time_zone: str
    count: _struct_pb2.Value
    def __init__(self, cron: _Optional[str] = ..., time_zone: _Optional[str] = ..., count: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class PreviewCronResponse(_message.Message):
    __slots__ = ("fire_times", "time_zone")
    FIRE_TIMES_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    fire_times: _containers.RepeatedScalarFieldContainer[str]
    time_zone: str
    def __init__(self, fire_times: _Optional[_Iterable[str]] = ..., time_zone: _Optional[str] = ...) -> None: ...
