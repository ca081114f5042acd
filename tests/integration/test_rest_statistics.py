"""``/api/job/statistics/...`` through a real Envoy, rows filled by the aggregator.

ElasticJob-Cloud 3.0's ``CloudOperationRestfulApi`` / ``StatisticsRestfulApi`` is the reference
for the routes and the answers: bare JSON arrays of rows for the lists, a result object for
``tasks/results/{period}`` (zeros with ``statisticInterval`` DAY for an unknown period),
``{"transientJobCount", "daemonJobCount"}`` from the registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from devstack.stack import ZooKeeperServer
from server.domain.trace import ExecutionEvent
from server.wiring import Tracing
from testkit.harness import Stack, running_stack, unique_name

pytestmark = pytest.mark.integration

RESULT_FIELDS = {"id", "successCount", "failedCount", "statisticInterval", "statisticsTime", "creationTime"}


@pytest.fixture(scope="module")
def traced(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("statistics")
    with running_stack(
        zk_server.connect_string, work, event_trace_rdb_url=f"sqlite:///{work / 'trace.db'}"
    ) as stack:
        yield stack


def tracing(stack: Stack) -> Tracing:
    assert stack.server.tracing is not None
    return stack.server.tracing


def get(stack: Stack, token: str, path: str, **params: str) -> object:
    with stack.rest(token) as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


@pytest.fixture(scope="module")
def filled(traced: Stack) -> datetime:
    now = datetime.now(UTC)
    ended = now.replace(second=0, microsecond=0) - timedelta(minutes=5)
    runs = [
        ExecutionEvent(
            id=f"stat-{n}", job_name="job", task_id=f"task-{n}", sharding_item=0,
            start_time=ended - timedelta(seconds=1), complete_time=ended + timedelta(seconds=n),
            is_success=n != 2, failure_cause="boom" if n == 2 else None,
        )
        for n in range(3)
    ]  # fmt: skip
    parts = tracing(traced)
    parts.store.write([], runs)
    parts.aggregator.aggregate(now)
    return ended


def test_task_results_of_the_last_24_hours_are_the_minute_rows(
    traced: Stack, token: str, filled: datetime
) -> None:
    rows = get(traced, token, "/api/job/statistics/tasks/results", since="last24hours")
    assert isinstance(rows, list) and rows
    assert set(rows[0]) == RESULT_FIELDS
    by_time = {row["statisticsTime"]: row for row in rows}
    minute = by_time[filled.isoformat(timespec="milliseconds").replace("+00:00", "Z")]
    assert (minute["successCount"], minute["failedCount"], minute["statisticInterval"]) == (2, 1, "MINUTE")
    assert get(traced, token, "/api/job/statistics/tasks/results", since="lastYear") == []


def test_task_results_of_a_period(traced: Stack, token: str, filled: datetime) -> None:
    last_minute = get(traced, token, "/api/job/statistics/tasks/results/lastMinute")
    assert isinstance(last_minute, dict) and set(last_minute) == RESULT_FIELDS
    assert last_minute["statisticInterval"] == "MINUTE" and last_minute["id"] > 0
    unknown = get(traced, token, "/api/job/statistics/tasks/results/sometime")
    assert isinstance(unknown, dict)
    assert (unknown["id"], unknown["successCount"], unknown["failedCount"], unknown["statisticInterval"]) == (
        0, 0, 0, "DAY",
    )  # fmt: skip
    for period in ("online", "lastWeek", "lastHour"):
        answer = get(traced, token, f"/api/job/statistics/tasks/results/{period}")
        assert isinstance(answer, dict) and set(answer) == RESULT_FIELDS


def test_running_and_register_counts(traced: Stack, token: str, filled: datetime) -> None:
    tasks = get(traced, token, "/api/job/statistics/tasks/running", since="lastWeek")
    jobs = get(traced, token, "/api/job/statistics/jobs/running", since="lastWeek")
    assert isinstance(tasks, list) and isinstance(jobs, list)
    assert set(tasks[-1]) == {"id", "runningCount", "statisticsTime", "creationTime"}
    assert tasks[-1]["runningCount"] == 0 and jobs[-1]["runningCount"] == 0
    assert get(traced, token, "/api/job/statistics/tasks/running", since="yesterday") == []
    register = get(traced, token, "/api/job/statistics/jobs/register")
    assert isinstance(register, list) and len(register) == 1
    assert set(register[0]) == {"id", "registeredCount", "statisticsTime", "creationTime"}
    assert register[0]["statisticsTime"].endswith("T00:00:00.000Z")


def test_jobs_by_execution_type_come_from_the_registry(traced: Stack, token: str) -> None:
    app = unique_name("app")
    with traced.rest(token) as client:
        published = client.post(
            "/api/app",
            json={
                "appName": app,
                "appURL": "http://app_host:8080/a.tar.gz",
                "bootstrapScript": "bin/start.sh",
            },
        )
        assert published.status_code == 200, published.text
        for execution_type, count in (("TRANSIENT", 2), ("DAEMON", 1)):
            for _ in range(count):
                body = {
                    "appName": app, "jobName": unique_name("job"), "cpuCount": 0.1, "memoryMB": 64.0,
                    "jobExecutionType": execution_type, "cron": "0/5 * * * * ?", "shardingTotalCount": 1,
                }  # fmt: skip
                assert client.post("/api/job/register", json=body).status_code == 200
    assert get(traced, token, "/api/job/statistics/jobs/executionType") == {
        "transientJobCount": 2,
        "daemonJobCount": 1,
    }


def test_without_a_store_statistics_are_empty_but_execution_types_answer(stack: Stack, token: str) -> None:
    assert get(stack, token, "/api/job/statistics/tasks/results", since="last24hours") == []
    assert get(stack, token, "/api/job/statistics/jobs/register") == []
    zero = get(stack, token, "/api/job/statistics/tasks/results/online")
    assert isinstance(zero, dict) and zero["successCount"] == 0 and zero["id"] == 0
    counts = get(stack, token, "/api/job/statistics/jobs/executionType")
    assert isinstance(counts, dict) and set(counts) == {"transientJobCount", "daemonJobCount"}
