from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ReadTaskOutputRequest(_message.Message):
    __slots__ = ("task_id", "file", "offset", "length")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    file: str
    offset: int
    length: int
    def __init__(self, task_id: _Optional[str] = ..., file: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class TaskOutputChunk(_message.Message):
    __slots__ = ("data", "offset", "size", "hostname", "next_offset")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    data: str
    offset: int
    size: int
    hostname: str
    next_offset: int
    def __init__(self, data: _Optional[str] = ..., offset: _Optional[int] = ..., size: _Optional[int] = ..., hostname: _Optional[str] = ..., next_offset: _Optional[int] = ...) -> None: ...
