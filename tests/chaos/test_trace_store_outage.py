"""The trace store's PostgreSQL goes away mid-run and comes back: scheduling does not notice.

The whole system (ZooKeeper, the server, the embedded cluster, Envoy) keeps its run history on a
PostgreSQL of its own, and a TRANSIENT job fires every second. The database is made unreachable
for ten seconds in two ways: frozen (SIGSTOP to the postmaster and each of its backends, so that
connects and queries hang, the worst case for a client) and stopped cleanly (connects are refused). In both
the job keeps starting once a second, the outage is logged once, and the events buffered meanwhile
reach the store after it is back; meanwhile the history route answers 503 instead of hanging.

Sources: the project's design (run history kept off the scheduling path); libpq's documentation
of ``connect_timeout`` (it bounds connecting only) and PostgreSQL's of ``statement_timeout``
(enforced by the server, so not by a frozen one) and of its signals (SIGINT: fast shutdown).
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import ZooKeeperServer
from testkit.e2e import Run, System, running_system
from testkit.polling import eventually
from testkit.postgres import PostgresServer, postgres_server

#: The longest gap between two run starts of a job firing every second that still means "on time".
MAX_GAP = 2.5
BEFORE = 8.0
OUTAGE = 10.0
AFTER = 6.0


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own: stopping it leaves the session's one alone."""
    with postgres_server() as server:
        yield server


def starts_between(runs: list[Run], start: float, end: float) -> list[float]:
    return sorted(run.at for run in runs if start <= run.at < end)


def max_gap(starts: list[float], start: float, end: float) -> float:
    """The longest stretch of ``[start, end)`` without a run start (the window's edges count)."""
    points = [start, *starts, end]
    return max(later - earlier for earlier, later in itertools.pairwise(points))


def execution_task_ids(system: System, job: str) -> set[str]:
    with system.rest() as client:
        response = client.get("/api/job/events/executions", params={"jobName": job, "per_page": 1000})
    assert response.status_code == 200, response.text
    return {row["taskId"] for row in response.json()["rows"]}


@pytest.mark.parametrize("outage", ["frozen", "stopped"])
def test_a_trace_store_outage_delays_no_fire(
    outage: str,
    database: PostgresServer,
    zk_server: ZooKeeperServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="server.trace")
    settings = {"event_trace_rdb_url": database.create_database()}
    with running_system(zk_server.connect_string, tmp_path, settings=settings) as system:
        assert system.server.tracing is not None
        sink = system.server.tracing.sink
        app = system.publish_app()
        job = system.register_job(app, cron="* * * * * ?")
        eventually(lambda: len(system.runs(job)) >= 2, timeout=20, what="the job runs")
        eventually(lambda: execution_task_ids(system, job), timeout=10, what="runs recorded")

        began = time.time()
        time.sleep(BEFORE)
        down = time.time()
        if outage == "frozen":
            database.pause()
        else:
            database.stop()
        try:
            time.sleep(3)
            # The history routes answer at once that the store is away, rather than hanging.
            with system.rest() as client:
                asked = time.monotonic()
                answer = client.get("/api/job/events/executions", params={"jobName": job})
                waited = time.monotonic() - asked
            time.sleep(max(0.0, down + OUTAGE - time.time()))
        finally:
            up = time.time()
            if outage == "frozen":
                database.resume()
            else:
                database.start()
        time.sleep(AFTER)
        ended = time.time()

        runs = system.runs(job)
        gaps = {
            "before": max_gap(starts_between(runs, began, down), began, down),
            "during": max_gap(starts_between(runs, down, up), down, up),
            "after": max_gap(starts_between(runs, up, ended), up, ended),
        }
        print(
            f"PostgreSQL {outage} for {up - down:.1f} s: longest gap between run starts "
            + ", ".join(f"{phase} {gap:.2f} s" for phase, gap in gaps.items())
        )
        print(f"executions during the outage: {answer.status_code} after {waited:.1f} s")
        assert answer.status_code == 503, answer.text
        assert gaps["during"] <= MAX_GAP, gaps
        assert gaps["before"] <= MAX_GAP and gaps["after"] <= MAX_GAP, gaps

        outage_tasks = {run.task_id for run in runs if down <= run.at < up}
        assert len(outage_tasks) >= OUTAGE - 2
        eventually(
            lambda: outage_tasks <= execution_task_ids(system, job),
            timeout=30,
            what="the runs of the outage in the store",
        )
        stats = sink.stats()
        print(f"trace sink: {stats}")
        assert stats.dropped == 0
        unreachable = [r for r in caplog.records if r.getMessage().startswith("trace store unreachable")]
        back = [r for r in caplog.records if r.getMessage().startswith("trace store reachable again")]
        assert len(unreachable) == 1, [r.getMessage() for r in unreachable]
        assert len(back) == 1, [r.getMessage() for r in back]
        # Nothing about the trace store is said per event or per retry.
        said = collections.Counter(
            r.msg
            for r in caplog.records
            if r.name.startswith("server.trace") and r.levelno >= logging.WARNING
        )
        assert all(times == 1 for times in said.values()), said
