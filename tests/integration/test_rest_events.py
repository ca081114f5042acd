"""``GET /api/job/events/executions`` and ``/statusTraces`` through a real Envoy, on SQLite and on
a real PostgreSQL.

ElasticJob-Cloud 3.0's ``CloudJobRestfulApi`` (``findJobExecutionEvents``,
``findJobStatusTraceEvents``) is the reference for the parameters (``per_page``, ``page``,
``sort``, ``order``, ``startTime`` / ``endTime`` as ``yyyy-MM-dd HH:mm:ss``, the equality filters)
and the ``{"total", "rows"}`` answer with its row fields; where 3.0 answered 500 on a bad time or
logged SQL errors as empty results, we answer 400 naming the parameter and 503.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devstack.stack import ZooKeeperServer, free_port
from server.domain.trace import ExecutionEvent, StatusSource, StatusTrace
from server.trace.store import TraceStore
from testkit.harness import Stack, running_stack
from testkit.postgres import trace_database_url

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
EXECUTION_FIELDS = {
    "id", "hostname", "ip", "taskId", "jobName", "source", "shardingItem", "startTime", "completeTime",
    "success", "failureCause",
}  # fmt: skip
TRACE_FIELDS = {
    "id", "jobName", "originalTaskId", "taskId", "slaveId", "source", "executionType", "shardingItems",
    "state", "message", "creationTime",
}  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def traced(
    request: pytest.FixtureRequest, zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("events")
    url = trace_database_url(request, request.param, work)
    with running_stack(zk_server.connect_string, work, event_trace_rdb_url=url, timezone="UTC") as stack:
        _fill(_store(stack))
        yield stack


def _store(stack: Stack) -> TraceStore:
    assert stack.server.tracing is not None
    return stack.server.tracing.store


def _fill(store: TraceStore) -> None:
    runs: list[ExecutionEvent] = []
    traces: list[StatusTrace] = []
    for n in range(15):
        job = "rest_job_a" if n < 10 else "rest_job_b"
        task = f"{job}@-@{n % 3}@-@READY@-@agent-1@-@{n:04d}"
        started = T0 + timedelta(minutes=n)
        runs.append(
            ExecutionEvent(
                id=f"run-{n:02d}", job_name=job, task_id=task, hostname="host-1", ip=f"10.0.0.{n % 2}",
                sharding_item=n % 3, start_time=started,
                complete_time=started + timedelta(seconds=5) if n != 14 else None,
                is_success=None if n == 14 else n % 4 != 0,
                failure_cause="exit code 3" if n % 4 == 0 and n != 14 else None,
            )
        )  # fmt: skip
        traces.append(
            StatusTrace(
                id=f"trace-{n:02d}-a", job_name=job, task_id=task, slave_id="agent-1", state="TASK_STAGING",
                sharding_items=(n % 3,), creation_time=started,
            )
        )  # fmt: skip
        traces.append(
            StatusTrace(
                id=f"trace-{n:02d}-b", job_name=job, task_id=task, slave_id="agent-1",
                source=StatusSource.CLOUD_EXECUTOR, state="TASK_FAILED" if n == 3 else "TASK_FINISHED",
                message="fetch failed: 404" if n == 3 else "", sharding_items=(n % 3,),
                creation_time=started + timedelta(seconds=5),
            )
        )  # fmt: skip
    store.write(traces, runs)


def get(stack: Stack, token: str, path: str, **params: str) -> tuple[int, object]:
    with stack.rest(token) as client:
        response = client.get(path, params=params)
    return response.status_code, response.json()


def test_executions_answer_total_and_rows_with_3_0s_fields(traced: Stack, token: str) -> None:
    status, body = get(traced, token, "/api/job/events/executions")
    assert status == 200
    assert isinstance(body, dict) and body["total"] == 15
    assert len(body["rows"]) == 10  # per_page defaults to 10
    first = body["rows"][0]
    assert set(first) == EXECUTION_FIELDS
    assert first == {
        "id": "run-00",
        "hostname": "host-1",
        "ip": "10.0.0.0",
        "taskId": "rest_job_a@-@0@-@READY@-@agent-1@-@0000",
        "jobName": "rest_job_a",
        "source": "NORMAL_TRIGGER",
        "shardingItem": 0,
        "startTime": "2026-05-01T12:00:00.000Z",
        "completeTime": "2026-05-01T12:00:05.000Z",
        "success": False,
        "failureCause": "exit code 3",
    }
    status, body = get(
        traced, token, "/api/job/events/executions", taskId="rest_job_b@-@2@-@READY@-@agent-1@-@0014"
    )
    assert isinstance(body, dict)
    (running,) = body["rows"]
    assert running["completeTime"] is None and running["failureCause"] is None and running["success"] is False


@pytest.mark.parametrize(
    ("params", "expected_ids"),
    [
        ({"jobName": "rest_job_b"}, ["run-10", "run-11", "run-12", "run-13", "run-14"]),
        ({"jobName": "rest_job_a", "isSuccess": "false"}, ["run-00", "run-04", "run-08"]),
        ({"isSuccess": "0", "ip": "10.0.0.0"}, ["run-00", "run-04", "run-08", "run-12", "run-14"]),
        ({"ip": "10.0.0.1", "per_page": "3", "page": "2"}, ["run-07", "run-09", "run-11"]),
        ({"sort": "startTime", "order": "desc", "per_page": "2"}, ["run-14", "run-13"]),
        ({"sort": "start_time", "order": "DESC", "per_page": "2", "page": "8"}, ["run-00"]),
        (
            {"startTime": "2026-05-01 12:03:00", "endTime": "2026-05-01 12:05:00"},
            ["run-03", "run-04", "run-05"],
        ),
        (
            {"sort": "shardingItem", "jobName": "rest_job_b"},
            ["run-12", "run-10", "run-13", "run-11", "run-14"],
        ),
    ],
)
def test_executions_filter_sort_window_and_page(
    traced: Stack, token: str, params: dict[str, str], expected_ids: list[str]
) -> None:
    status, body = get(traced, token, "/api/job/events/executions", **params)
    assert status == 200, body
    assert isinstance(body, dict)
    assert [row["id"] for row in body["rows"]] == expected_ids


def test_status_traces_answer_3_0s_fields_and_filters(traced: Stack, token: str) -> None:
    status, body = get(traced, token, "/api/job/events/statusTraces", state="TASK_FAILED")
    assert status == 200 and isinstance(body, dict)
    assert body["total"] == 1
    (row,) = body["rows"]
    assert set(row) == TRACE_FIELDS
    assert row["message"] == "fetch failed: 404"
    assert row["originalTaskId"] == row["taskId"]  # filled from the staging row
    assert row["shardingItems"] == "[0]"
    assert row["creationTime"] == "2026-05-01T12:03:05.000Z"

    for params, total in [
        ({"jobName": "rest_job_b"}, 10),
        ({"source": "CLOUD_EXECUTOR"}, 15),
        ({"slaveId": "agent-1", "state": "TASK_STAGING"}, 15),
        ({"executionType": "FAILOVER"}, 0),
        ({"taskId": "rest_job_a@-@1@-@READY@-@agent-1@-@0001"}, 2),
        ({"startTime": "2026-05-01 12:14:00"}, 2),
    ]:
        status, body = get(traced, token, "/api/job/events/statusTraces", **params)
        assert status == 200 and isinstance(body, dict)
        assert body["total"] == total, params
    status, body = get(
        traced, token, "/api/job/events/statusTraces", sort="creationTime", order="desc", per_page="1"
    )
    assert isinstance(body, dict) and body["rows"][0]["id"] == "trace-14-b"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("executions", {"per_page": "ten"}, "per_page"),
        ("executions", {"per_page": "0"}, "per_page"),
        ("executions", {"per_page": "100000"}, "per_page"),
        ("executions", {"page": "-1"}, "page"),
        ("executions", {"sort": "nonsense"}, "sort"),
        ("executions", {"startTime": "yesterday"}, "startTime"),
        ("executions", {"endTime": "2026-13-01 00:00:00"}, "endTime"),
        ("executions", {"startTime": "2026-05-02 00:00:00", "endTime": "2026-05-01 00:00:00"}, "endTime"),
        ("executions", {"isSuccess": "maybe"}, "isSuccess"),
        ("statusTraces", {"state": "TASK_NOPE"}, "state"),
        ("statusTraces", {"source": "ME"}, "source"),
        ("statusTraces", {"executionType": "DAEMON"}, "executionType"),
        ("statusTraces", {"sort": "failureCause"}, "sort"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    traced: Stack, token: str, path: str, params: dict[str, str], field: str
) -> None:
    status, body = get(traced, token, f"/api/job/events/{path}", **params)
    assert status == 400
    assert isinstance(body, dict) and body["code"] == 3
    assert field in body["message"]


def test_history_needs_a_token(traced: Stack) -> None:
    with traced.rest() as client:
        assert client.get("/api/job/events/executions").status_code == 401


def test_with_tracing_off_the_lists_are_empty(stack: Stack, token: str) -> None:
    for path in ("/api/job/events/executions", "/api/job/events/statusTraces"):
        status, body = get(stack, token, path, jobName="anything")
        assert (status, body) == (200, {"total": 0, "rows": []})
    # Parameters are still checked.
    assert get(stack, token, "/api/job/events/executions", per_page="x")[0] == 400


def test_an_unreachable_store_is_a_503(zk_server: ZooKeeperServer, tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    with running_stack(zk_server.connect_string, tmp_path, event_trace_rdb_url=url) as stack:
        token = stack.login()
        status, body = get(stack, token, "/api/job/events/executions")
        assert status == 503
        assert isinstance(body, dict) and body["code"] == 14 and "trace store" in body["message"]
        assert get(stack, token, "/api/job/events/executions", page="x")[0] == 400


def test_events_handed_to_the_sink_are_listed(traced: Stack, token: str) -> None:
    assert traced.server.tracing is not None
    sink = traced.server.tracing.sink
    task = "rest_job_sink@-@0@-@READY@-@agent-9@-@abcd"
    at = datetime.now(UTC).replace(microsecond=0)
    sink.status(
        StatusTrace(
            id="sink-trace-1", job_name="rest_job_sink", task_id=task, state="TASK_STAGING", creation_time=at
        )
    )
    sink.status(
        StatusTrace(
            id="sink-trace-2", job_name="rest_job_sink", task_id=task, state="TASK_FAILED",
            message="Failed to fetch http://app_host/missing.tar.gz", creation_time=at + timedelta(seconds=1),
        )
    )  # fmt: skip
    sink.execution(
        ExecutionEvent(id="sink-run", job_name="rest_job_sink", task_id=task, sharding_item=0, start_time=at)
    )
    sink.execution(
        ExecutionEvent(
            id="sink-run", job_name="rest_job_sink", task_id=task, sharding_item=0, start_time=at,
            complete_time=at + timedelta(seconds=2), is_success=False, failure_cause="exit code 3",
        )
    )  # fmt: skip
    assert sink.flush(10)
    _, runs = get(traced, token, "/api/job/events/executions", jobName="rest_job_sink")
    assert isinstance(runs, dict) and runs["total"] == 1
    assert (runs["rows"][0]["success"], runs["rows"][0]["failureCause"]) == (False, "exit code 3")
    _, traces = get(
        traced, token, "/api/job/events/statusTraces", jobName="rest_job_sink", state="TASK_FAILED"
    )
    assert isinstance(traces, dict)
    assert (
        traces["rows"][0]["message"].startswith("Failed to fetch")
        and traces["rows"][0]["originalTaskId"] == task
    )
