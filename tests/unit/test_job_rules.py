"""JobConfig, specified by the spec's Job table: which values are stored and which are refused.

Every refusal is an ``InvalidArgument`` whose ``field`` is the JSON name the user sent.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from server.domain.errors import InvalidArgument
from server.domain.job import (
    ErrorHandlerType,
    ExecutorServiceHandlerType,
    JobConfig,
    JobExecutionType,
    handler_type_from_request,
    parse_sharding_item_parameters,
)

TRANSIENT = JobExecutionType.TRANSIENT
DAEMON = JobExecutionType.DAEMON


def make_job(**overrides: Any) -> JobConfig:
    fields: dict[str, Any] = {
        "job_name": "test_job",
        "app_name": "test_app",
        "cpu_count": 1.0,
        "memory_mb": 128.0,
        "job_execution_type": TRANSIENT,
        "sharding_total_count": 3,
        "cron": "0/30 * * * * ?",
    }
    fields.update(overrides)
    return JobConfig(**fields)


def refusal(**overrides: Any) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        make_job(**overrides)
    return caught.value


# --- defaults ------------------------------------------------------------------------------------


def test_unsent_optional_fields_take_the_documented_defaults() -> None:
    job = JobConfig(
        job_name="test_job",
        app_name="test_app",
        cpu_count=1.0,
        memory_mb=128.0,
        job_execution_type=TRANSIENT,
        sharding_total_count=1,
    )

    assert job.cron == ""
    assert job.sharding_item_parameters == ""
    assert job.job_parameter == ""
    assert job.failover is False
    assert job.misfire is False
    assert job.job_executor_service_handler_type is ExecutorServiceHandlerType.CPU
    assert job.job_error_handler_type is ErrorHandlerType.LOG
    assert job.description == ""
    assert job.props == {}
    assert job.extra == {}


def test_a_job_is_frozen() -> None:
    job = make_job()

    with pytest.raises(AttributeError):
        job.cron = ""  # type: ignore[misc]


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("field_name, json_name", [("job_name", "jobName"), ("app_name", "appName")])
@pytest.mark.parametrize("name", ["", "_job", "my job", "a" * 101, "job/1"])
def test_job_and_app_names_follow_the_name_pattern(field_name: str, json_name: str, name: str) -> None:
    assert refusal(**{field_name: name}).field == json_name


def test_a_job_name_of_100_characters_is_accepted() -> None:
    assert make_job(job_name="j" * 100).job_name == "j" * 100


# --- resources -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cpu_count, memory_mb", [(0.001, 1.0), (0.25, 32.0), (16, 4096)])
def test_resources_at_or_above_the_minimums_are_accepted(cpu_count: float, memory_mb: float) -> None:
    job = make_job(cpu_count=cpu_count, memory_mb=memory_mb)

    assert (job.cpu_count, job.memory_mb) == (cpu_count, memory_mb)


@pytest.mark.parametrize("cpu_count", [0.0009, 0.0, -1.0, math.nan, math.inf])
def test_a_cpu_count_below_one_thousandth_or_not_finite_is_refused(cpu_count: float) -> None:
    assert refusal(cpu_count=cpu_count).field == "cpuCount"


@pytest.mark.parametrize("memory_mb", [0.5, 0.0, -1.0, math.nan, -math.inf])
def test_a_memory_below_one_mb_or_not_finite_is_refused(memory_mb: float) -> None:
    assert refusal(memory_mb=memory_mb).field == "memoryMB"


# --- shardingTotalCount --------------------------------------------------------------------------


@pytest.mark.parametrize("total", [1, 10, 10_000])
def test_a_sharding_total_count_from_1_to_10000_is_accepted(total: int) -> None:
    assert make_job(sharding_total_count=total).sharding_total_count == total


@pytest.mark.parametrize("total", [0, -1, 10_001])
def test_a_sharding_total_count_outside_1_to_10000_is_refused(total: int) -> None:
    error = refusal(sharding_total_count=total)

    assert error.field == "shardingTotalCount"
    assert "between 1 and 10000" in str(error)


@pytest.mark.parametrize("total", [True, 2.0, "3"])
def test_a_sharding_total_count_that_is_not_an_integer_is_refused(total: object) -> None:
    assert refusal(sharding_total_count=total).field == "shardingTotalCount"


# --- jobExecutionType and cron -------------------------------------------------------------------


def test_a_transient_job_without_cron_is_accepted_and_runs_only_when_triggered() -> None:
    job = make_job(job_execution_type=TRANSIENT, cron="")

    assert job.cron == ""
    assert job.is_daemon is False


def test_a_daemon_job_with_cron_is_accepted() -> None:
    assert make_job(job_execution_type=DAEMON, cron="0/5 * * * * ?").is_daemon is True


def test_a_daemon_job_without_cron_is_refused() -> None:
    error = refusal(job_execution_type=DAEMON, cron="")

    assert error.field == "cron"
    assert "DAEMON" in str(error)


@pytest.mark.parametrize("execution_type", ["TRANSIENT", "transient", None, 1])
def test_an_execution_type_that_is_not_the_enum_is_refused(execution_type: object) -> None:
    assert refusal(job_execution_type=execution_type).field == "jobExecutionType"


@pytest.mark.parametrize(
    "cron", ["0/5 * * * * ?", "0/30 * * * * ?", "0 0 12 ? * MON-FRI", "0 15 10 L * ? 2099"]
)
def test_a_valid_quartz_cron_is_accepted(cron: str) -> None:
    assert make_job(cron=cron).cron == cron


@pytest.mark.parametrize(
    "cron",
    [
        "0/5 * * * *",  # five fields: Unix cron, no seconds
        "61 * * * * ?",  # second out of range
        "0 0 12 * * MON",  # neither day field is '?'
        "every five seconds",
        "* * * * * ? * *",  # eight fields
    ],
)
def test_an_invalid_cron_is_refused_naming_the_cron_field(cron: str) -> None:
    error = refusal(cron=cron)

    assert error.field == "cron"
    assert cron in str(error)


def test_an_invalid_cron_is_refused_for_a_daemon_job_too() -> None:
    assert refusal(job_execution_type=DAEMON, cron="0/5 * * * *").field == "cron"


# --- shardingItemParameters ----------------------------------------------------------------------


def test_sharding_item_parameters_are_parsed_into_items() -> None:
    job = make_job(sharding_total_count=2, sharding_item_parameters="0=a,1=b")

    assert job.sharding_parameters == {0: "a", 1: "b"}


def test_sharding_item_parameters_may_name_only_some_items_in_any_order() -> None:
    assert parse_sharding_item_parameters("2=Guangzhou, 0=Beijing", 3) == {2: "Guangzhou", 0: "Beijing"}


def test_spaces_around_items_and_values_are_ignored() -> None:
    assert parse_sharding_item_parameters(" 0 = a , 1=b ", 2) == {0: "a", 1: "b"}


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_sharding_item_parameters_mean_no_parameters(text: str) -> None:
    assert make_job(sharding_item_parameters=text).sharding_parameters == {}


@pytest.mark.parametrize("text, total", [("3=a", 3), ("0=a,1=b", 1), ("10000=x", 10_000)])
def test_a_sharding_item_outside_0_to_total_minus_1_is_refused(text: str, total: int) -> None:
    error = refusal(sharding_total_count=total, sharding_item_parameters=text)

    assert error.field == "shardingItemParameters"
    assert f"outside 0..{total - 1}" in str(error)


def test_a_sharding_item_given_twice_is_refused() -> None:
    error = refusal(sharding_item_parameters="0=a,0=b")

    assert error.field == "shardingItemParameters"
    assert "twice" in str(error)


@pytest.mark.parametrize("text", ["a", "0", "x=1", "-1=a", "0=a,,1=b", "=a", "1.5=a", "0:a"])
def test_malformed_sharding_item_parameters_are_refused(text: str) -> None:
    error = refusal(sharding_item_parameters=text)

    assert error.field == "shardingItemParameters"
    assert "item=value" in str(error)


# --- handler types -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, None, ""])
def test_false_null_and_empty_mean_the_default_handler_types(value: object) -> None:
    assert (
        handler_type_from_request(value, ExecutorServiceHandlerType, "jobExecutorServiceHandlerType")
        is ExecutorServiceHandlerType.CPU
    )
    assert handler_type_from_request(value, ErrorHandlerType, "jobErrorHandlerType") is ErrorHandlerType.LOG


@pytest.mark.parametrize(
    "value, expected",
    [
        ("CPU", ExecutorServiceHandlerType.CPU),
        ("SINGLE_THREAD", ExecutorServiceHandlerType.SINGLE_THREAD),
        ("single_thread", ExecutorServiceHandlerType.SINGLE_THREAD),
        (" Single_Thread ", ExecutorServiceHandlerType.SINGLE_THREAD),
    ],
)
def test_executor_service_handler_types_are_read_in_any_case(
    value: str, expected: ExecutorServiceHandlerType
) -> None:
    assert (
        handler_type_from_request(value, ExecutorServiceHandlerType, "jobExecutorServiceHandlerType")
        is expected
    )


@pytest.mark.parametrize(
    "value, expected",
    [("LOG", ErrorHandlerType.LOG), ("throw", ErrorHandlerType.THROW), ("IGNORE", ErrorHandlerType.IGNORE)],
)
def test_error_handler_types_are_log_throw_or_ignore(value: str, expected: ErrorHandlerType) -> None:
    assert handler_type_from_request(value, ErrorHandlerType, "jobErrorHandlerType") is expected


@pytest.mark.parametrize("value", ["THROW", "x", True, 0, 1.0, "LOG"])
def test_an_unknown_executor_service_handler_type_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        handler_type_from_request(value, ExecutorServiceHandlerType, "jobExecutorServiceHandlerType")

    assert caught.value.field == "jobExecutorServiceHandlerType"
    assert "CPU or SINGLE_THREAD" in str(caught.value)


@pytest.mark.parametrize("value", ["CPU", "x", True, 0, "SINGLE_THREAD"])
def test_an_unknown_error_handler_type_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        handler_type_from_request(value, ErrorHandlerType, "jobErrorHandlerType")

    assert caught.value.field == "jobErrorHandlerType"
    assert "LOG or THROW or IGNORE" in str(caught.value)


# --- props ---------------------------------------------------------------------------------------


def test_props_mapping_strings_to_strings_are_accepted() -> None:
    props = {"script.command.line": "bin/run.sh", "empty": ""}

    assert make_job(props=props).props == props


@pytest.mark.parametrize(
    "props", [{"retries": 3}, {1: "one"}, {"flag": True}, {"nested": {"a": "b"}}, {"n": None}]
)
def test_props_with_a_key_or_value_that_is_not_a_string_are_refused(props: dict[Any, Any]) -> None:
    assert refusal(props=props).field == "props"
