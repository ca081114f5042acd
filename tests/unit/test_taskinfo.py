"""Specification of the Mesos v1 ``TaskInfo`` JSON built for a placement (``server.scheduler.taskinfo``)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from server.domain.app import AppConfig
from server.domain.job import ErrorHandlerType, ExecutorServiceHandlerType, JobConfig, JobExecutionType
from server.domain.task import ExecutionType, TaskId
from server.scheduler.matching import Placement
from server.scheduler.offers import Offer
from server.scheduler.taskinfo import (
    executor_file_name,
    executor_info,
    executor_version,
    fetched_executor_command,
    is_archive,
    launch_operations,
    task_info,
)

FRAMEWORK_ID = "f0e1d2c3-0000-0000-0000-000000000000-0000"
AGENT = "a1b2c3d4-0000-0000-0000-000000000000-S3"
COMMAND = "python -m server.executor"
EXECUTOR_URI = "http://repo.test/executors/elasticjob-executor.pyz"
ALLOCATION = {"role": "elasticjob"}


def app(url: str = "http://repo.test/releases/app-1.0.tar.gz", **fields: Any) -> AppConfig:
    values: dict[str, Any] = {
        "app_name": "my_app",
        "app_url": url,
        "bootstrap_script": "bin/start.sh",
        "cpu_count": 0.5,
        "memory_mb": 64.0,
        "event_trace_sampling_count": 3,
    }
    values.update(fields)
    return AppConfig(**values)


def job(**fields: Any) -> JobConfig:
    values: dict[str, Any] = {
        "job_name": "my_job",
        "app_name": "my_app",
        "cpu_count": 0.25,
        "memory_mb": 48.0,
        "job_execution_type": JobExecutionType.TRANSIENT,
        "sharding_total_count": 3,
        "cron": "0/10 * * * * ?",
        "sharding_item_parameters": "0=Beijing,1=Shanghai,2=Guangzhou",
        "job_parameter": "batch=7",
        "failover": True,
        "misfire": True,
        "job_executor_service_handler_type": ExecutorServiceHandlerType.SINGLE_THREAD,
        "job_error_handler_type": ErrorHandlerType.THROW,
        "props": {"a": "1"},
    }
    values.update(fields)
    return JobConfig(**values)


def offer(allocation_info: dict[str, str] | None = ALLOCATION, role: str = "elasticjob") -> Offer:
    return Offer(
        offer_id="offer-1",
        agent_id=AGENT,
        hostname="agent.test",
        cpus=8,
        mem=8192,
        executor_ids=frozenset(),
        role=role,
        allocation_info=allocation_info,
    )


def placement(
    item: int = 1,
    execution_type: ExecutionType = ExecutionType.READY,
    the_app: AppConfig | None = None,
    the_job: JobConfig | None = None,
) -> Placement:
    return Placement(
        task_id=TaskId("my_job", item, execution_type, AGENT, "uuid-1"),
        offer_ids=("offer-1",),
        job=the_job or job(),
        app=the_app or app(),
        starts_executor=True,
        executor_id=f"{(the_app or app()).app_name}@-@{AGENT}",
    )


def build(p: Placement | None = None, the_offer: Offer | None = None, **kwargs: Any) -> dict[str, Any]:
    return task_info(p or placement(), the_offer or offer(), FRAMEWORK_ID, COMMAND, **kwargs)


def data_of(task: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(task["data"], validate=True)))


def test_the_task_names_its_shard_task_id_and_agent() -> None:
    task = build()
    assert task["name"] == "my_job@-@1"
    assert task["task_id"] == {"value": f"my_job@-@1@-@READY@-@{AGENT}@-@uuid-1"}
    assert task["agent_id"] == {"value": AGENT}
    assert "command" not in task  # exactly one of command / executor: ours is a custom executor


def test_task_resources_are_the_jobs_and_carry_the_offers_allocation_info() -> None:
    assert build()["resources"] == [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.25}, "allocation_info": ALLOCATION},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 48.0}, "allocation_info": ALLOCATION},
    ]


def test_without_allocation_info_resources_name_the_offers_role() -> None:
    resources = build(the_offer=offer(allocation_info=None, role="*"))["resources"]
    assert [r["role"] for r in resources] == ["*", "*"]
    assert all("allocation_info" not in r for r in resources)


def test_the_executor_is_the_apps_on_the_agent_with_the_apps_resources() -> None:
    executor = build()["executor"]
    assert executor["executor_id"] == {"value": f"my_app@-@{AGENT}"}
    assert executor["framework_id"] == {"value": FRAMEWORK_ID}
    assert executor["type"] == "CUSTOM"
    assert executor["command"]["value"] == COMMAND
    assert executor["command"]["shell"] is True
    assert executor["resources"] == [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}, "allocation_info": ALLOCATION},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}, "allocation_info": ALLOCATION},
    ]


def test_the_executor_environment_names_the_app_and_adds_the_configured_variables() -> None:
    executor = build(extra_env={"ZK": "zk:2181", "A_FIRST": "1"})["executor"]
    assert executor["command"]["environment"]["variables"] == [
        {"name": "ELASTICJOB_APP_NAME", "value": "my_app"},
        {"name": "A_FIRST", "value": "1"},
        {"name": "ZK", "value": "zk:2181"},
    ]


def test_every_task_of_an_app_on_an_agent_carries_the_same_executor_info() -> None:
    # Mesos refuses a task whose ExecutorInfo differs from the running executor's.
    other_job = job(job_name="other_job", cpu_count=1.0, job_parameter="x", sharding_item_parameters="")
    infos = [
        build(placement(0))["executor"],
        build(placement(2, ExecutionType.FAILOVER))["executor"],
        build(placement(0, the_job=other_job))["executor"],
    ]
    assert infos[0] == infos[1] == infos[2]


@pytest.mark.parametrize(
    "url",
    [
        "http://repo.test/app.tar.gz",
        "http://repo.test/app.tgz",
        "http://repo.test/app.tar",
        "http://repo.test/app.tar.bz2",
        "http://repo.test/app.tbz2",
        "http://repo.test/app.tar.xz",
        "http://repo.test/app.txz",
        "http://repo.test/app.zip",
        "http://repo.test/app.gz",
        "https://repo.test/APP.ZIP",
        "http://repo.test/app.tar.gz?token=abc",
        "file:///srv/apps/app.tar.gz",
    ],
)
def test_an_archive_is_fetched_to_be_extracted(url: str) -> None:
    assert is_archive(url)
    uris = build(placement(the_app=app(url)))["executor"]["command"]["uris"]
    assert uris == [{"value": url, "cache": True, "extract": True, "executable": False}]


@pytest.mark.parametrize(
    "url",
    [
        "http://repo.test/bin/run.sh",
        "http://repo.test/run",
        "http://repo.test/tar.gz/run.py",  # the suffix of a directory does not count
        "http://repo.test/run.sh?name=app.tar.gz",  # nor one in the query
    ],
)
def test_a_single_script_is_fetched_to_be_executable(url: str) -> None:
    assert not is_archive(url)
    uris = build(placement(the_app=app(url)))["executor"]["command"]["uris"]
    assert uris == [{"value": url, "cache": True, "extract": False, "executable": True}]


def test_the_fetch_cache_follows_app_cache_enable() -> None:
    uris = build(placement(the_app=app(app_cache_enable=False)))["executor"]["command"]["uris"]
    assert uris[0]["cache"] is False


def test_data_is_the_sharding_context_as_json() -> None:
    context = data_of(build())
    assert context == {
        "taskId": f"my_job@-@1@-@READY@-@{AGENT}@-@uuid-1",
        "jobName": "my_job",
        "shardingItem": 1,
        "shardingTotalCount": 3,
        "shardingItemParameter": "Shanghai",
        "jobParameter": "batch=7",
        "executionType": "READY",
        "jobExecutionType": "TRANSIENT",
        "cron": "0/10 * * * * ?",
        "misfire": True,
        "failover": True,
        "jobExecutorServiceHandlerType": "SINGLE_THREAD",
        "jobErrorHandlerType": "THROW",
        "props": {"a": "1"},
        "bootstrapScript": "bin/start.sh",
        "eventTraceSamplingCount": 3,
        "environment": {
            "ELASTICJOB_JOB_NAME": "my_job",
            "ELASTICJOB_TASK_ID": f"my_job@-@1@-@READY@-@{AGENT}@-@uuid-1",
            "ELASTICJOB_SHARDING_ITEM": "1",
            "ELASTICJOB_SHARDING_TOTAL_COUNT": "3",
            "ELASTICJOB_SHARDING_PARAMETER": "Shanghai",
            "ELASTICJOB_JOB_PARAMETER": "batch=7",
        },
    }


def test_data_of_a_failover_task_of_a_shard_without_parameter() -> None:
    the_job = job(sharding_item_parameters="0=only", job_parameter="", props={})
    context = data_of(build(placement(2, ExecutionType.FAILOVER, the_job=the_job)))
    assert context["executionType"] == "FAILOVER"
    assert context["shardingItemParameter"] == ""
    assert context["environment"]["ELASTICJOB_SHARDING_PARAMETER"] == ""
    assert context["environment"]["ELASTICJOB_JOB_PARAMETER"] == ""
    assert context["props"] == {}


def test_data_keeps_non_ascii_parameters_intact() -> None:
    the_job = job(sharding_item_parameters="0=北京,1=Zürich,2=x", job_parameter="名前")
    context = data_of(build(placement(1, the_job=the_job)))
    assert context["shardingItemParameter"] == "Zürich"
    assert context["environment"]["ELASTICJOB_JOB_PARAMETER"] == "名前"


def test_launch_operations_are_one_launch_per_shard_in_order() -> None:
    placements = [placement(item) for item in range(3)]
    operations = launch_operations(placements, offer(), FRAMEWORK_ID, COMMAND)
    assert [op["type"] for op in operations] == ["LAUNCH"] * 3
    assert [len(op["launch"]["task_infos"]) for op in operations] == [1, 1, 1]
    assert [op["launch"]["task_infos"][0]["name"] for op in operations] == [
        "my_job@-@0",
        "my_job@-@1",
        "my_job@-@2",
    ]


def test_the_task_info_is_plain_json() -> None:
    task = build(extra_env={"K": "v"})
    assert json.loads(json.dumps(task)) == task


def test_launch_operations_give_every_task_of_an_executor_the_same_executor_info_as_alone() -> None:
    placements = [placement(item) for item in range(3)]
    operations = launch_operations(placements, offer(), FRAMEWORK_ID, COMMAND, {"K": "v"})
    tasks = [op["launch"]["task_infos"][0] for op in operations]

    assert tasks == [build(p, extra_env={"K": "v"}) for p in placements]


def test_without_an_executor_uri_only_the_app_is_fetched() -> None:
    executor = build()["executor"]
    assert executor["command"]["uris"] == [
        {
            "value": "http://repo.test/releases/app-1.0.tar.gz",
            "cache": True,
            "extract": True,
            "executable": False,
        }
    ]
    assert executor["command"]["value"] == COMMAND


def test_an_executor_uri_is_fetched_after_the_app_cached_as_a_plain_file() -> None:
    command = fetched_executor_command(EXECUTOR_URI)
    executor = task_info(placement(), offer(), FRAMEWORK_ID, command, executor_uri=EXECUTOR_URI)["executor"]
    assert executor["command"]["uris"] == [
        {
            "value": "http://repo.test/releases/app-1.0.tar.gz",
            "cache": True,
            "extract": True,
            "executable": False,
        },
        {
            "value": EXECUTOR_URI,
            "cache": True,
            "extract": False,
            "executable": False,
            "output_file": "elasticjob-executor.pyz",
        },
    ]
    assert executor["command"]["value"] == "python3 -I -S elasticjob-executor.pyz"
    assert executor["command"]["shell"] is True


def test_the_executor_is_cached_even_when_the_app_is_not() -> None:
    the_app = app("http://repo.test/bin/run.sh", app_cache_enable=False)
    uris = task_info(placement(the_app=the_app), offer(), FRAMEWORK_ID, COMMAND, executor_uri=EXECUTOR_URI)[
        "executor"
    ]["command"]["uris"]
    assert [(uri["value"], uri["cache"]) for uri in uris] == [
        ("http://repo.test/bin/run.sh", False),
        (EXECUTOR_URI, True),
    ]


def test_launch_operations_give_every_executor_the_executor_uri() -> None:
    other_app = app(app_name="other_app")
    placements = [placement(0), placement(1), placement(2, the_app=other_app)]
    operations = launch_operations(placements, offer(), FRAMEWORK_ID, COMMAND, executor_uri=EXECUTOR_URI)
    tasks = [op["launch"]["task_infos"][0] for op in operations]

    assert tasks == [build(p, executor_uri=EXECUTOR_URI) for p in placements]
    assert all(task["executor"]["command"]["uris"][-1]["value"] == EXECUTOR_URI for task in tasks)
    assert len({task["executor"]["executor_id"]["value"] for task in tasks}) == 2


@pytest.mark.parametrize(
    ("uri", "name", "command"),
    [
        (EXECUTOR_URI, "elasticjob-executor.pyz", "python3 -I -S elasticjob-executor.pyz"),
        (
            "file:///opt/dist/elasticjob-executor.pyz",
            "elasticjob-executor.pyz",
            "python3 -I -S elasticjob-executor.pyz",
        ),
        ("/opt/dist/executor-0.1.pyz", "executor-0.1.pyz", "python3 -I -S executor-0.1.pyz"),
        (
            "https://s3.test/b/executor.pyz?X-Amz-Signature=a/b&x=1",
            "executor.pyz",
            "python3 -I -S executor.pyz",
        ),
        ("http://repo.test/my%20executor.pyz", "my executor.pyz", "python3 -I -S 'my executor.pyz'"),
        ("http://repo.test/$(reboot).pyz", "$(reboot).pyz", "python3 -I -S '$(reboot).pyz'"),
        ("http://repo.test/-c.pyz", "-c.pyz", "python3 -I -S ./-c.pyz"),  # a file, not an option
    ],
)
def test_the_executor_command_runs_the_fetched_file_with_python3(uri: str, name: str, command: str) -> None:
    assert executor_file_name(uri) == name
    assert fetched_executor_command(uri) == command


@pytest.mark.parametrize("uri", ["http://repo.test/", "http://repo.test", "file:///opt/dist/..", ""])
def test_an_executor_uri_naming_no_file_is_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="names no file"):
        executor_file_name(uri)


@pytest.mark.parametrize(
    ("change", "changes_executor"),
    [
        ({"cpu_count": 0.75}, True),
        ({"memory_mb": 96.0}, True),
        ({"app_url": "http://repo.test/releases/app-1.1.tar.gz"}, True),
        ({"app_cache_enable": False}, True),
        ({"bootstrap_script": "bin/other.sh"}, False),  # in each task's data, not the ExecutorInfo
        ({"event_trace_sampling_count": 5}, False),
    ],
)
def test_the_executor_version_changes_exactly_when_the_executor_info_does(
    change: dict[str, Any], changes_executor: bool
) -> None:
    before, after = app(), app().with_changes(change)

    def info(the_app: AppConfig) -> dict[str, Any]:
        return executor_info(the_app, offer(), FRAMEWORK_ID, COMMAND, {"TZ": "UTC"}, "id", EXECUTOR_URI)

    assert (info(before) != info(after)) is changes_executor
    versions = [executor_version(a, COMMAND, {"TZ": "UTC"}, EXECUTOR_URI) for a in (before, after)]
    assert (versions[0] != versions[1]) is changes_executor


def test_the_executor_version_covers_the_schedulers_executor_settings_and_is_stable() -> None:
    base = executor_version(app(), COMMAND, {"TZ": "UTC"}, EXECUTOR_URI)
    assert base == executor_version(app(), COMMAND, {"TZ": "UTC"}, EXECUTOR_URI)
    assert len(base) == 10 and all(c in "0123456789abcdef" for c in base)
    assert base != executor_version(app(), "python3 other.pyz", {"TZ": "UTC"}, EXECUTOR_URI)
    assert base != executor_version(app(), COMMAND, {"TZ": "Europe/Berlin"}, EXECUTOR_URI)
    assert base != executor_version(app(), COMMAND, {"TZ": "UTC"}, "http://repo.test/executor-2.pyz")
