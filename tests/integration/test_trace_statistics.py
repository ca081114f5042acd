"""Statistics aggregation, run against SQLite and a real PostgreSQL.

ElasticJob 3.0's statistics jobs are the reference: task results per minute, hour and day, running
task and job counts each minute, the registered job count once a day, and missed intervals filled
(results from the execution rows, counts with the last row's value).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.domain.trace import ExecutionEvent
from server.trace.statistics import StatisticsAggregator, StatisticsReader
from server.trace.store import TraceStore
from testkit.postgres import trace_database_url

pytestmark = pytest.mark.integration

DAY0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TraceStore]:
    url = trace_database_url(request, request.param, tmp_path)
    trace_store = TraceStore(url)
    trace_store.create_tables()
    yield trace_store
    trace_store.dispose()


class Registry:
    """What the aggregator reads from ZooKeeper, set by the test."""

    def __init__(self) -> None:
        self.tasks, self.jobs, self.registered = 0, 0, 0
        self.leading = True
        self.reads: list[str] = []

    def running_counts(self) -> tuple[int, int]:
        self.reads.append("running")
        return self.tasks, self.jobs

    def registered_count(self) -> int:
        self.reads.append("registered")
        return self.registered

    def aggregator(self, store: TraceStore) -> StatisticsAggregator:
        return StatisticsAggregator(
            store,
            leading=lambda: self.leading,
            running_counts=self.running_counts,
            registered_count=self.registered_count,
        )


def completed(run_id: str, at: datetime, *, success: bool) -> ExecutionEvent:
    return ExecutionEvent(
        id=run_id, job_name="job", task_id=f"task-{run_id}", sharding_item=0,
        start_time=at - timedelta(seconds=1), complete_time=at, is_success=success,
    )  # fmt: skip


def test_minute_hour_and_day_results_count_completions_and_fill_gaps(store: TraceStore) -> None:
    t = DAY0 + timedelta(hours=10)
    store.write(
        [],
        [
            completed("a", t + timedelta(seconds=5), success=True),
            completed("b", t + timedelta(seconds=50), success=False),
            completed("c", t + timedelta(minutes=2, seconds=1), success=True),
            completed("d", t + timedelta(hours=1, minutes=5), success=True),
        ],
    )
    registry = Registry()
    aggregator = registry.aggregator(store)
    aggregator.aggregate(t + timedelta(hours=1, minutes=10, seconds=20))
    reader = StatisticsReader(store)

    minutes = reader.results_since("MINUTE", t)
    by_time = {row.statistics_time: (row.success_count, row.failed_count) for row in minutes}
    assert by_time[t] == (1, 1)
    assert by_time[t + timedelta(minutes=1)] == (0, 0)  # a gap, filled with zeros
    assert by_time[t + timedelta(minutes=2)] == (1, 0)
    assert by_time[t + timedelta(hours=1, minutes=5)] == (1, 0)
    # Every minute up to the last one that has ended (and settled, 15 s) is there, once.
    times = [row.statistics_time for row in minutes]
    assert times == sorted(set(times))
    assert times[-1] == t + timedelta(hours=1, minutes=9)
    assert all(row.interval == "MINUTE" for row in minutes)

    hours = reader.results_since("HOUR", DAY0)
    assert [(r.statistics_time, r.success_count, r.failed_count) for r in hours] == [(t, 2, 1)]
    assert reader.results_since("DAY", DAY0) == []  # the day has not ended

    # A later pass adds only what is new.
    store.write([], [completed("e", t + timedelta(hours=1, minutes=10, seconds=3), success=False)])
    aggregator.aggregate(t + timedelta(hours=2, minutes=1))
    latest_minute = reader.latest_result("MINUTE")
    assert latest_minute is not None and latest_minute.statistics_time == t + timedelta(hours=1, minutes=59)
    assert {r.statistics_time: r.failed_count for r in reader.results_since("MINUTE", t)}[
        t + timedelta(hours=1, minutes=10)
    ] == 1
    assert [(r.success_count, r.failed_count) for r in reader.results_since("HOUR", DAY0)] == [(2, 1), (1, 1)]

    aggregator.aggregate(DAY0 + timedelta(days=1, minutes=1))
    assert [(r.success_count, r.failed_count) for r in reader.results_since("DAY", DAY0)] == [(3, 2)]
    assert reader.result_totals("DAY") == (3, 2)
    assert reader.result_totals("DAY", since=DAY0 + timedelta(days=1)) == (0, 0)


def test_running_counts_each_minute_with_gaps_filled_by_the_last_count(store: TraceStore) -> None:
    registry = Registry()
    aggregator = registry.aggregator(store)
    reader = StatisticsReader(store)
    t = DAY0 + timedelta(hours=3)
    registry.tasks, registry.jobs, registry.registered = 4, 2, 7
    aggregator.aggregate(t + timedelta(seconds=20))
    aggregator.aggregate(t + timedelta(seconds=40))  # the same minute: no second row
    registry.tasks, registry.jobs, registry.registered = 1, 1, 9
    aggregator.aggregate(t + timedelta(minutes=3, seconds=5))

    tasks = [(r.statistics_time - t, r.count) for r in reader.task_running_since(DAY0)]
    assert tasks == [
        (timedelta(0), 4),
        (timedelta(minutes=1), 4),
        (timedelta(minutes=2), 4),
        (timedelta(minutes=3), 1),
    ]
    assert [r.count for r in reader.job_running_since(DAY0)] == [2, 2, 2, 1]
    assert reader.task_running_since(t + timedelta(minutes=2))[0].count == 4
    # The registered count is taken once a day.
    assert [(r.statistics_time, r.count) for r in reader.job_register()] == [(DAY0, 7)]
    aggregator.aggregate(DAY0 + timedelta(days=2, hours=1))
    assert [(r.statistics_time, r.count) for r in reader.job_register()] == [
        (DAY0, 7),
        (DAY0 + timedelta(days=1), 7),
        (DAY0 + timedelta(days=2), 9),
    ]


def test_the_registry_is_read_once_per_counted_interval(store: TraceStore) -> None:
    """A pass runs every 15 seconds, a count row is written once a minute (running counts) or a
    day (registered jobs): passes in between leave ZooKeeper alone."""
    registry = Registry()
    aggregator = registry.aggregator(store)
    t = DAY0 + timedelta(hours=3)
    for seconds in (5, 20, 35, 50):
        aggregator.aggregate(t + timedelta(seconds=seconds))
    assert registry.reads == ["running", "registered"]
    aggregator.aggregate(t + timedelta(minutes=1, seconds=5))
    assert registry.reads == ["running", "registered", "running"]


def test_only_the_leader_aggregates(store: TraceStore) -> None:
    registry = Registry()
    registry.leading = False
    registry.tasks = 3
    aggregator = registry.aggregator(store)
    assert aggregator.run_once() is False
    reader = StatisticsReader(store)
    assert reader.task_running_since(DAY0) == []
    registry.leading = True
    assert aggregator.run_once() is True
    assert [r.count for r in reader.task_running_since(DAY0)] == [3]
