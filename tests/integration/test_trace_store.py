"""The trace store's contract, run against SQLite and a real PostgreSQL.

ElasticJob 3.0's RDB event storage is the reference for the tables and the write rules
(``JOB_EXECUTION_LOG`` inserted at start, updated at completion, inserted when the update finds no
row; ``JOB_STATUS_TRACE_LOG.original_task_id`` taken from the task's ``TASK_STAGING`` row) and for
the history queries (equality filters, a time window, sort, order, per_page and page).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.domain.trace import ExecutionEvent, ExecutionSource, StatusSource, StatusTrace
from server.trace.store import HistoryQuery, TraceStore
from testkit.postgres import trace_database_url

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TraceStore]:
    url = trace_database_url(request, request.param, tmp_path / "var")
    trace_store = TraceStore(url)
    trace_store.create_tables()
    yield trace_store
    trace_store.dispose()


def start(
    run_id: str, *, job: str = "job_a", item: int = 0, at: datetime = T0, ip: str = "10.0.0.1"
) -> ExecutionEvent:
    return ExecutionEvent(
        id=run_id,
        job_name=job,
        task_id=f"{job}@-@{item}@-@READY@-@agent@-@{run_id}",
        hostname="host-1",
        ip=ip,
        sharding_item=item,
        start_time=at,
    )


def completion(
    started: ExecutionEvent, *, success: bool, after: float = 1.0, cause: str | None = None
) -> ExecutionEvent:
    assert started.start_time is not None
    return ExecutionEvent(
        id=started.id,
        job_name=started.job_name,
        task_id=started.task_id,
        hostname=started.hostname,
        ip=started.ip,
        sharding_item=started.sharding_item,
        execution_source=started.execution_source,
        start_time=started.start_time,
        complete_time=started.start_time + timedelta(seconds=after),
        is_success=success,
        failure_cause=cause,
    )


def trace(
    trace_id: str, task_id: str, state: str, *, at: datetime = T0, job: str = "job_a", **fields: object
) -> StatusTrace:
    return StatusTrace(id=trace_id, job_name=job, task_id=task_id, state=state, creation_time=at, **fields)  # type: ignore[arg-type]


def test_tables_are_created_with_elasticjobs_names_and_the_status_index(store: TraceStore) -> None:
    inspector = sa.inspect(store.engine)
    names = {name.upper() for name in inspector.get_table_names()}
    assert {
        "JOB_EXECUTION_LOG",
        "JOB_STATUS_TRACE_LOG",
        "TASK_RESULT_STATISTICS_MINUTE",
        "TASK_RESULT_STATISTICS_HOUR",
        "TASK_RESULT_STATISTICS_DAY",
        "TASK_RUNNING_STATISTICS",
        "JOB_RUNNING_STATISTICS",
        "JOB_REGISTER_STATISTICS",
    } <= names
    columns = {c["name"] for c in inspector.get_columns("job_execution_log")}
    assert columns == {
        "id", "job_name", "task_id", "hostname", "ip", "sharding_item", "execution_source",
        "failure_cause", "is_success", "start_time", "complete_time",
    }  # fmt: skip
    indexes = inspector.get_indexes("job_status_trace_log")
    assert any(index["column_names"] == ["task_id", "state"] for index in indexes)
    # Unquoted identifiers: plain SQL with the upper-case names works on both databases.
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM JOB_EXECUTION_LOG")).scalar() == 0
    store.create_tables()  # a second time: nothing to do, nothing fails


def test_a_run_is_inserted_at_start_and_completed_by_its_update(store: TraceStore) -> None:
    started = start("run-1")
    store.write([], [started])
    page = store.executions(HistoryQuery())
    assert page.total == 1
    assert page.rows[0].is_success is None and page.rows[0].complete_time is None

    store.write([], [completion(started, success=False, cause="exit code 3")])
    (row,) = store.executions(HistoryQuery()).rows
    assert row.is_success is False
    assert row.failure_cause == "exit code 3"
    assert row.complete_time == T0 + timedelta(seconds=1)
    assert row.start_time == T0
    assert row.execution_source is ExecutionSource.NORMAL_TRIGGER


def test_a_completion_without_its_start_is_inserted(store: TraceStore) -> None:
    store.write([], [completion(start("run-2"), success=True)])
    (row,) = store.executions(HistoryQuery()).rows
    assert row.id == "run-2" and row.is_success is True


def test_start_and_completion_in_one_batch_give_one_completed_row(store: TraceStore) -> None:
    started = start("run-3")
    store.write([], [started, completion(started, success=True)])
    page = store.executions(HistoryQuery())
    assert page.total == 1 and page.rows[0].is_success is True


def test_a_batch_written_twice_adds_nothing(store: TraceStore) -> None:
    started = start("run-4")
    staging = trace("t-1", started.task_id, "TASK_STAGING")
    store.write([staging], [started])
    store.write([staging], [started])
    assert store.executions(HistoryQuery()).total == 1
    assert store.status_traces(HistoryQuery()).total == 1


def test_long_failure_causes_are_cut_to_4000_characters(store: TraceStore) -> None:
    started = start("run-5")
    store.write([], [completion(started, success=False, cause="x" * 5000)])
    (row,) = store.executions(HistoryQuery()).rows
    assert row.failure_cause == "x" * 4000


def test_status_traces_take_original_task_id_from_the_staging_row(store: TraceStore) -> None:
    task = "job_a@-@0@-@READY@-@agent@-@u1"
    # The staging row and a later state in one batch, another state in a later batch.
    store.write(
        [
            trace("s-1", task, "TASK_STAGING", original_task_id="job_a@-@0@-@READY@-@agent@-@u0"),
            trace("s-2", task, "TASK_RUNNING", at=T0 + timedelta(seconds=1)),
        ],
        [],
    )
    store.write([trace("s-3", task, "TASK_FINISHED", at=T0 + timedelta(seconds=2))], [])
    # A staging row without an original id: the later states name the task itself.
    other = "job_a@-@1@-@READY@-@agent@-@u2"
    store.write([trace("s-4", other, "TASK_STAGING")], [])
    store.write(
        [trace("s-5", other, "TASK_FAILED", message="fetch failed", at=T0 + timedelta(seconds=3))], []
    )

    rows = {row.id: row for row in store.status_traces(HistoryQuery(per_page=50)).rows}
    assert rows["s-1"].original_task_id == "job_a@-@0@-@READY@-@agent@-@u0"
    assert rows["s-2"].original_task_id == "job_a@-@0@-@READY@-@agent@-@u0"
    assert rows["s-3"].original_task_id == "job_a@-@0@-@READY@-@agent@-@u0"
    assert rows["s-4"].original_task_id == ""
    assert rows["s-5"].original_task_id == other
    assert rows["s-5"].message == "fetch failed"


def test_status_trace_fields_round_trip(store: TraceStore) -> None:
    store.write(
        [
            trace(
                "f-1", "task-x", "TASK_RUNNING", slave_id="agent-7", source=StatusSource.CLOUD_EXECUTOR,
                execution_type="FAILOVER", sharding_items=(3,),
            )
        ],
        [],
    )  # fmt: skip
    (row,) = store.status_traces(HistoryQuery()).rows
    assert (row.slave_id, row.source, row.execution_type, row.sharding_items) == (
        "agent-7", StatusSource.CLOUD_EXECUTOR, "FAILOVER", (3,),
    )  # fmt: skip
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT sharding_item FROM job_status_trace_log")).scalar() == "[3]"


def _history(store: TraceStore) -> None:
    events = []
    for n in range(12):
        run = start(
            f"r{n:02d}",
            job="job_a" if n % 2 else "job_b",
            item=n % 3,
            at=T0 + timedelta(minutes=n),
            ip=f"10.0.0.{n % 4}",
        )
        events += [run, completion(run, success=n % 3 != 0, cause=None if n % 3 else "boom")]
    store.write([], events)


def test_executions_filter_by_each_field(store: TraceStore) -> None:
    _history(store)
    assert store.executions(HistoryQuery(filters={"job_name": "job_a"})).total == 6
    assert store.executions(HistoryQuery(filters={"ip": "10.0.0.1"})).total == 3
    assert store.executions(HistoryQuery(filters={"is_success": 0})).total == 4
    assert store.executions(HistoryQuery(filters={"is_success": 1, "job_name": "job_b"})).total == 4
    task_id = "job_a@-@1@-@READY@-@agent@-@r01"
    (row,) = store.executions(HistoryQuery(filters={"task_id": task_id})).rows
    assert row.id == "r01"
    assert store.executions(HistoryQuery(filters={"job_name": "nobody"})).rows == ()


def test_executions_window_sort_and_pages(store: TraceStore) -> None:
    _history(store)
    window = HistoryQuery(start=T0 + timedelta(minutes=3), end=T0 + timedelta(minutes=7), per_page=100)
    assert [r.id for r in store.executions(window).rows] == ["r03", "r04", "r05", "r06", "r07"]

    first = store.executions(HistoryQuery(per_page=5, page=1, sort="start_time", descending=True))
    third = store.executions(HistoryQuery(per_page=5, page=3, sort="start_time", descending=True))
    assert first.total == third.total == 12
    assert [r.id for r in first.rows] == ["r11", "r10", "r09", "r08", "r07"]
    assert [r.id for r in third.rows] == ["r01", "r00"]
    assert store.executions(HistoryQuery(per_page=5, page=4)).rows == ()

    by_ip = store.executions(HistoryQuery(sort="ip", per_page=12)).rows
    assert [r.ip for r in by_ip] == sorted(r.ip for r in by_ip)
    with pytest.raises(ValueError):
        store.executions(HistoryQuery(sort="no_such_column"))


def test_status_traces_filter_window_and_sort(store: TraceStore) -> None:
    for n, state in enumerate(
        ["TASK_STAGING", "TASK_RUNNING", "TASK_FINISHED", "TASK_STAGING", "TASK_FAILED"]
    ):
        store.write(
            [
                trace(
                    f"x{n}", f"task-{n // 3}", state, at=T0 + timedelta(seconds=n), job="job_a" if n < 3 else "job_b",
                    slave_id=f"agent-{n % 2}", source=StatusSource.CLOUD_EXECUTOR if n == 2 else StatusSource.CLOUD_SCHEDULER,
                    execution_type="FAILOVER" if n == 4 else "READY",
                )
            ],
            [],
        )  # fmt: skip
    q = store.status_traces
    assert q(HistoryQuery(filters={"job_name": "job_b"})).total == 2
    assert q(HistoryQuery(filters={"task_id": "task-0"})).total == 3
    assert q(HistoryQuery(filters={"slave_id": "agent-1"})).total == 2
    assert [r.id for r in q(HistoryQuery(filters={"source": "CLOUD_EXECUTOR"})).rows] == ["x2"]
    assert [r.id for r in q(HistoryQuery(filters={"execution_type": "FAILOVER"})).rows] == ["x4"]
    assert [r.id for r in q(HistoryQuery(filters={"state": "TASK_STAGING"})).rows] == ["x0", "x3"]
    assert [r.id for r in q(HistoryQuery(start=T0 + timedelta(seconds=3))).rows] == ["x3", "x4"]
    assert [r.id for r in q(HistoryQuery(end=T0 + timedelta(seconds=1))).rows] == ["x0", "x1"]
    assert [r.id for r in q(HistoryQuery(sort="creation_time", descending=True, per_page=2)).rows] == [
        "x4",
        "x3",
    ]


def test_retention_deletes_only_rows_older_than_the_cutoff(store: TraceStore) -> None:
    old = start("old", at=T0 - timedelta(days=40))
    new = start("new", at=T0)
    store.write(
        [
            trace("t-old", "task-old", "TASK_STAGING", at=T0 - timedelta(days=40)),
            trace("t-new", "task-new", "TASK_STAGING"),
        ],
        [old, completion(old, success=True), new],
    )
    gone = store.delete_older_than(T0 - timedelta(days=30))
    assert gone == 2
    assert [r.id for r in store.executions(HistoryQuery()).rows] == ["new"]
    assert [r.id for r in store.status_traces(HistoryQuery()).rows] == ["t-new"]


def test_last_run_of_each_shard(store: TraceStore) -> None:
    _history(store)
    runs = store.last_runs("job_a")
    # job_a has the odd runs r01..r11; shards are n % 3.
    assert {item: run.id for item, run in runs.items()} == {0: "r09", 1: "r07", 2: "r11"}
    assert runs[0].is_success is False and runs[1].is_success is True
    assert store.last_runs("nobody") == {}
