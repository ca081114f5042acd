"""The buffered trace sink against a frozen PostgreSQL: a write that hangs is an outage too.

A server that is frozen (SIGSTOP to the postmaster and its backends; a hung host or VM looks the
same) keeps its connections open: the pooled connection's query waits forever, since
PostgreSQL's ``statement_timeout`` is enforced by the frozen server and libpq's
``connect_timeout`` covers only connecting. The sink must still say once that the store is
unreachable, keep accepting events at once, and write them after the server thaws.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from server.domain.trace import StatusTrace
from server.trace.sink import BufferedTraceSink
from server.trace.store import HistoryQuery, TraceStore
from testkit.polling import eventually
from testkit.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.integration


def staging(n: int) -> StatusTrace:
    return StatusTrace(
        id=f"trace-{n}",
        job_name="job",
        task_id=f"task-{n}",
        state="TASK_STAGING",
        creation_time=datetime.now(UTC),
    )


@pytest.fixture
def frozen_able() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own (freezing the session's one would stall other tests)."""
    with postgres_server() as server:
        yield server


def test_a_write_hanging_on_a_frozen_postgres_is_reported_once_and_recovers(
    frozen_able: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = TraceStore(frozen_able.url(), connect_timeout=1.0, statement_timeout=2.0)
    sink = BufferedTraceSink(store, batch_size=10, linger=0, retention=None, stall_after=0.5)
    caplog.set_level(logging.INFO, logger="server.trace")
    try:
        store.create_tables()
        sink.start()
        sink.status(staging(0))
        assert sink.flush(10) and sink.written == 1

        frozen_able.pause()
        slowest = 0.0
        n = 1
        deadline = time.monotonic() + 10
        while not sink.unreachable and time.monotonic() < deadline:
            begun = time.perf_counter()
            sink.status(staging(n))
            slowest = max(slowest, time.perf_counter() - begun)
            n += 1
            time.sleep(0.05)
        assert sink.unreachable, "a write hanging on the frozen server was not noticed"
        for _ in range(20):  # more events while the write still hangs: no second outage line
            sink.status(staging(n))
            n += 1
        assert slowest < 0.5  # generous: "returned" as opposed to "waited for the database"
        outage_lines = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(outage_lines) == 1 and "no answer" in outage_lines[0].getMessage()
        assert sink.written == 1 and sink.dropped == 0

        frozen_able.resume()
        assert sink.flush(30)
        assert (sink.written, sink.dropped) == (n, 0)
        assert not sink.unreachable
        assert len([r for r in caplog.records if "reachable again" in r.getMessage()]) == 1
        eventually(lambda: store.status_traces(HistoryQuery()).total == n, timeout=10)
    finally:
        frozen_able.resume()
        sink.stop()
        store.dispose()
