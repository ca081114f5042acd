"""Reading a LAUNCHed TaskInfo's data back into the shard's sharding context."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from server.domain.job import ErrorHandlerType, ExecutorServiceHandlerType, JobExecutionType
from server.executor.shard import InvalidTask, decode_task, grace_period
from testkit.executor import task_info


def with_document(info: dict[str, Any], **changes: Any) -> dict[str, Any]:
    document = json.loads(base64.b64decode(info["data"]))
    for name, value in changes.items():
        if value is None:
            document.pop(name, None)
        else:
            document[name] = value
    return info | {"data": base64.b64encode(json.dumps(document).encode()).decode()}


def test_the_scheduler_document_decodes_to_the_same_context() -> None:
    info = task_info(
        "job_a",
        2,
        total=3,
        item_parameter="c",
        job_parameter="p",
        error_handler="THROW",
        service_handler="SINGLE_THREAD",
        bootstrap_script="bin/start.sh -v",
        sampling=5,
    )
    shard = decode_task(info)
    assert shard.task_id == info["task_id"]["value"]
    assert shard.context.task_id == shard.task_id
    assert shard.context.sharding_item == 2
    assert shard.context.sharding_total_count == 3
    assert shard.context.sharding_item_parameter == "c"
    assert shard.context.event_trace_sampling_count == 5
    assert shard.execution_type is JobExecutionType.TRANSIENT
    assert shard.error_handler is ErrorHandlerType.THROW
    assert shard.service_handler is ExecutorServiceHandlerType.SINGLE_THREAD
    assert shard.environment == shard.context.environment()
    assert shard.document_text == base64.b64decode(info["data"]).decode()
    assert shard.cron is None
    assert shard.label == "job_a-2"
    assert shard.kill_grace_period == 3.0


def test_optional_fields_take_elasticjob_defaults() -> None:
    info = with_document(
        task_info("job_b"),
        jobErrorHandlerType=None,
        jobExecutorServiceHandlerType=None,
        eventTraceSamplingCount=None,
        props=None,
        environment=None,
        shardingItemParameter=None,
    )
    shard = decode_task(info)
    assert shard.error_handler is ErrorHandlerType.LOG
    assert shard.service_handler is ExecutorServiceHandlerType.CPU
    assert shard.context.event_trace_sampling_count == 0
    assert shard.context.props == {}
    assert shard.environment["ELASTICJOB_SHARDING_PARAMETER"] == ""
    assert shard.environment["ELASTICJOB_JOB_NAME"] == "job_b"


def test_a_daemon_gets_its_parsed_cron() -> None:
    shard = decode_task(task_info("job_c", job_execution_type="DAEMON", cron="0/5 * * * * ?"))
    assert shard.cron is not None and str(shard.cron) == "0/5 * * * * ?"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"data": "not base64!"}, "base64"),
        ({"data": base64.b64encode(b"\xff\xfe").decode()}, "UTF-8 JSON"),
        ({"data": base64.b64encode(b"[1, 2]").decode()}, "JSON object"),
        ({"data": None}, "no data"),
        ({"task_id": None}, "no task_id"),
    ],
)
def test_unreadable_task_info_is_refused(change: dict[str, Any], reason: str) -> None:
    info = task_info("job_d") | change
    info = {name: value for name, value in info.items() if value is not None}
    with pytest.raises(InvalidTask, match=reason):
        decode_task(info)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"jobName": None}, "jobName"),
        ({"jobName": ""}, "empty jobName"),
        ({"shardingItem": "1"}, "whole number"),
        ({"shardingItem": True}, "whole number"),
        ({"shardingItem": 3, "shardingTotalCount": 3}, "does not fit"),
        ({"jobExecutionType": "SOMETIMES"}, "TRANSIENT, DAEMON"),
        ({"jobErrorHandlerType": "EMAIL"}, "LOG, THROW, IGNORE"),
        ({"bootstrapScript": "  "}, "empty bootstrapScript"),
        ({"eventTraceSamplingCount": -1}, "negative"),
        ({"props": {"a": 1}}, "object of strings"),
        ({"misfire": "yes"}, "bool"),
        ({"jobExecutionType": "DAEMON", "cron": ""}, "needs a cron"),
        ({"jobExecutionType": "DAEMON", "cron": "every minute"}, "invalid cron"),
    ],
)
def test_a_bad_sharding_context_is_refused_with_the_field_named(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidTask, match=reason):
        decode_task(with_document(task_info("job_e", total=3), **changes))


@pytest.mark.parametrize(
    ("policy", "seconds"),
    [
        ({"grace_period": {"nanoseconds": 1_500_000_000}}, 1.5),
        ({"grace_period": {"nanoseconds": "250000000"}}, 0.25),
        ({"grace_period": {"nanoseconds": 0}}, 0.0),
        ({"grace_period": {"nanoseconds": -1}}, 3.0),
        ({"grace_period": {}}, 3.0),
        ({}, 3.0),
        (None, 3.0),
    ],
)
def test_kill_policy_grace_periods(policy: Any, seconds: float) -> None:
    assert grace_period(policy, 3.0) == seconds


def test_the_task_kill_policy_sets_the_kill_grace_period() -> None:
    assert decode_task(task_info("job_f", kill_grace_seconds=0.5)).kill_grace_period == 0.5
