"""Task identities and the sharding context, in ElasticJob-Cloud's formats.

- ``TaskId``: ``job@-@item@-@READY|FAILOVER@-@agentId@-@uuid`` (a Mesos task id);
- ``ShardRef``: ``job@-@item`` (3.0's "meta info", the key of running and failover nodes);
- executor id ``app@-@agentId``, then the app's executor version and, for an app whose cache is
  disabled, a launch: ``app@-@agentId@-@version[@-@launch]`` (``ExecutorRef``).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DELIMITER = "@-@"


def _item(text: str) -> int | None:
    """A sharding item in canonical decimal (so it formats back to the same text), else None."""
    if not (text.isascii() and text.isdigit()) or (len(text) > 1 and text.startswith("0")):
        return None
    return int(text)


class TaskIdError(ValueError):
    """A string is not a task id or shard reference in ElasticJob's format."""


class ExecutionType(enum.StrEnum):
    """Why a task was launched: a queued run (READY) or the re-run of a lost shard (FAILOVER)."""

    READY = "READY"
    FAILOVER = "FAILOVER"


@dataclass(frozen=True, slots=True, order=True)
class ShardRef:
    """One shard of one job: ``job@-@item``."""

    job_name: str
    item: int

    def __post_init__(self) -> None:
        if not self.job_name or DELIMITER in self.job_name:
            raise TaskIdError(f"invalid job name {self.job_name!r}")
        if self.item < 0:
            raise TaskIdError(f"sharding item must be >= 0, got {self.item}")

    def __str__(self) -> str:
        return f"{self.job_name}{DELIMITER}{self.item}"

    @classmethod
    def parse(cls, text: str) -> ShardRef:
        parts = text.split(DELIMITER)
        item = _item(parts[1]) if len(parts) == 2 else None
        if item is None:
            raise TaskIdError(f"{text!r} is not a shard reference (job@-@item)")
        return cls(parts[0], item)


@dataclass(frozen=True, slots=True)
class TaskId:
    """A Mesos task id in ElasticJob's form; ``str()`` formats it, ``parse`` reads it back."""

    job_name: str
    item: int
    execution_type: ExecutionType
    agent_id: str
    unique: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        ShardRef(self.job_name, self.item)  # validates job name and item
        if DELIMITER in self.agent_id or DELIMITER in self.unique or not self.unique:
            raise TaskIdError("agent id and uuid must not contain the delimiter")

    @property
    def shard(self) -> ShardRef:
        return ShardRef(self.job_name, self.item)

    def __str__(self) -> str:
        return DELIMITER.join(
            (self.job_name, str(self.item), self.execution_type.value, self.agent_id, self.unique)
        )

    @classmethod
    def parse(cls, text: str) -> TaskId:
        parts = text.split(DELIMITER)
        item = _item(parts[1]) if len(parts) == 5 else None
        if item is None:
            raise TaskIdError(f"{text!r} is not a task id (job@-@item@-@type@-@agent@-@uuid)")
        try:
            execution_type = ExecutionType(parts[2])
        except ValueError:
            raise TaskIdError(f"{text!r} has unknown execution type {parts[2]!r}") from None
        return cls(parts[0], item, execution_type, parts[3], parts[4])


def executor_id(
    app_name: str, agent_id: str, launch: str | None = None, *, version: str | None = None
) -> str:
    """The executor of ``app_name`` on ``agent_id``: ``app@-@agentId``, then ``@-@version`` (the
    app's ExecutorInfo version: a changed app gets new executors, since Mesos refuses a task whose
    ExecutorInfo differs from that of the running executor of its id), then ``@-@launch`` for an
    app whose cache is disabled (a fresh executor per launch, so each launch fetches the app)."""
    parts = [app_name, agent_id]
    if version is not None:
        parts.append(version)
    if launch is not None:
        parts.append(launch)
    return DELIMITER.join(parts)


@dataclass(frozen=True, slots=True)
class ExecutorRef:
    """An executor id in our form, read back: ``app@-@agentId[@-@version[@-@launch]]``.

    ``version`` None: an id without one (written before executors were versioned, or without a
    version source)."""

    app_name: str
    agent_id: str
    version: str | None = None
    launch: str | None = None

    @classmethod
    def parse(cls, text: str) -> ExecutorRef | None:
        """The parts of ``text``, or None when it is not an executor id of ours."""
        parts = text.split(DELIMITER)
        if not 2 <= len(parts) <= 4 or not all(parts):
            return None
        return cls(parts[0], parts[1], *parts[2:])


@dataclass(frozen=True, kw_only=True, slots=True)
class ShardingContext:
    """What a shard is told about its run: sent as the task's JSON ``data`` and as environment."""

    task_id: str
    job_name: str
    sharding_item: int
    sharding_total_count: int
    sharding_item_parameter: str
    job_parameter: str
    execution_type: str
    job_execution_type: str
    cron: str
    misfire: bool
    failover: bool
    job_executor_service_handler_type: str
    job_error_handler_type: str
    props: Mapping[str, str]
    bootstrap_script: str
    event_trace_sampling_count: int

    def to_json_document(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "jobName": self.job_name,
            "shardingItem": self.sharding_item,
            "shardingTotalCount": self.sharding_total_count,
            "shardingItemParameter": self.sharding_item_parameter,
            "jobParameter": self.job_parameter,
            "executionType": self.execution_type,
            "jobExecutionType": self.job_execution_type,
            "cron": self.cron,
            "misfire": self.misfire,
            "failover": self.failover,
            "jobExecutorServiceHandlerType": self.job_executor_service_handler_type,
            "jobErrorHandlerType": self.job_error_handler_type,
            "props": dict(self.props),
            "bootstrapScript": self.bootstrap_script,
            "eventTraceSamplingCount": self.event_trace_sampling_count,
        }

    def environment(self) -> dict[str, str]:
        return {
            "ELASTICJOB_JOB_NAME": self.job_name,
            "ELASTICJOB_TASK_ID": self.task_id,
            "ELASTICJOB_SHARDING_ITEM": str(self.sharding_item),
            "ELASTICJOB_SHARDING_TOTAL_COUNT": str(self.sharding_total_count),
            "ELASTICJOB_SHARDING_PARAMETER": self.sharding_item_parameter,
            "ELASTICJOB_JOB_PARAMETER": self.job_parameter,
        }
