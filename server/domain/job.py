"""The job value object and its rules."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.base.cron import CronExpression, InvalidCronExpression
from server.domain.errors import InvalidArgument
from server.domain.rules import (
    check_cpu_count,
    check_length,
    check_memory_mb,
    check_name,
    quoted,
)

MAX_SHARDING_TOTAL_COUNT = 10_000
MAX_CRON_LENGTH = 256
MAX_SHARDING_ITEM_PARAMETERS_LENGTH = 65_536
MAX_JOB_PARAMETER_LENGTH = 16_384
MAX_DESCRIPTION_LENGTH = 16_384
MAX_PROPS = 256
MAX_PROP_KEY_LENGTH = 256
MAX_PROP_VALUE_LENGTH = 16_384


class JobExecutionType(enum.StrEnum):
    TRANSIENT = "TRANSIENT"
    DAEMON = "DAEMON"


class ExecutorServiceHandlerType(enum.StrEnum):
    CPU = "CPU"
    SINGLE_THREAD = "SINGLE_THREAD"


class ErrorHandlerType(enum.StrEnum):
    LOG = "LOG"
    THROW = "THROW"
    IGNORE = "IGNORE"


# ElasticJob-Cloud 3.0's YAML keys we model (they are also the REST field names).
JOB_KEYS = (
    "appName",
    "cpuCount",
    "cron",
    "description",
    "failover",
    "jobErrorHandlerType",
    "jobExecutionType",
    "jobExecutorServiceHandlerType",
    "jobName",
    "jobParameter",
    "memoryMB",
    "misfire",
    "props",
    "shardingItemParameters",
    "shardingTotalCount",
)


def parse_sharding_item_parameters(text: str, total: int) -> dict[int, str]:
    """Parse ``0=a,1=b`` into ``{0: "a", 1: "b"}``; items must lie in ``0..total-1`` and not repeat."""
    items: dict[int, str] = {}
    if not text.strip():
        return items
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not (key.isascii() and key.isdigit()):
            raise InvalidArgument(
                f"shardingItemParameters entry {quoted(part.strip())} must look like item=value (e.g. 0=a,1=b)",
                field="shardingItemParameters",
            )
        item = int(key) if len(key) <= len(str(MAX_SHARDING_TOTAL_COUNT)) else MAX_SHARDING_TOTAL_COUNT
        if item >= total:
            raise InvalidArgument(
                f"shardingItemParameters item {quoted(key)} is outside 0..{total - 1}",
                field="shardingItemParameters",
            )
        if item in items:
            raise InvalidArgument(
                f"shardingItemParameters item {item} is given twice", field="shardingItemParameters"
            )
        items[item] = value.strip()
    return items


def handler_type_from_request(
    value: object, enum_type: type[ExecutorServiceHandlerType] | type[ErrorHandlerType], field_name: str
) -> Any:
    """The API document types the handler fields as boolean: ``false``, null and "" mean the default."""
    default = next(iter(enum_type))
    if value is None or value is False or value == "":
        return default
    if isinstance(value, str):
        try:
            return enum_type(value.strip().upper())
        except ValueError:
            pass
    allowed = " or ".join(member.value for member in enum_type)
    raise InvalidArgument(f"{field_name} must be {allowed} (or false for {default.value})", field=field_name)


def check_props(props: object) -> None:
    """Props map up to ``MAX_PROPS`` non-empty string keys to string values, each of bounded length."""
    if not isinstance(props, Mapping):
        raise InvalidArgument("props must map strings to strings", field="props")
    if len(props) > MAX_PROPS:
        raise InvalidArgument(f"props has {len(props)} entries; the limit is {MAX_PROPS}", field="props")
    for key, value in props.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgument("props keys must be non-empty strings", field="props")
        if len(key) > MAX_PROP_KEY_LENGTH:
            raise InvalidArgument(
                f"props key {quoted(key)} is {len(key)} characters long; the limit is {MAX_PROP_KEY_LENGTH}",
                field="props",
            )
        if not isinstance(value, str):
            raise InvalidArgument(f"props[{quoted(key)}] must be a string", field="props")
        if len(value) > MAX_PROP_VALUE_LENGTH:
            raise InvalidArgument(
                f"props[{quoted(key)}] is {len(value)} characters long; the limit is {MAX_PROP_VALUE_LENGTH}",
                field="props",
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class JobConfig:
    """A registered job. Construction validates every field, the cron with the scheduler's parser."""

    job_name: str
    app_name: str
    cpu_count: float
    memory_mb: float
    job_execution_type: JobExecutionType
    sharding_total_count: int
    cron: str = ""
    sharding_item_parameters: str = ""
    job_parameter: str = ""
    failover: bool = False
    misfire: bool = False
    job_executor_service_handler_type: ExecutorServiceHandlerType = ExecutorServiceHandlerType.CPU
    job_error_handler_type: ErrorHandlerType = ErrorHandlerType.LOG
    description: str = ""
    props: Mapping[str, str] = field(default_factory=dict)
    # Keys of a stored node that we do not model (3.0's Lite-only keys...), written back unchanged.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.job_name, "jobName")
        check_name(self.app_name, "appName")
        check_cpu_count(self.cpu_count)
        check_memory_mb(self.memory_mb)
        if not isinstance(self.job_execution_type, JobExecutionType):
            raise InvalidArgument("jobExecutionType must be TRANSIENT or DAEMON", field="jobExecutionType")
        if (
            isinstance(self.sharding_total_count, bool)
            or not isinstance(self.sharding_total_count, int)
            or not 1 <= self.sharding_total_count <= MAX_SHARDING_TOTAL_COUNT
        ):
            raise InvalidArgument(
                f"shardingTotalCount must be between 1 and {MAX_SHARDING_TOTAL_COUNT}, "
                f"got {self.sharding_total_count}",
                field="shardingTotalCount",
            )
        check_length(self.cron, MAX_CRON_LENGTH, "cron")
        if self.cron:
            try:
                CronExpression.parse(self.cron)
            except InvalidCronExpression as exc:
                raise InvalidArgument(f"cron {quoted(self.cron)} is invalid: {exc}", field="cron") from exc
        elif self.job_execution_type is JobExecutionType.DAEMON:
            raise InvalidArgument("cron is required for a DAEMON job", field="cron")
        check_length(
            self.sharding_item_parameters, MAX_SHARDING_ITEM_PARAMETERS_LENGTH, "shardingItemParameters"
        )
        parse_sharding_item_parameters(self.sharding_item_parameters, self.sharding_total_count)
        check_length(self.job_parameter, MAX_JOB_PARAMETER_LENGTH, "jobParameter")
        check_length(self.description, MAX_DESCRIPTION_LENGTH, "description")
        if not isinstance(self.job_executor_service_handler_type, ExecutorServiceHandlerType):
            raise InvalidArgument(
                "jobExecutorServiceHandlerType must be CPU or SINGLE_THREAD",
                field="jobExecutorServiceHandlerType",
            )
        if not isinstance(self.job_error_handler_type, ErrorHandlerType):
            raise InvalidArgument(
                "jobErrorHandlerType must be LOG, THROW or IGNORE", field="jobErrorHandlerType"
            )
        check_props(self.props)

    @property
    def is_daemon(self) -> bool:
        return self.job_execution_type is JobExecutionType.DAEMON

    @property
    def sharding_parameters(self) -> dict[int, str]:
        return parse_sharding_item_parameters(self.sharding_item_parameters, self.sharding_total_count)

    def to_document(self) -> dict[str, Any]:
        """The registry document: 3.0's keys; empty optional values left out as 3.0 does, except the
        empty strings 3.0 itself writes; unmodelled keys kept from the stored node."""
        document = dict(self.extra)
        document.update(
            appName=self.app_name,
            cpuCount=float(self.cpu_count),
            description=self.description,
            failover=self.failover,
            jobErrorHandlerType=self.job_error_handler_type.value,
            jobExecutionType=self.job_execution_type.value,
            jobExecutorServiceHandlerType=self.job_executor_service_handler_type.value,
            jobName=self.job_name,
            jobParameter=self.job_parameter,
            memoryMB=float(self.memory_mb),
            misfire=self.misfire,
            shardingItemParameters=self.sharding_item_parameters,
            shardingTotalCount=self.sharding_total_count,
        )
        if self.cron:
            document["cron"] = self.cron
        else:
            document.pop("cron", None)
        if self.props:
            document["props"] = dict(self.props)
        else:
            document.pop("props", None)
        return document

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> JobConfig:
        """Read a stored node (3.0 YAML or 2.x JSON). Missing optional keys take defaults."""
        try:
            props = document.get("props") or {}
            return cls(
                job_name=str(document["jobName"]),
                app_name=str(document["appName"]),
                cpu_count=float(document["cpuCount"]),
                memory_mb=float(document["memoryMB"]),
                job_execution_type=JobExecutionType(str(document["jobExecutionType"]).upper()),
                sharding_total_count=int(document["shardingTotalCount"]),
                cron=str(document.get("cron") or ""),
                sharding_item_parameters=str(document.get("shardingItemParameters") or ""),
                job_parameter=str(document.get("jobParameter") or ""),
                failover=bool(document.get("failover", False)),
                misfire=bool(document.get("misfire", False)),
                job_executor_service_handler_type=handler_type_from_request(
                    document.get("jobExecutorServiceHandlerType"),
                    ExecutorServiceHandlerType,
                    "jobExecutorServiceHandlerType",
                ),
                job_error_handler_type=handler_type_from_request(
                    document.get("jobErrorHandlerType"), ErrorHandlerType, "jobErrorHandlerType"
                ),
                description=str(document.get("description") or ""),
                props={str(k): str(v) for k, v in dict(props).items()},
                extra={k: v for k, v in document.items() if k not in JOB_KEYS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"stored job document is unreadable: {exc}") from exc
