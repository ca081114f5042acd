"""Registry node values, specified by the documents ElasticJob-Cloud 3.0 (YAML) and 2.x (JSON) wrote.

The two YAML examples are copied verbatim from the spec page ("Registry values written by
ElasticJob-Cloud 3.0").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.domain.app import AppConfig
from server.domain.errors import InvalidArgument
from server.domain.job import ErrorHandlerType, ExecutorServiceHandlerType, JobConfig, JobExecutionType
from server.registry import codec

APP_NODE_3_0 = b"""\
appCacheEnable: true
appName: test_app
appURL: http://localhost/app.jar
bootstrapScript: bin/start.sh
cpuCount: 1.0
eventTraceSamplingCount: 0
memoryMB: 128.0
"""

JOB_NODE_3_0 = b"""\
appName: test_app
cpuCount: 1.0
cron: 0/30 * * * * ?
description: ''
disabled: false
failover: true
jobExecutionType: TRANSIENT
jobName: test_job
jobParameter: ''
maxTimeDiffSeconds: 0
memoryMB: 128.0
misfire: true
monitorExecution: false
overwrite: false
reconcileIntervalMinutes: 0
shardingItemParameters: ''
shardingTotalCount: 10
"""

LITE_ONLY_KEYS = {
    "disabled": False,
    "monitorExecution": False,
    "overwrite": False,
    "maxTimeDiffSeconds": 0,
    "reconcileIntervalMinutes": 0,
}

APP_PATH = "/elasticjob-cloud/config/app/test_app"
JOB_PATH = "/elasticjob-cloud/config/job/test_job"


def make_job(**overrides: Any) -> JobConfig:
    fields: dict[str, Any] = {
        "job_name": "test_job",
        "app_name": "test_app",
        "cpu_count": 1.0,
        "memory_mb": 128.0,
        "job_execution_type": JobExecutionType.TRANSIENT,
        "sharding_total_count": 3,
    }
    fields.update(overrides)
    return JobConfig(**fields)


# --- 3.0 app nodes -------------------------------------------------------------------------------


def test_the_3_0_app_node_example_is_read() -> None:
    app = AppConfig.from_document(codec.decode(APP_NODE_3_0, APP_PATH))

    assert app == AppConfig(
        app_name="test_app",
        app_url="http://localhost/app.jar",
        bootstrap_script="bin/start.sh",
        cpu_count=1.0,
        memory_mb=128.0,
        app_cache_enable=True,
        event_trace_sampling_count=0,
    )


def test_an_app_is_written_byte_for_byte_as_3_0_writes_it() -> None:
    app = AppConfig(app_name="test_app", app_url="http://localhost/app.jar", bootstrap_script="bin/start.sh")

    assert codec.encode(app.to_document()) == APP_NODE_3_0


def test_the_3_0_app_node_survives_a_read_and_a_write_unchanged() -> None:
    app = AppConfig.from_document(codec.decode(APP_NODE_3_0, APP_PATH))

    assert codec.encode(app.to_document()) == APP_NODE_3_0


def test_whole_number_resources_are_written_with_a_decimal_point() -> None:
    app = AppConfig(
        app_name="a", app_url="http://h/a.jar", bootstrap_script="run.sh", cpu_count=2, memory_mb=512
    )

    text = codec.encode(app.to_document()).decode()

    assert "cpuCount: 2.0\n" in text
    assert "memoryMB: 512.0\n" in text


def test_an_app_node_without_optional_keys_takes_the_defaults() -> None:
    document = codec.decode(
        b"appName: test_app\nappURL: http://localhost/app.jar\nbootstrapScript: bin/start.sh\n", APP_PATH
    )

    app = AppConfig.from_document(document)

    assert (app.cpu_count, app.memory_mb, app.app_cache_enable, app.event_trace_sampling_count) == (
        1.0,
        128.0,
        True,
        0,
    )


def test_unknown_app_keys_are_kept_and_written_back() -> None:
    data = APP_NODE_3_0 + b"futureKey: kept\n"

    app = AppConfig.from_document(codec.decode(data, APP_PATH))

    assert app.extra == {"futureKey": "kept"}
    assert codec.decode(codec.encode(app.to_document()), APP_PATH)["futureKey"] == "kept"


def test_an_app_node_missing_a_required_key_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="unreadable"):
        AppConfig.from_document({"appName": "test_app", "bootstrapScript": "bin/start.sh"})


# --- 3.0 job nodes -------------------------------------------------------------------------------


def test_the_3_0_job_node_example_is_read() -> None:
    job = JobConfig.from_document(codec.decode(JOB_NODE_3_0, JOB_PATH))

    assert job.job_name == "test_job"
    assert job.app_name == "test_app"
    assert (job.cpu_count, job.memory_mb) == (1.0, 128.0)
    assert job.job_execution_type is JobExecutionType.TRANSIENT
    assert job.cron == "0/30 * * * * ?"
    assert job.sharding_total_count == 10
    assert (job.failover, job.misfire) == (True, True)
    assert (job.description, job.job_parameter, job.sharding_item_parameters) == ("", "", "")
    assert job.job_executor_service_handler_type is ExecutorServiceHandlerType.CPU
    assert job.job_error_handler_type is ErrorHandlerType.LOG
    assert job.props == {}


def test_the_lite_only_keys_of_a_3_0_job_node_are_kept_in_extra() -> None:
    job = JobConfig.from_document(codec.decode(JOB_NODE_3_0, JOB_PATH))

    assert job.extra == LITE_ONLY_KEYS


def test_the_lite_only_keys_are_written_back() -> None:
    job = JobConfig.from_document(codec.decode(JOB_NODE_3_0, JOB_PATH))

    written = codec.decode(codec.encode(job.to_document()), JOB_PATH)

    assert {key: written[key] for key in LITE_ONLY_KEYS} == LITE_ONLY_KEYS


def test_a_3_0_job_node_is_written_back_with_every_line_kept_and_only_the_handler_types_added() -> None:
    job = JobConfig.from_document(codec.decode(JOB_NODE_3_0, JOB_PATH))

    written = codec.encode(job.to_document()).decode().splitlines()

    expected = sorted(
        [
            *JOB_NODE_3_0.decode().splitlines(),
            "jobErrorHandlerType: LOG",
            "jobExecutorServiceHandlerType: CPU",
        ]
    )
    assert written == expected


def test_a_changed_job_keeps_the_lite_only_keys_of_its_stored_node() -> None:
    stored = JobConfig.from_document(codec.decode(JOB_NODE_3_0, JOB_PATH))
    changed = make_job(cron="0/5 * * * * ?", extra=stored.extra)

    document = changed.to_document()

    assert document["cron"] == "0/5 * * * * ?"
    assert {key: document[key] for key in LITE_ONLY_KEYS} == LITE_ONLY_KEYS


def test_a_job_without_cron_is_written_without_a_cron_key() -> None:
    assert "cron" not in make_job(cron="").to_document()


def test_a_job_without_props_is_written_without_a_props_key() -> None:
    assert "props" not in make_job().to_document()


def test_job_props_are_written_and_read_back() -> None:
    job = make_job(props={"b": "2", "a": "x: y"})

    read = JobConfig.from_document(codec.decode(codec.encode(job.to_document()), JOB_PATH))

    assert read.props == {"a": "x: y", "b": "2"}


def test_handler_types_stored_in_a_node_are_read() -> None:
    data = JOB_NODE_3_0 + b"jobExecutorServiceHandlerType: SINGLE_THREAD\njobErrorHandlerType: THROW\n"

    job = JobConfig.from_document(codec.decode(data, JOB_PATH))

    assert job.job_executor_service_handler_type is ExecutorServiceHandlerType.SINGLE_THREAD
    assert job.job_error_handler_type is ErrorHandlerType.THROW


def test_a_job_survives_a_write_and_a_read_unchanged() -> None:
    job = make_job(
        job_execution_type=JobExecutionType.DAEMON,
        cron="0 0 12 ? * MON-FRI",
        sharding_item_parameters="0=a,2=c",
        job_parameter="param",
        failover=True,
        job_executor_service_handler_type=ExecutorServiceHandlerType.SINGLE_THREAD,
        job_error_handler_type=ErrorHandlerType.IGNORE,
        description="Ünïcode description",
        props={"k": "v"},
    )

    assert JobConfig.from_document(codec.decode(codec.encode(job.to_document()), JOB_PATH)) == job


def test_a_job_node_missing_a_required_key_is_refused() -> None:
    document = codec.decode(JOB_NODE_3_0, JOB_PATH)
    del document["shardingTotalCount"]

    with pytest.raises(InvalidArgument, match="unreadable"):
        JobConfig.from_document(document)


# --- 2.x JSON nodes ------------------------------------------------------------------------------


def test_a_2_x_json_app_node_is_read() -> None:
    data = json.dumps(
        {
            "appName": "test_app",
            "appURL": "http://localhost/app.jar",
            "bootstrapScript": "bin/start.sh",
            "cpuCount": 1,
            "memoryMB": 128,
            "appCacheEnable": False,
            "eventTraceSamplingCount": 3,
        }
    ).encode()

    app = AppConfig.from_document(codec.decode(data, APP_PATH))

    assert app == AppConfig(
        app_name="test_app",
        app_url="http://localhost/app.jar",
        bootstrap_script="bin/start.sh",
        cpu_count=1.0,
        memory_mb=128.0,
        app_cache_enable=False,
        event_trace_sampling_count=3,
    )


def test_a_2_x_json_job_node_is_read_and_its_unmodelled_keys_kept() -> None:
    data = json.dumps(
        {
            "jobName": "test_job",
            "jobClass": "com.example.MyJob",
            "jobType": "SIMPLE",
            "cron": "0/30 * * * * ?",
            "shardingTotalCount": 10,
            "shardingItemParameters": "",
            "jobParameter": "",
            "failover": True,
            "misfire": False,
            "description": "",
            "appName": "test_app",
            "cpuCount": 0.5,
            "memoryMB": 64.0,
            "jobExecutionType": "TRANSIENT",
        },
        indent=2,
    ).encode()

    job = JobConfig.from_document(codec.decode(data, JOB_PATH))

    assert (job.job_name, job.cron, job.sharding_total_count, job.cpu_count) == (
        "test_job",
        "0/30 * * * * ?",
        10,
        0.5,
    )
    assert job.extra == {"jobClass": "com.example.MyJob", "jobType": "SIMPLE"}


def test_json_with_surrounding_whitespace_is_read() -> None:
    assert codec.decode(b'\n  {"appName": "test_app"}  \n', APP_PATH) == {"appName": "test_app"}


# --- the YAML itself -----------------------------------------------------------------------------


def test_keys_are_written_in_alphabetical_order() -> None:
    assert codec.encode({"b": 1, "a": 2, "C": 3}) == b"C: 3\na: 2\nb: 1\n"


def test_empty_strings_are_written_as_two_single_quotes() -> None:
    assert codec.encode({"description": ""}) == b"description: ''\n"


def test_a_quartz_cron_is_written_unquoted() -> None:
    assert codec.encode({"cron": "0/30 * * * * ?"}) == b"cron: 0/30 * * * * ?\n"


def test_non_ascii_text_is_written_as_utf_8() -> None:
    data = codec.encode({"description": "任务 ü"})

    assert data == "description: 任务 ü\n".encode()
    assert codec.decode(data, JOB_PATH) == {"description": "任务 ü"}


@pytest.mark.parametrize(
    "name", ["123", "1_000", "1.10", "0755", "0x1A", "on", "no", "true", "null", "2020-01-01"]
)
def test_names_yaml_would_read_as_numbers_booleans_or_dates_stay_strings(name: str) -> None:
    app = AppConfig(app_name=name, app_url="http://localhost/app.jar", bootstrap_script="bin/start.sh")

    assert AppConfig.from_document(codec.decode(codec.encode(app.to_document()), APP_PATH)).app_name == name


# --- unreadable nodes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"- a\n- b\n", b"[1, 2]", b"just a string", b"42", b"null"],
    ids=["empty", "blank", "yaml-list", "json-list", "scalar", "number", "null"],
)
def test_a_node_that_is_not_a_mapping_is_unreadable(data: bytes) -> None:
    with pytest.raises(codec.UnreadableNode, match="not a mapping"):
        codec.decode(data, APP_PATH)


@pytest.mark.parametrize(
    "data",
    [b"{not json", b'{"appName": }', b"key: [unclosed", b"a: b: c"],
    ids=["json", "json2", "yaml", "yaml2"],
)
def test_a_node_that_does_not_parse_is_unreadable(data: bytes) -> None:
    with pytest.raises(codec.UnreadableNode):
        codec.decode(data, APP_PATH)


def test_an_unreadable_node_error_names_the_path() -> None:
    with pytest.raises(codec.UnreadableNode, match=APP_PATH):
        codec.decode(b"- a\n", APP_PATH)
