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

class App(_message.Message):
    __slots__ = ("app_name", "app_url", "cpu_count", "memory_mb", "bootstrap_script", "app_cache_enable", "event_trace_sampling_count")
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    APP_CACHE_ENABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TRACE_SAMPLING_COUNT_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    app_url: str
    cpu_count: float
    memory_mb: float
    bootstrap_script: str
    app_cache_enable: bool
    event_trace_sampling_count: int
    def __init__(self, app_name: _Optional[str] = ..., app_url: _Optional[str] = ..., cpu_count: _Optional[float] = ..., memory_mb: _Optional[float] = ..., bootstrap_script: _Optional[str] = ..., app_cache_enable: _Optional[bool] = ..., event_trace_sampling_count: _Optional[int] = ...) -> None: ...

class PublishAppRequest(_message.Message):
    __slots__ = ("app_name", "app_url", "cpu_count", "memory_mb", "bootstrap_script", "app_cache_enable", "event_trace_sampling_count")
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    APP_CACHE_ENABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TRACE_SAMPLING_COUNT_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    app_url: str
    cpu_count: _struct_pb2.Value
    memory_mb: _struct_pb2.Value
    bootstrap_script: str
    app_cache_enable: _struct_pb2.Value
    event_trace_sampling_count: _struct_pb2.Value
    def __init__(self, app_name: _Optional[str] = ..., app_url: _Optional[str] = ..., cpu_count: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., memory_mb: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., bootstrap_script: _Optional[str] = ..., app_cache_enable: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., event_trace_sampling_count: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class ModifyAppRequest(_message.Message):
    __slots__ = ("app_name", "app_url", "cpu_count", "memory_mb", "bootstrap_script", "app_cache_enable", "event_trace_sampling_count")
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    APP_CACHE_ENABLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TRACE_SAMPLING_COUNT_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    app_url: str
    cpu_count: _struct_pb2.Value
    memory_mb: _struct_pb2.Value
    bootstrap_script: str
    app_cache_enable: _struct_pb2.Value
    event_trace_sampling_count: _struct_pb2.Value
    def __init__(self, app_name: _Optional[str] = ..., app_url: _Optional[str] = ..., cpu_count: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., memory_mb: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., bootstrap_script: _Optional[str] = ..., app_cache_enable: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., event_trace_sampling_count: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class ListAppsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAppsResponse(_message.Message):
    __slots__ = ("apps", "next_page_token")
    APPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    apps: _containers.RepeatedCompositeFieldContainer[App]
    next_page_token: str
    def __init__(self, apps: _Optional[_Iterable[_Union[App, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAppRequest(_message.Message):
    __slots__ = ("app_name",)
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    def __init__(self, app_name: _Optional[str] = ...) -> None: ...

class GetAppDisabledRequest(_message.Message):
    __slots__ = ("app_name",)
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    def __init__(self, app_name: _Optional[str] = ...) -> None: ...

class DisableAppRequest(_message.Message):
    __slots__ = ("app_name",)
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    def __init__(self, app_name: _Optional[str] = ...) -> None: ...

class EnableAppRequest(_message.Message):
    __slots__ = ("app_name",)
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    def __init__(self, app_name: _Optional[str] = ...) -> None: ...

class DeleteAppRequest(_message.Message):
    __slots__ = ("app_name",)
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    app_name: str
    def __init__(self, app_name: _Optional[str] = ...) -> None: ...
