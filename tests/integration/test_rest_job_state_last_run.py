"""The job state call's last run per shard, through a real Envoy to the real server, with the run
history in SQLite and in a real PostgreSQL, with tracing off, and with a history that does not
answer.

Each shard's ``lastRun`` is the shard's newest row of ElasticJob's ``JOB_EXECUTION_LOG`` (3.0's
``JobExecutionEvent``: id, task id, source, start and complete time, success, failure cause,
hostname, ip), so "did my job run, and did it succeed?" is one call. A last run is extra: with
tracing off it is absent, and a store that cannot be reached leaves it out with
``lastRunsUnavailable: true`` instead of failing the call (3.0 logged SQL errors and answered
without history; we say so in the answer).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient
from sqlalchemy import event

from devstack.stack import ZooKeeperServer, free_port
from server.domain.trace import ExecutionEvent, ExecutionSource
from server.trace.store import TraceStore
from testkit.e2e import System, running_system
from testkit.harness import Stack, running_stack, unique_name
from testkit.polling import eventually
from testkit.postgres import trace_database_url

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
LAST_RUN_FIELDS = {
    "id", "taskId", "source", "startTime", "completeTime", "success", "failureCause", "hostname", "ip",
}  # fmt: skip


def publish_app(client: httpx.Client) -> str:
    name = unique_name("app")
    body = {"appName": name, "appURL": "http://app_host/app.tar.gz", "bootstrapScript": "bin/start.sh"}
    assert client.post("/api/app", json=body).status_code == 200
    return name


def register_job(client: httpx.Client, sharding_total_count: int = 3) -> str:
    name = unique_name("job")
    body = {
        "appName": publish_app(client),
        "jobName": name,
        "cpuCount": 0.5,
        "memoryMB": 64,
        "jobExecutionType": "TRANSIENT",
        "shardingTotalCount": sharding_total_count,
    }
    response = client.post("/api/job/register", json=body)
    assert response.status_code == 200, response.text
    return name


def state_of(stack: Stack, token: str, job_name: str) -> dict[str, Any]:
    with stack.rest(token) as client:
        response = client.get(f"/api/job/{job_name}/state")
    assert response.status_code == 200, response.text
    value = response.json()
    assert isinstance(value, dict)
    return value


def task_id(job_name: str, item: int, n: int) -> str:
    return f"{job_name}@-@{item}@-@READY@-@agent-1@-@0b9e5e36-{n:04d}-4c5e-9d7f-1f2a3b4c5d6e"


def plant_running(zk: KazooClient, stack: Stack, job_name: str, item: int, task: str) -> None:
    """A running node as the scheduler writes it at launch (this stack runs no scheduler)."""
    zk.create(stack.paths.running_task(job_name, f"{job_name}@-@{item}"), task.encode(), makepath=True)


def run(job_name: str, item: int, n: int, *, minutes: int, **fields: Any) -> ExecutionEvent:
    started = T0 + timedelta(minutes=minutes)
    values: dict[str, Any] = {
        "complete_time": started + timedelta(seconds=5),
        "is_success": True,
        "hostname": "host-1",
        "ip": "10.0.0.1",
        **fields,
    }
    return ExecutionEvent(
        id=f"{job_name}-run-{n}", job_name=job_name, task_id=task_id(job_name, item, n), sharding_item=item,
        start_time=started, **values,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def traced(
    request: pytest.FixtureRequest, zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("last_runs")
    url = trace_database_url(request, request.param, work)
    with running_stack(zk_server.connect_string, work, event_trace_rdb_url=url, timezone="UTC") as stack:
        yield stack


@pytest.fixture(scope="module")
def traced_token(traced: Stack) -> str:
    return traced.login()


def _store(stack: Stack) -> TraceStore:
    assert stack.server.tracing is not None
    return stack.server.tracing.store


def test_each_shard_shows_its_newest_run_with_success_and_the_cause_of_a_failure(
    traced: Stack, traced_token: str, zk: KazooClient
) -> None:
    with traced.rest(traced_token) as client:
        job = register_job(client)
        other = register_job(client)
    _store(traced).write(
        [],
        [
            run(job, 0, 1, minutes=0, is_success=False, failure_cause="run failed with exit code 3"),
            run(job, 0, 2, minutes=10),  # the newest of shard 0: succeeded after a failure
            run(job, 1, 3, minutes=1),
            run(job, 1, 4, minutes=11, is_success=False, failure_cause="run failed with exit code 3",
                execution_source=ExecutionSource.FAILOVER),
            run(job, 2, 5, minutes=2),
            run(job, 2, 6, minutes=12, complete_time=None, is_success=None),  # still running
            run(job, 7, 7, minutes=13),  # an item beyond shardingTotalCount: left out
            run(other, 0, 8, minutes=20, is_success=False, failure_cause="another job's"),
        ],
    )  # fmt: skip
    plant_running(zk, traced, job, 2, task_id(job, 2, 6))

    state = state_of(traced, traced_token, job)
    assert state["lastRunsUnavailable"] is False
    shards = state["shards"]
    assert [shard["shardingItem"] for shard in shards] == [0, 1, 2]
    first, second, third = shards
    assert "currentTask" not in first and "currentTask" not in second  # a last run alone is enough
    assert set(first["lastRun"]) == LAST_RUN_FIELDS
    assert first["lastRun"] == {
        "id": f"{job}-run-2",
        "taskId": task_id(job, 0, 2),
        "source": "NORMAL_TRIGGER",
        "startTime": "2026-05-01T12:10:00+00:00",
        "completeTime": "2026-05-01T12:10:05+00:00",
        "success": True,
        "failureCause": "",
        "hostname": "host-1",
        "ip": "10.0.0.1",
    }
    failed = second["lastRun"]
    assert failed["id"] == f"{job}-run-4" and failed["source"] == "FAILOVER"
    assert failed["success"] is False
    assert failed["failureCause"] == "run failed with exit code 3"
    assert third["currentTask"]["taskId"] == task_id(job, 2, 6)
    running = third["lastRun"]
    assert running["id"] == f"{job}-run-6"
    assert "success" not in running and running["completeTime"] == ""  # not finished: no verdict


def test_the_state_call_reads_the_history_in_one_statement_whatever_the_shard_count(
    traced: Stack, traced_token: str
) -> None:
    with traced.rest(traced_token) as client:
        job = register_job(client, sharding_total_count=6)
    store = _store(traced)
    store.write([], [run(job, item, item, minutes=item) for item in range(6)])
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        state = state_of(traced, traced_token, job)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert [shard["lastRun"]["success"] for shard in state["shards"]] == [True] * 6
    assert len(statements) == 1, statements


def test_a_job_that_never_ran_has_no_shards_and_its_history_is_available(
    traced: Stack, traced_token: str
) -> None:
    with traced.rest(traced_token) as client:
        job = register_job(client)
    state = state_of(traced, traced_token, job)
    assert state["shards"] == [] and state["lastRunsUnavailable"] is False


def test_with_tracing_off_shards_have_no_last_run_and_the_answer_is_unchanged(
    stack: Stack, token: str, zk: KazooClient
) -> None:
    assert stack.server.tracing is None
    with stack.rest(token) as client:
        job = register_job(client)
    plant_running(zk, stack, job, 1, task_id(job, 1, 1))
    state = state_of(stack, token, job)
    [shard] = state["shards"]
    assert shard["shardingItem"] == 1 and shard["currentTask"]["taskId"] == task_id(job, 1, 1)
    assert "lastRun" not in shard
    assert state["lastRunsUnavailable"] is False


@pytest.mark.parametrize("store", ["sqlite-directory", "postgresql-nobody-listening"])
def test_a_store_that_does_not_answer_leaves_out_the_last_runs_and_says_so_once_in_the_log(
    store: str,
    zk_server: ZooKeeperServer,
    zk: KazooClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "trace.db"
    blocker.mkdir()  # SQLite cannot open a directory as its database, whoever runs the test
    if store == "sqlite-directory":
        url = f"sqlite:///{blocker}"
    else:
        url = f"postgresql+psycopg://elasticjob@127.0.0.1:{free_port()}/history"
    with running_stack(zk_server.connect_string, tmp_path, event_trace_rdb_url=url) as down:
        token = down.login()
        with down.rest(token) as client:
            job = register_job(client)
        plant_running(zk, down, job, 0, task_id(job, 0, 1))
        with caplog.at_level(logging.INFO, logger="server.usecases"):
            for _ in range(3):
                state = state_of(down, token, job)
                assert state["lastRunsUnavailable"] is True
                [shard] = state["shards"]
                assert shard["currentTask"]["taskId"] == task_id(job, 0, 1) and "lastRun" not in shard
                assert state["jobName"] == job and state["enabled"] is True
            warnings = [r for r in caplog.records if "without last runs" in r.getMessage()]
            assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
            if store == "sqlite-directory":
                blocker.rmdir()  # the database can be opened again
                state = state_of(down, token, job)
                assert state["lastRunsUnavailable"] is False
                assert any("answers again" in r.getMessage() for r in caplog.records)


# A real run: the embedded cluster runs the test app's script on each shard, the executor reports
# the result in its status updates, the scheduler's trace sink writes it to SQLite.


@pytest.fixture(scope="module")
def system(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    work = tmp_path_factory.mktemp("last_run_system")
    settings = {"event_trace_rdb_url": f"sqlite:///{work / 'trace.db'}"}
    with running_system(zk_server.connect_string, work, settings=settings) as running:
        yield running


def test_after_a_real_run_each_shard_shows_whether_it_succeeded(system: System) -> None:
    app = system.publish_app()
    job = system.register_job(app, shardingTotalCount=2, shardingItemParameters="0=a,1=fail")
    system.trigger(job)

    def finished() -> list[dict[str, Any]] | None:
        with system.rest() as client:
            response = client.get(f"/api/job/{job}/state")
        assert response.status_code == 200, response.text
        shards = response.json()["shards"]
        done = [shard for shard in shards if shard.get("lastRun", {}).get("completeTime")]
        return shards if len(done) == 2 else None

    shards = eventually(finished, timeout=40, what="both shards' runs recorded")
    ok, failed = sorted(shards, key=lambda shard: shard["shardingItem"])
    assert ok["lastRun"]["success"] is True and ok["lastRun"]["failureCause"] == ""
    assert failed["lastRun"]["success"] is False
    assert failed["lastRun"]["failureCause"].startswith("run failed with exit code 3")
    for shard in (ok, failed):
        last = shard["lastRun"]
        assert last["taskId"].startswith(f"{job}@-@{shard['shardingItem']}@-@READY@-@")
        assert last["hostname"] and last["ip"] and last["source"] == "NORMAL_TRIGGER"
        assert datetime.fromisoformat(last["startTime"]) <= datetime.fromisoformat(last["completeTime"])
