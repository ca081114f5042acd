"""Reading a LAUNCHed TaskInfo into what the executor runs: the shard's sharding context.

The scheduler (``server/scheduler/taskinfo.py``) puts the JSON of
:meth:`~server.domain.task.ShardingContext.to_json_document` plus an ``environment`` object into
``TaskInfo.data`` (base64 in Mesos's JSON). :func:`decode_task` checks it field by field and
raises :class:`InvalidTask` with a message fit for a ``TASK_FAILED`` status when it is not usable.
Optional fields get ElasticJob's defaults: ``jobErrorHandlerType`` LOG,
``jobExecutorServiceHandlerType`` CPU, ``eventTraceSamplingCount`` 0, empty ``props``, and the
``environment`` computed from the context.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.base.cron import CronExpression, InvalidCronExpression
from server.domain.job import ErrorHandlerType, ExecutorServiceHandlerType, JobExecutionType
from server.domain.task import ShardingContext
from server.mesos.values import duration_seconds

__all__ = ["DEFAULT_KILL_GRACE_PERIOD", "InvalidTask", "LaunchedShard", "decode_task", "grace_period"]

#: SIGTERM → SIGKILL delay when neither the KILL event nor the TaskInfo names a kill policy.
DEFAULT_KILL_GRACE_PERIOD = 3.0


class InvalidTask(ValueError):
    """A TaskInfo the executor cannot run; the message says why (it goes into TASK_FAILED)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LaunchedShard:
    """One launched task: its id, its sharding context and how to run it."""

    task_id: str
    context: ShardingContext
    execution_type: JobExecutionType
    error_handler: ErrorHandlerType
    service_handler: ExecutorServiceHandlerType
    #: Variables the shard's process gets on top of the executor's environment.
    environment: Mapping[str, str]
    #: The JSON document exactly as the scheduler sent it (the last argument of every run).
    document_text: str
    #: Parsed ``cron`` of a DAEMON job (``None`` for TRANSIENT).
    cron: CronExpression | None
    #: Seconds between SIGTERM and SIGKILL when the task is killed (``TaskInfo.kill_policy``).
    kill_grace_period: float

    @property
    def label(self) -> str:
        """``job-item``: how the shard is named in logs and output files."""
        return f"{self.context.job_name}-{self.context.sharding_item}"


def grace_period(kill_policy: Any, default: float) -> float:
    """Seconds in a Mesos ``KillPolicy`` JSON (``grace_period.nanoseconds``), else ``default``."""
    seconds = duration_seconds(kill_policy.get("grace_period")) if isinstance(kill_policy, dict) else None
    return default if seconds is None else seconds


def _field(document: Mapping[str, Any], name: str, kind: type, default: Any = None) -> Any:
    if name not in document or document[name] is None:
        if default is None:
            raise InvalidTask(f"task data has no {name!r}")
        return default
    value = document[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidTask(f"task data field {name!r} must be a whole number, not {value!r}")
    if not isinstance(value, kind):
        raise InvalidTask(f"task data field {name!r} must be a {kind.__name__}, not {value!r}")
    return value


def _enum(document: Mapping[str, Any], name: str, enum_type: Any, default: Any) -> Any:
    raw = _field(document, name, str, str(default) if default is not None else None)
    try:
        return enum_type(raw)
    except ValueError:
        choices = ", ".join(member.value for member in enum_type)
        raise InvalidTask(f"task data field {name!r} is {raw!r}, expected one of {choices}") from None


def _string_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise InvalidTask(f"task data field {name!r} must be an object of strings")
    return dict(value)


def decode_task(task_info: Mapping[str, Any]) -> LaunchedShard:
    """Decode a ``mesos.v1.TaskInfo`` JSON object; raises :class:`InvalidTask`."""
    task_id = (
        task_info.get("task_id", {}).get("value") if isinstance(task_info.get("task_id"), dict) else None
    )
    if not isinstance(task_id, str) or not task_id:
        raise InvalidTask("TaskInfo has no task_id")
    encoded = task_info.get("data")
    if not isinstance(encoded, str) or not encoded:
        raise InvalidTask("TaskInfo has no data: it carries no sharding context")
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
        document = json.loads(text)
    except (binascii.Error, ValueError) as exc:
        raise InvalidTask(f"TaskInfo data is not base64 of UTF-8 JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidTask("TaskInfo data must be a JSON object")

    execution_type = _enum(document, "jobExecutionType", JobExecutionType, None)
    error_handler = _enum(document, "jobErrorHandlerType", ErrorHandlerType, ErrorHandlerType.LOG)
    service_handler = _enum(
        document, "jobExecutorServiceHandlerType", ExecutorServiceHandlerType, ExecutorServiceHandlerType.CPU
    )
    item = _field(document, "shardingItem", int)
    total = _field(document, "shardingTotalCount", int)
    if item < 0 or total < 1 or item >= total:
        raise InvalidTask(f"sharding item {item} does not fit a sharding total count of {total}")
    sampling = _field(document, "eventTraceSamplingCount", int, 0)
    if sampling < 0:
        raise InvalidTask(f"eventTraceSamplingCount must not be negative, got {sampling}")
    bootstrap_script = _field(document, "bootstrapScript", str)
    if not bootstrap_script.strip():
        raise InvalidTask("task data has an empty bootstrapScript")
    context = ShardingContext(
        task_id=_field(document, "taskId", str, task_id),
        job_name=_field(document, "jobName", str),
        sharding_item=item,
        sharding_total_count=total,
        sharding_item_parameter=_field(document, "shardingItemParameter", str, ""),
        job_parameter=_field(document, "jobParameter", str, ""),
        execution_type=_field(document, "executionType", str, "READY"),
        job_execution_type=execution_type.value,
        cron=_field(document, "cron", str, ""),
        misfire=_field(document, "misfire", bool, False),
        failover=_field(document, "failover", bool, False),
        job_executor_service_handler_type=service_handler.value,
        job_error_handler_type=error_handler.value,
        props=_string_map(document.get("props") or {}, "props"),
        bootstrap_script=bootstrap_script,
        event_trace_sampling_count=sampling,
    )
    if not context.job_name:
        raise InvalidTask("task data has an empty jobName")
    environment = (
        _string_map(document["environment"], "environment")
        if document.get("environment") is not None
        else context.environment()
    )
    cron: CronExpression | None = None
    if execution_type is JobExecutionType.DAEMON:
        if not context.cron.strip():
            raise InvalidTask("a DAEMON job needs a cron expression")
        try:
            cron = CronExpression.parse(context.cron)
        except InvalidCronExpression as exc:
            raise InvalidTask(f"invalid cron expression {context.cron!r}: {exc}") from None
    return LaunchedShard(
        task_id=task_id,
        context=context,
        execution_type=execution_type,
        error_handler=error_handler,
        service_handler=service_handler,
        environment=environment,
        document_text=text,
        cron=cron,
        kill_grace_period=grace_period(task_info.get("kill_policy"), DEFAULT_KILL_GRACE_PERIOD),
    )
