"""Protobuf ⇄ domain translation; with ``values`` (strict numbers and booleans), the only modules
besides the servicers that touch ``*_pb2``."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from elasticjob.cloud.v1 import app_pb2, job_pb2
from google.api import httpbody_pb2
from google.protobuf import json_format, message, struct_pb2

from server.api import values
from server.domain.app import AppConfig
from server.domain.errors import InvalidArgument
from server.domain.job import (
    ErrorHandlerType,
    ExecutorServiceHandlerType,
    JobConfig,
    JobExecutionType,
    handler_type_from_request,
)
from server.domain.rules import check_name, quoted
from server.domain.task import ShardRef, TaskId
from server.registry.failover import FailoverEntry

_T = TypeVar("_T")


# Request fields carried as google.protobuf.Value: (proto field, JSON name, strict reader).
_APP_VALUES: tuple[tuple[str, str, Callable[[struct_pb2.Value, str], object]], ...] = (
    ("cpu_count", "cpuCount", values.number),
    ("memory_mb", "memoryMB", values.number),
    ("app_cache_enable", "appCacheEnable", values.boolean),
    ("event_trace_sampling_count", "eventTraceSamplingCount", values.integer),
)


def _sent_values(request: app_pb2.PublishAppRequest | app_pb2.ModifyAppRequest) -> dict[str, Any]:
    """The numbers and booleans the request carried, read strictly; those not sent left out."""
    sent: dict[str, Any] = {}
    for field_name, json_name, read in _APP_VALUES:
        value = getattr(request, field_name)
        if values.is_sent(value):
            sent[field_name] = read(value, json_name)
    return sent


def app_from_publish(request: app_pb2.PublishAppRequest) -> AppConfig:
    return AppConfig(
        app_name=request.app_name,
        app_url=request.app_url,
        bootstrap_script=request.bootstrap_script,
        **_sent_values(request),
    )


def app_changes(request: app_pb2.ModifyAppRequest) -> tuple[str, dict[str, Any]]:
    """The app name and only the fields the request carried."""
    check_name(request.app_name, "appName")
    changes: dict[str, Any] = {}
    for field_name in ("app_url", "bootstrap_script"):
        if request.HasField(field_name):
            changes[field_name] = getattr(request, field_name)
    changes.update(_sent_values(request))
    return request.app_name, changes


def app_to_proto(app: AppConfig) -> app_pb2.App:
    return app_pb2.App(
        app_name=app.app_name,
        app_url=app.app_url,
        cpu_count=app.cpu_count,
        memory_mb=app.memory_mb,
        bootstrap_script=app.bootstrap_script,
        app_cache_enable=app.app_cache_enable,
        event_trace_sampling_count=app.event_trace_sampling_count,
    )


def _required(value: struct_pb2.Value, json_name: str, read: Callable[[struct_pb2.Value, str], _T]) -> _T:
    if not values.is_sent(value):
        raise InvalidArgument(f"{json_name} is required", field=json_name)
    return read(value, json_name)


def _flag(value: struct_pb2.Value, json_name: str) -> bool:
    """A boolean that defaults to false when not sent."""
    return values.boolean(value, json_name) if values.is_sent(value) else False


def _plain(value: struct_pb2.Value) -> object:
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "bool_value":
        return value.bool_value
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    return object()  # lists and objects are never valid


def job_from_request(request: job_pb2.JobConfigRequest) -> JobConfig:
    check_name(request.job_name, "jobName")
    check_name(request.app_name, "appName")
    execution_type = request.job_execution_type.strip().upper()
    if not execution_type:
        raise InvalidArgument("jobExecutionType is required", field="jobExecutionType")
    try:
        job_execution_type = JobExecutionType(execution_type)
    except ValueError:
        raise InvalidArgument(
            f"jobExecutionType must be TRANSIENT or DAEMON, not {quoted(request.job_execution_type)}",
            field="jobExecutionType",
        ) from None
    return JobConfig(
        job_name=request.job_name,
        app_name=request.app_name,
        cpu_count=_required(request.cpu_count, "cpuCount", values.number),
        memory_mb=_required(request.memory_mb, "memoryMB", values.number),
        job_execution_type=job_execution_type,
        sharding_total_count=_required(request.sharding_total_count, "shardingTotalCount", values.integer),
        cron=request.cron.strip(),
        sharding_item_parameters=request.sharding_item_parameters,
        job_parameter=request.job_parameter,
        failover=_flag(request.failover, "failover"),
        misfire=_flag(request.misfire, "misfire"),
        job_executor_service_handler_type=handler_type_from_request(
            _plain(request.job_executor_service_handler_type),
            ExecutorServiceHandlerType,
            "jobExecutorServiceHandlerType",
        ),
        job_error_handler_type=handler_type_from_request(
            _plain(request.job_error_handler_type), ErrorHandlerType, "jobErrorHandlerType"
        ),
        description=request.description,
        props=_props(request.props) if request.HasField("props") else {},
    )


def _props(props: struct_pb2.Struct) -> dict[str, str]:
    """Props as sent: every value must be a JSON string."""
    plain: dict[str, str] = {}
    for key, value in props.fields.items():
        if value.WhichOneof("kind") != "string_value":
            raise InvalidArgument(f"props[{quoted(key)}] must be a string", field="props")
        plain[key] = value.string_value
    return plain


def job_to_proto(job: JobConfig) -> job_pb2.Job:
    return job_pb2.Job(
        app_name=job.app_name,
        job_name=job.job_name,
        cpu_count=job.cpu_count,
        memory_mb=job.memory_mb,
        job_execution_type=job.job_execution_type.value,
        cron=job.cron,
        sharding_total_count=job.sharding_total_count,
        sharding_item_parameters=job.sharding_item_parameters,
        job_parameter=job.job_parameter,
        failover=job.failover,
        misfire=job.misfire,
        job_executor_service_handler_type=job.job_executor_service_handler_type.value,
        job_error_handler_type=job.job_error_handler_type.value,
        description=job.description,
        props=dict(job.props),
    )


def name_from_body(body: httpbody_pb2.HttpBody, field: str = "jobName") -> str:
    """The raw body is the name: bare (``my_job``) or a JSON string (``"my_job"``)."""
    try:
        text: str = bytes(body.data).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidArgument("the request body must be UTF-8 text", field=field) from None
    if not text:
        raise InvalidArgument(f"the request body must be the {field} (it is empty)", field=field)
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except ValueError:
            raise InvalidArgument("the request body is not a valid JSON string", field=field) from None
        text = str(value).strip()
    check_name(text, field)
    return text


MAX_PAGE_SIZE = 1000
"""The most items one page holds; a larger page_size is read as this (AIP-158)."""


def page(
    items: Sequence[_T], key: Callable[[_T], str], page_size: int, page_token: str
) -> tuple[list[_T], str]:
    """One page of ``items`` in ``key`` order, and the token of the next page ("" after the last).

    ``page_size`` 0 answers everything from the token on (what REST callers get); the token is
    the key of the last item of the previous page, so a page holds what sorts after it even when
    items came or went in between."""
    if page_size < 0:
        raise InvalidArgument(f"pageSize must be 0 or more, got {page_size}", field="pageSize")
    ordered = sorted(items, key=key)
    if page_token:
        try:
            after = base64.b64decode(page_token.encode("ascii"), altchars=b"-_", validate=True).decode(
                "utf-8"
            )
        except (UnicodeError, binascii.Error, ValueError):
            raise InvalidArgument(
                f"pageToken {quoted(page_token)} is not a token this server issued", field="pageToken"
            ) from None
        ordered = [item for item in ordered if key(item) > after]
    size = min(page_size, MAX_PAGE_SIZE) if page_size else len(ordered)
    chosen = ordered[:size]
    if len(ordered) <= size or not chosen:
        return chosen, ""
    return chosen, base64.urlsafe_b64encode(key(chosen[-1]).encode("utf-8")).decode("ascii")


def shard_key(shard: ShardRef) -> str:
    """A text that sorts shards by job name, then item."""
    return f"{shard.job_name}\x00{shard.item:010d}"


def meta_info(shard: ShardRef) -> job_pb2.TaskMetaInfo:
    return job_pb2.TaskMetaInfo(job_name=shard.job_name, sharding_items=[shard.item])


def running_task_to_proto(task_id: TaskId) -> job_pb2.RunningTask:
    """ElasticJob-Cloud 3.0's task context of a running task."""
    return job_pb2.RunningTask(
        id=str(task_id),
        meta_info=meta_info(task_id.shard),
        type=task_id.execution_type.value,
        slave_id=task_id.agent_id,
        idle=False,
    )


def ready_job_to_proto(job_name: str, runs: int) -> job_pb2.ReadyJob:
    return job_pb2.ReadyJob(job_name=job_name, times=runs)


def failover_task_to_proto(shard: ShardRef, entry: FailoverEntry) -> job_pb2.FailoverTask:
    return job_pb2.FailoverTask(task_info=meta_info(shard), original_task_id=entry.task_id)


def checked_name(value: str, field: str) -> str:
    """A name taken from a path or a field, checked as names are."""
    check_name(value, field)
    return value


def json_array(messages: Sequence[message.Message]) -> httpbody_pb2.HttpBody:
    """``messages`` as one bare JSON array, each in the JSON form Envoy's transcoder gives a
    message (JSON names, every field printed)."""
    elements = [
        json_format.MessageToDict(item, always_print_fields_with_no_presence=True) for item in messages
    ]
    return httpbody_pb2.HttpBody(
        content_type="application/json",
        data=json.dumps(elements, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
    )
