"""Protobuf → domain translation, specified by what a REST or gRPC client sends and what it gets.

Optional proto fields have presence: a field that was not sent takes its default, a field that was
sent (even as 0 or false) is validated as given.
"""

from __future__ import annotations

from typing import Any

import pytest
from elasticjob.cloud.v1 import app_pb2, job_pb2
from google.api import httpbody_pb2
from google.protobuf import struct_pb2

from server.api.convert import (
    app_changes,
    app_from_publish,
    app_to_proto,
    job_from_request,
    job_to_proto,
    name_from_body,
)
from server.domain.app import AppConfig
from server.domain.errors import InvalidArgument
from server.domain.job import ErrorHandlerType, ExecutorServiceHandlerType, JobConfig, JobExecutionType
from testkit.harness import json_value

# Number and boolean fields of the requests: google.protobuf.Value, read strictly by the server.
VALUE_FIELDS = frozenset(
    {
        "cpu_count",
        "memory_mb",
        "sharding_total_count",
        "failover",
        "misfire",
        "app_cache_enable",
        "event_trace_sampling_count",
    }
)


def as_request_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Plain numbers and booleans of ``fields`` wrapped as the Values the request carries."""
    return {
        key: json_value(value) if key in VALUE_FIELDS and not isinstance(value, struct_pb2.Value) else value
        for key, value in fields.items()
        if value is not None
    }


def publish(**fields: Any) -> app_pb2.PublishAppRequest:
    return app_pb2.PublishAppRequest(**as_request_fields(fields))


def modify(**fields: Any) -> app_pb2.ModifyAppRequest:
    return app_pb2.ModifyAppRequest(**as_request_fields(fields))


APP_REQUIRED: dict[str, Any] = {
    "app_name": "test_app",
    "app_url": "http://localhost/app.jar",
    "bootstrap_script": "bin/start.sh",
}


def body(data: bytes) -> httpbody_pb2.HttpBody:
    return httpbody_pb2.HttpBody(content_type="application/json", data=data)


def job_request(**overrides: Any) -> job_pb2.JobConfigRequest:
    fields: dict[str, Any] = {
        "job_name": "test_job",
        "app_name": "test_app",
        "cpu_count": 1.0,
        "memory_mb": 128.0,
        "job_execution_type": "TRANSIENT",
        "sharding_total_count": 3,
        "cron": "0/30 * * * * ?",
    }
    fields.update(overrides)
    return job_pb2.JobConfigRequest(**as_request_fields(fields))


def refusal_of(call: Any, *args: Any) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        call(*args)
    return caught.value


# --- name_from_body: the raw body of job/deregister and job/trigger ------------------------------


@pytest.mark.parametrize(
    "data",
    [b"my_job", b'"my_job"', b" my_job\n", b'  "my_job"\r\n', b'" my_job "', b'"\\u006dy_job"'],
    ids=["bare", "json-string", "bare-padded", "json-padded", "json-inner-spaces", "json-escape"],
)
def test_the_body_is_the_name_bare_or_as_a_json_string(data: bytes) -> None:
    assert name_from_body(body(data)) == "my_job"


@pytest.mark.parametrize("data", [b"", b"  \n\t"], ids=["empty", "blank"])
def test_an_empty_body_is_refused_naming_the_field(data: bytes) -> None:
    error = refusal_of(name_from_body, body(data))

    assert error.field == "jobName"
    assert "empty" in str(error)


@pytest.mark.parametrize("data", [b'"', b'"my_job', b'"my_job" "other"', b'"my_\\job"'])
def test_a_body_that_starts_a_json_string_but_is_not_one_is_refused(data: bytes) -> None:
    error = refusal_of(name_from_body, body(data))

    assert error.field == "jobName"
    assert "not a valid JSON string" in str(error)


def test_an_empty_json_string_is_refused_as_a_missing_name() -> None:
    error = refusal_of(name_from_body, body(b'""'))

    assert error.field == "jobName"
    assert "required" in str(error)


@pytest.mark.parametrize("data", [b"123", b'"123"'])
def test_a_numeric_name_is_a_valid_name_bare_or_quoted(data: bytes) -> None:
    # A bare 123 is JSON's number, but the name pattern allows it and a bare body is the name itself.
    assert name_from_body(body(data)) == "123"


@pytest.mark.parametrize(
    "data",
    [b"my job", b'"my job"', b'{"jobName": "my_job"}', b"[1]", b"_job", b'"a/b"'],
)
def test_a_body_that_is_not_a_valid_name_is_refused(data: bytes) -> None:
    assert refusal_of(name_from_body, body(data)).field == "jobName"


def test_a_body_that_is_not_utf_8_is_refused() -> None:
    error = refusal_of(name_from_body, body(b"\xff\xfejob"))

    assert error.field == "jobName"
    assert "UTF-8" in str(error)


def test_the_refusal_names_the_field_the_caller_asked_for() -> None:
    with pytest.raises(InvalidArgument) as caught:
        name_from_body(body(b""), field="appName")

    assert caught.value.field == "appName"


# --- job_from_request ----------------------------------------------------------------------------


def test_a_complete_job_request_becomes_the_job() -> None:
    request = job_request(
        sharding_item_parameters="0=a,1=b",
        job_parameter="param",
        failover=True,
        misfire=True,
        job_executor_service_handler_type=struct_pb2.Value(string_value="SINGLE_THREAD"),
        job_error_handler_type=struct_pb2.Value(string_value="THROW"),
        description="a job",
        props={"k": "v"},
    )

    assert job_from_request(request) == JobConfig(
        job_name="test_job",
        app_name="test_app",
        cpu_count=1.0,
        memory_mb=128.0,
        job_execution_type=JobExecutionType.TRANSIENT,
        sharding_total_count=3,
        cron="0/30 * * * * ?",
        sharding_item_parameters="0=a,1=b",
        job_parameter="param",
        failover=True,
        misfire=True,
        job_executor_service_handler_type=ExecutorServiceHandlerType.SINGLE_THREAD,
        job_error_handler_type=ErrorHandlerType.THROW,
        description="a job",
        props={"k": "v"},
    )


def test_a_minimal_job_request_takes_the_defaults() -> None:
    job = job_from_request(job_request(cron=None))

    assert job.cron == ""
    assert (job.failover, job.misfire) == (False, False)
    assert job.job_executor_service_handler_type is ExecutorServiceHandlerType.CPU
    assert job.job_error_handler_type is ErrorHandlerType.LOG
    assert job.props == {}


@pytest.mark.parametrize(
    "missing, json_name",
    [("cpu_count", "cpuCount"), ("memory_mb", "memoryMB"), ("sharding_total_count", "shardingTotalCount")],
)
def test_a_missing_required_number_is_refused_naming_the_field(missing: str, json_name: str) -> None:
    error = refusal_of(job_from_request, job_request(**{missing: None}))

    assert error.field == json_name
    assert str(error) == f"{json_name} is required"


@pytest.mark.parametrize(
    "sent, json_name, says",
    [
        ({"cpu_count": 0.0}, "cpuCount", "at least"),
        ({"memory_mb": 0.0}, "memoryMB", "at least"),
        ({"sharding_total_count": 0}, "shardingTotalCount", "between"),
    ],
)
def test_a_required_number_sent_as_zero_is_validated_not_treated_as_missing(
    sent: dict[str, Any], json_name: str, says: str
) -> None:
    error = refusal_of(job_from_request, job_request(**sent))

    assert error.field == json_name
    assert says in str(error)


def test_a_missing_execution_type_is_refused_naming_the_field() -> None:
    error = refusal_of(job_from_request, job_request(job_execution_type=None))

    assert error.field == "jobExecutionType"
    assert "required" in str(error)


@pytest.mark.parametrize(
    "sent, expected",
    [
        ("TRANSIENT", JobExecutionType.TRANSIENT),
        ("transient", JobExecutionType.TRANSIENT),
        (" Daemon ", JobExecutionType.DAEMON),
    ],
)
def test_the_execution_type_is_read_in_any_case(sent: str, expected: JobExecutionType) -> None:
    assert job_from_request(job_request(job_execution_type=sent)).job_execution_type is expected


@pytest.mark.parametrize("sent", ["SCRIPT", "ONCE", "TRANSIENTX"])
def test_an_unknown_execution_type_is_refused_naming_the_field_and_the_value(sent: str) -> None:
    error = refusal_of(job_from_request, job_request(job_execution_type=sent))

    assert error.field == "jobExecutionType"
    assert sent in str(error)


@pytest.mark.parametrize("missing, json_name", [("job_name", "jobName"), ("app_name", "appName")])
def test_a_missing_name_is_refused_naming_the_field(missing: str, json_name: str) -> None:
    assert refusal_of(job_from_request, job_request(**{missing: None})).field == json_name


def test_the_cron_is_trimmed() -> None:
    assert job_from_request(job_request(cron="  0/5 * * * * ?  ")).cron == "0/5 * * * * ?"


def test_a_daemon_request_without_cron_is_refused_naming_cron() -> None:
    assert refusal_of(job_from_request, job_request(job_execution_type="DAEMON", cron=None)).field == "cron"


@pytest.mark.parametrize(
    "value",
    [
        None,
        struct_pb2.Value(bool_value=False),
        struct_pb2.Value(null_value=struct_pb2.NULL_VALUE),
        struct_pb2.Value(string_value=""),
        struct_pb2.Value(),
    ],
    ids=["unsent", "false", "null", "empty-string", "empty-value"],
)
def test_handler_values_that_mean_the_default(value: struct_pb2.Value | None) -> None:
    job = job_from_request(job_request(job_executor_service_handler_type=value, job_error_handler_type=value))

    assert job.job_executor_service_handler_type is ExecutorServiceHandlerType.CPU
    assert job.job_error_handler_type is ErrorHandlerType.LOG


def test_a_handler_type_sent_as_a_string_is_read_in_any_case() -> None:
    job = job_from_request(
        job_request(
            job_executor_service_handler_type=struct_pb2.Value(string_value="single_thread"),
            job_error_handler_type=struct_pb2.Value(string_value="ignore"),
        )
    )

    assert job.job_executor_service_handler_type is ExecutorServiceHandlerType.SINGLE_THREAD
    assert job.job_error_handler_type is ErrorHandlerType.IGNORE


@pytest.mark.parametrize(
    "value",
    [
        struct_pb2.Value(number_value=1),
        struct_pb2.Value(number_value=0),
        struct_pb2.Value(bool_value=True),
        struct_pb2.Value(string_value="THROW"),
        struct_pb2.Value(list_value=struct_pb2.ListValue()),
        struct_pb2.Value(struct_value=struct_pb2.Struct()),
    ],
    ids=["number-1", "number-0", "true", "wrong-enum", "list", "object"],
)
def test_an_executor_service_handler_value_that_is_not_false_or_a_name_is_refused(
    value: struct_pb2.Value,
) -> None:
    error = refusal_of(job_from_request, job_request(job_executor_service_handler_type=value))

    assert error.field == "jobExecutorServiceHandlerType"


@pytest.mark.parametrize(
    "value",
    [
        struct_pb2.Value(number_value=2),
        struct_pb2.Value(bool_value=True),
        struct_pb2.Value(string_value="CPU"),
    ],
    ids=["number", "true", "wrong-enum"],
)
def test_an_error_handler_value_that_is_not_false_or_a_name_is_refused(value: struct_pb2.Value) -> None:
    assert (
        refusal_of(job_from_request, job_request(job_error_handler_type=value)).field == "jobErrorHandlerType"
    )


def test_job_to_proto_reports_every_field_with_enums_as_their_names() -> None:
    job = job_from_request(
        job_request(
            job_execution_type="daemon",
            job_executor_service_handler_type=struct_pb2.Value(bool_value=False),
            props={"k": "v"},
        )
    )

    assert job_to_proto(job) == job_pb2.Job(
        app_name="test_app",
        job_name="test_job",
        cpu_count=1.0,
        memory_mb=128.0,
        job_execution_type="DAEMON",
        cron="0/30 * * * * ?",
        sharding_total_count=3,
        job_executor_service_handler_type="CPU",
        job_error_handler_type="LOG",
        props={"k": "v"},
    )


# --- app_from_publish ----------------------------------------------------------------------------


def test_a_published_app_without_optional_fields_takes_the_defaults() -> None:
    app = app_from_publish(publish(**APP_REQUIRED))

    assert app == AppConfig(**APP_REQUIRED)
    assert (app.cpu_count, app.memory_mb, app.app_cache_enable, app.event_trace_sampling_count) == (
        1.0,
        128.0,
        True,
        0,
    )


def test_a_published_app_keeps_every_optional_field_that_was_sent() -> None:
    request = publish(
        **APP_REQUIRED, cpu_count=0.5, memory_mb=64.0, app_cache_enable=False, event_trace_sampling_count=7
    )

    assert app_from_publish(request) == AppConfig(
        **APP_REQUIRED, cpu_count=0.5, memory_mb=64.0, app_cache_enable=False, event_trace_sampling_count=7
    )


@pytest.mark.parametrize(
    "sent, json_name", [({"cpu_count": 0.0}, "cpuCount"), ({"memory_mb": 0.0}, "memoryMB")]
)
def test_a_resource_sent_as_zero_is_refused_not_defaulted(sent: dict[str, Any], json_name: str) -> None:
    request = publish(**APP_REQUIRED, **sent)

    assert refusal_of(app_from_publish, request).field == json_name


def test_false_and_zero_that_were_sent_are_kept_not_defaulted() -> None:
    request = publish(**APP_REQUIRED, app_cache_enable=False, event_trace_sampling_count=0)

    app = app_from_publish(request)

    assert (app.app_cache_enable, app.event_trace_sampling_count) == (False, 0)


def test_a_negative_sampling_count_is_refused() -> None:
    request = publish(**APP_REQUIRED, event_trace_sampling_count=-1)

    assert refusal_of(app_from_publish, request).field == "eventTraceSamplingCount"


@pytest.mark.parametrize(
    "missing, json_name",
    [("app_name", "appName"), ("app_url", "appURL"), ("bootstrap_script", "bootstrapScript")],
)
def test_a_published_app_missing_a_required_field_is_refused_naming_it(missing: str, json_name: str) -> None:
    fields = {key: value for key, value in APP_REQUIRED.items() if key != missing}

    error = refusal_of(app_from_publish, publish(**fields))

    assert error.field == json_name
    assert "required" in str(error)


def test_app_to_proto_reports_every_field() -> None:
    app = AppConfig(**APP_REQUIRED, cpu_count=0.5, app_cache_enable=False)

    assert app_to_proto(app) == app_pb2.App(
        **APP_REQUIRED, cpu_count=0.5, memory_mb=128.0, app_cache_enable=False, event_trace_sampling_count=0
    )


# --- app_changes ---------------------------------------------------------------------------------


def test_a_modify_request_with_only_the_name_changes_nothing() -> None:
    assert app_changes(modify(app_name="test_app")) == ("test_app", {})


def test_a_modify_request_returns_only_the_fields_sent() -> None:
    request = modify(app_name="test_app", app_cache_enable=False, event_trace_sampling_count=0)

    assert app_changes(request) == ("test_app", {"app_cache_enable": False, "event_trace_sampling_count": 0})


def test_a_modify_request_may_send_every_field() -> None:
    request = modify(
        app_name="test_app",
        app_url="https://example.com/v2.jar",
        cpu_count=2.0,
        memory_mb=256.0,
        bootstrap_script="bin/v2.sh",
        app_cache_enable=True,
        event_trace_sampling_count=10,
    )

    assert app_changes(request) == (
        "test_app",
        {
            "app_url": "https://example.com/v2.jar",
            "cpu_count": 2.0,
            "memory_mb": 256.0,
            "bootstrap_script": "bin/v2.sh",
            "app_cache_enable": True,
            "event_trace_sampling_count": 10,
        },
    )


def test_the_changes_apply_to_a_stored_app_and_are_validated_there() -> None:
    stored = AppConfig(**APP_REQUIRED)
    _, changes = app_changes(modify(app_name="test_app", cpu_count=0.0))

    with pytest.raises(InvalidArgument) as caught:
        stored.with_changes(changes)

    assert caught.value.field == "cpuCount"


@pytest.mark.parametrize("name", ["", "bad name", "_app"])
def test_a_modify_request_with_an_invalid_name_is_refused(name: str) -> None:
    assert refusal_of(app_changes, modify(app_name=name)).field == "appName"


# --- numbers and booleans: JSON's own, plus decimal numeric strings for numbers -------------------


@pytest.mark.parametrize("field", ["failover", "misfire"])
@pytest.mark.parametrize("sent", ["yes", "y", "t", "1", "true", "True", 1, 0, [True], {"a": True}], ids=repr)
def test_a_job_flag_that_is_not_a_json_boolean_is_refused_naming_it(field: str, sent: object) -> None:
    error = refusal_of(job_from_request, job_request(**{field: json_value(sent)}))

    assert error.field == field
    assert "true or false" in str(error)


@pytest.mark.parametrize("sent", [True, False])
def test_a_job_flag_sent_as_a_boolean_is_kept(sent: bool) -> None:
    job = job_from_request(job_request(failover=sent, misfire=not sent))

    assert (job.failover, job.misfire) == (sent, not sent)


@pytest.mark.parametrize(
    "unsent", [None, struct_pb2.Value(null_value=struct_pb2.NULL_VALUE), struct_pb2.Value()]
)
def test_a_flag_or_optional_number_sent_as_null_counts_as_not_sent(unsent: struct_pb2.Value | None) -> None:
    job = job_from_request(job_request(failover=unsent, misfire=unsent))
    app = app_from_publish(
        publish(**APP_REQUIRED, cpu_count=unsent, app_cache_enable=unsent, event_trace_sampling_count=unsent)
    )

    assert (job.failover, job.misfire) == (False, False)
    assert (app.cpu_count, app.app_cache_enable, app.event_trace_sampling_count) == (1.0, True, 0)
    assert app_changes(modify(app_name="test_app", memory_mb=unsent, app_cache_enable=unsent)) == (
        "test_app",
        {},
    )


@pytest.mark.parametrize(
    "field, json_name", [("cpu_count", "cpuCount"), ("sharding_total_count", "shardingTotalCount")]
)
def test_a_required_number_sent_as_null_is_missing(field: str, json_name: str) -> None:
    error = refusal_of(job_from_request, job_request(**{field: json_value(None)}))

    assert str(error) == f"{json_name} is required"


NOT_NUMBERS = ["0x10", "0x1p-3", "NaN", "nan", "Infinity", "-inf", "+1", " 1", "1 ", "1_0", "", "1e", ".5", "1.",
               "01", "٣", "1" * 101, True, [1], {"a": 1}]  # fmt: skip


@pytest.mark.parametrize("sent", NOT_NUMBERS, ids=repr)
@pytest.mark.parametrize("field, json_name", [("cpu_count", "cpuCount"), ("memory_mb", "memoryMB")])
def test_a_resource_that_is_not_a_json_number_or_decimal_string_is_refused(
    sent: object, field: str, json_name: str
) -> None:
    job_error = refusal_of(job_from_request, job_request(**{field: json_value(sent)}))
    app_error = refusal_of(app_from_publish, publish(**APP_REQUIRED, **{field: json_value(sent)}))
    modify_error = refusal_of(app_changes, modify(app_name="test_app", **{field: json_value(sent)}))

    for error in (job_error, app_error, modify_error):
        assert error.field == json_name
        assert "must be a number" in str(error)
        assert len(str(error)) < 200


@pytest.mark.parametrize("sent", [float("nan"), float("inf"), float("-inf"), "1e400"], ids=repr)
def test_a_number_that_is_not_finite_is_refused(sent: object) -> None:
    error = refusal_of(job_from_request, job_request(cpu_count=struct_pb2.Value(number_value=float(sent))
                                                     if isinstance(sent, float) else json_value(sent)))  # fmt: skip

    assert error.field == "cpuCount"
    assert "finite" in str(error)


@pytest.mark.parametrize(
    "sent, read",
    [("0.5", 0.5), ("64", 64.0), ("2.5e-1", 0.25), ("1E2", 100.0), ("-0", -0.0), (0.5, 0.5), (3, 3.0)],
)
def test_a_number_may_be_a_json_number_or_a_decimal_string(sent: object, read: float) -> None:
    _, changes = app_changes(modify(app_name="test_app", memory_mb=json_value(sent)))

    assert changes == {"memory_mb": read}


@pytest.mark.parametrize("sent", [*NOT_NUMBERS, "1.5", 1.5, "1e1", "3.0", 2**31, -(2**31) - 1], ids=repr)
def test_an_integer_that_is_not_a_json_integer_or_decimal_integer_string_is_refused(sent: object) -> None:
    job_error = refusal_of(job_from_request, job_request(sharding_total_count=json_value(sent)))
    app_error = refusal_of(
        app_from_publish, publish(**APP_REQUIRED, event_trace_sampling_count=json_value(sent))
    )

    assert job_error.field == "shardingTotalCount"
    assert app_error.field == "eventTraceSamplingCount"
    for error in (job_error, app_error):
        assert "integer" in str(error) or "between" in str(error)


@pytest.mark.parametrize("sent, read", [("3", 3), (3, 3), (3.0, 3), (1e3, 1000), ("10000", 10000)])
def test_an_integer_may_be_an_integral_json_number_or_a_decimal_integer_string(
    sent: object, read: int
) -> None:
    job = job_from_request(job_request(sharding_total_count=json_value(sent)))
    app = app_from_publish(publish(**APP_REQUIRED, event_trace_sampling_count=json_value(sent)))

    assert job.sharding_total_count == read and type(job.sharding_total_count) is int
    assert app.event_trace_sampling_count == read and type(app.event_trace_sampling_count) is int


@pytest.mark.parametrize("sent", ["yes", "true", 1, None], ids=repr)
def test_an_app_cache_flag_that_is_not_a_json_boolean_is_refused_by_publish_and_modify(sent: object) -> None:
    if sent is None:  # null is "not sent": the default on publish, no change on modify
        assert app_from_publish(publish(**APP_REQUIRED, app_cache_enable=json_value(None))).app_cache_enable
        return
    for error in (
        refusal_of(app_from_publish, publish(**APP_REQUIRED, app_cache_enable=json_value(sent))),
        refusal_of(app_changes, modify(app_name="test_app", app_cache_enable=json_value(sent))),
    ):
        assert error.field == "appCacheEnable"


def test_a_long_bad_string_is_quoted_by_a_prefix_only() -> None:
    error = refusal_of(job_from_request, job_request(cpu_count=json_value("x" * 100_000)))

    assert len(str(error)) < 200
    assert "100000 characters" in str(error)
