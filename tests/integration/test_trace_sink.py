"""The buffered trace sink: the scheduler hands it events and never waits for the database.

Checked against a real PostgreSQL that is stopped mid-run and started again: events keep being
accepted at once, those beyond the buffer are dropped and counted, the outage and the recovery
are each logged once, and what was buffered is written after the recovery. The rule is the
project's design (history off the hot path); ElasticJob 3.0 wrote synchronously.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.base.backoff import Backoff
from server.domain.trace import ExecutionEvent, StatusTrace
from server.trace.sink import BufferedTraceSink
from server.trace.store import HistoryQuery, TraceStore
from testkit.polling import eventually
from testkit.postgres import PostgresServer

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def staging(n: int, at: datetime = NOW) -> StatusTrace:
    return StatusTrace(
        id=f"trace-{n}", job_name="job", task_id=f"task-{n}", state="TASK_STAGING", creation_time=at
    )


def run(n: int, at: datetime = NOW) -> ExecutionEvent:
    return ExecutionEvent(id=f"run-{n}", job_name="job", task_id=f"task-{n}", sharding_item=0, start_time=at)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[TraceStore]:
    store = TraceStore(f"sqlite:///{tmp_path / 'trace.db'}")
    store.create_tables()
    yield store
    store.dispose()


def test_events_are_written_in_batches_and_counted(sqlite_store: TraceStore) -> None:
    sink = BufferedTraceSink(sqlite_store, batch_size=7, retention=None)
    sink.start()
    try:
        for n in range(50):
            sink.status(staging(n))
            sink.execution(run(n))
        assert sink.flush(10)
    finally:
        sink.stop()
    assert (sink.written, sink.dropped) == (100, 0)
    assert sqlite_store.executions(HistoryQuery()).total == 50
    assert sqlite_store.status_traces(HistoryQuery()).total == 50


def test_rows_past_the_retention_are_deleted_by_the_writer(sqlite_store: TraceStore) -> None:
    sqlite_store.write([staging(1, NOW - timedelta(days=31))], [run(1, NOW - timedelta(days=31)), run(2)])
    sink = BufferedTraceSink(sqlite_store, retention=timedelta(days=30), retention_interval=3600)
    sink.start()
    try:
        eventually(lambda: sqlite_store.executions(HistoryQuery()).total == 1, timeout=10)
    finally:
        sink.stop()
    assert sqlite_store.status_traces(HistoryQuery()).total == 0


def test_a_stopped_postgres_delays_nothing_and_the_sink_recovers(caplog: pytest.LogCaptureFixture) -> None:
    postgres = PostgresServer()
    postgres.start()
    store = TraceStore(postgres.url(), connect_timeout=1.0, statement_timeout=2.0)
    sink = BufferedTraceSink(
        store, capacity=100, batch_size=10, retention=None, backoff=Backoff(initial=0.05, maximum=0.3)
    )
    try:
        store.create_tables()
        sink.start()
        for n in range(20):
            sink.status(staging(n))
        assert sink.flush(10) and sink.written == 20

        caplog.set_level(logging.INFO, logger="server.trace")
        postgres.stop()
        slowest = 0.0
        for n in range(20, 320):
            begun = time.perf_counter()
            sink.status(staging(n))
            slowest = max(slowest, time.perf_counter() - begun)
            if n == 21:
                eventually(lambda: sink.unreachable, timeout=10)
        # 300 events into a buffer of 100 while nothing can be written: 200 dropped, none blocked.
        # (The bound is generous: it only has to tell "returned" from "waited for a connection".)
        assert slowest < 0.5
        assert sink.dropped == 200
        assert sink.stats().pending == 100
        time.sleep(0.5)  # several retries fail meanwhile
        outage_lines = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(outage_lines) == 1

        postgres.start()
        assert sink.flush(30)
        assert sink.written == 120 and sink.dropped == 200
        recovered = [r for r in caplog.records if "reachable again" in r.getMessage()]
        assert len(recovered) == 1 and "200 events were dropped" in recovered[0].getMessage()
        assert store.status_traces(HistoryQuery()).total == 120
    finally:
        sink.stop()
        store.dispose()
        postgres.remove()


def test_an_event_the_database_refuses_is_dropped_alone(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = TraceStore(postgres.create_database())
    sink = BufferedTraceSink(store, batch_size=50, retention=None)
    caplog.set_level(logging.ERROR, logger="server.trace")
    try:
        sink.start()
        for n in range(5):
            sink.status(staging(n))
        # JOB_STATUS_TRACE_LOG.job_name is VARCHAR(100): PostgreSQL refuses a longer one.
        sink.status(
            StatusTrace(
                id="too-long", job_name="j" * 200, task_id="t", state="TASK_STAGING", creation_time=NOW
            )
        )
        for n in range(5, 10):
            sink.status(staging(n))
        assert sink.flush(10)
    finally:
        sink.stop()
    assert (sink.written, sink.dropped) == (10, 1)
    assert store.status_traces(HistoryQuery(per_page=50)).total == 10
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "too-long" in refusals[0].getMessage()
    store.dispose()
