"""Statistics: ElasticJob's ``TASK_RESULT_STATISTICS_*``, ``*_RUNNING_STATISTICS`` and
``JOB_REGISTER_STATISTICS`` tables, their reads, and the aggregator that fills them.

Result rows (successes and failures per minute, hour and day) are computed from the completions
in ``JOB_EXECUTION_LOG``, so intervals missed while no aggregator ran are filled with their true
counts. Running counts (tasks, jobs) are sampled each minute and the registered job count once a
day; the minutes or days missed in between get the last row's count, as ElasticJob did. Interval
starts are UTC. Only the scheduling leader aggregates (``leading``), so replicas sharing one
database write each row once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy import exc as sa_exc

from server.trace.store import StoreUnavailable, TraceStore, naive_utc
from server.trace.tables import EXECUTIONS, JOB_REGISTER, JOB_RUNNING, RESULT_TABLES, TASK_RUNNING

__all__ = [
    "INTERVALS",
    "CountStatistics",
    "ResultStatistics",
    "StatisticsAggregator",
    "StatisticsReader",
    "interval_start",
]

log = logging.getLogger("server.trace")

#: Each result interval's length.
INTERVALS = {"MINUTE": timedelta(minutes=1), "HOUR": timedelta(hours=1), "DAY": timedelta(days=1)}
#: How far back an empty result table is filled on the aggregator's first run.
RESULT_HORIZON = {"MINUTE": timedelta(hours=24), "HOUR": timedelta(days=7), "DAY": timedelta(days=30)}
#: The longest gap in running / registered counts that is back-filled.
COUNT_HORIZON = timedelta(days=7)
#: An interval is aggregated this long after it ended, so completions still in the sink's buffer
#: are counted.
SETTLE = timedelta(seconds=15)


@dataclass(frozen=True, kw_only=True, slots=True)
class ResultStatistics:
    """Successful and failed runs completed in one interval (``statistics_time`` its start)."""

    id: int
    success_count: int
    failed_count: int
    interval: str
    statistics_time: datetime
    creation_time: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class CountStatistics:
    """A sampled count (running tasks, running jobs, registered jobs) at ``statistics_time``."""

    id: int
    count: int
    statistics_time: datetime
    creation_time: datetime


def interval_start(moment: datetime, length: timedelta) -> datetime:
    """The start of the minute, hour or day (UTC, naive) that holds ``moment``."""
    moment = naive_utc(moment)
    if length >= timedelta(days=1):
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if length >= timedelta(hours=1):
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


class StatisticsReader:
    """Reads the statistics tables of ``store``."""

    def __init__(self, store: TraceStore) -> None:
        self._store = store

    def results_since(self, interval: str, since: datetime) -> list[ResultStatistics]:
        table = RESULT_TABLES[interval]
        with self._store.begin() as connection:
            rows = connection.execute(
                select(table)
                .where(table.c.statistics_time >= naive_utc(since))
                .order_by(table.c.statistics_time, table.c.id)
            ).mappings()
            return [_result(row, interval) for row in rows]

    def latest_result(self, interval: str) -> ResultStatistics | None:
        table = RESULT_TABLES[interval]
        with self._store.begin() as connection:
            row = (
                connection.execute(
                    select(table).order_by(table.c.statistics_time.desc(), table.c.id.desc()).limit(1)
                )
                .mappings()
                .first()
            )
        return None if row is None else _result(row, interval)

    def result_totals(self, interval: str, since: datetime | None = None) -> tuple[int, int]:
        """Successes and failures summed over the ``interval`` rows from ``since`` (None: all)."""
        table = RESULT_TABLES[interval]
        statement = select(
            func.coalesce(func.sum(table.c.success_count), 0),
            func.coalesce(func.sum(table.c.failed_count), 0),
        )
        if since is not None:
            statement = statement.where(table.c.statistics_time >= naive_utc(since))
        with self._store.begin() as connection:
            success, failed = connection.execute(statement).one()
        return int(success), int(failed)

    def task_running_since(self, since: datetime) -> list[CountStatistics]:
        return self._counts(TASK_RUNNING, "running_count", since)

    def job_running_since(self, since: datetime) -> list[CountStatistics]:
        return self._counts(JOB_RUNNING, "running_count", since)

    def job_register(self) -> list[CountStatistics]:
        return self._counts(JOB_REGISTER, "registered_count", None)

    def _counts(self, table: Table, column: str, since: datetime | None) -> list[CountStatistics]:
        statement = select(table).order_by(table.c.statistics_time, table.c.id)
        if since is not None:
            statement = statement.where(table.c.statistics_time >= naive_utc(since))
        with self._store.begin() as connection:
            return [
                CountStatistics(
                    id=int(row["id"]),
                    count=int(row[column]),
                    statistics_time=_aware(row["statistics_time"]),
                    creation_time=_aware(row["creation_time"]),
                )
                for row in connection.execute(statement).mappings()
            ]


def _result(row: Any, interval: str) -> ResultStatistics:
    return ResultStatistics(
        id=int(row["id"]),
        success_count=int(row["success_count"]),
        failed_count=int(row["failed_count"]),
        interval=interval,
        statistics_time=_aware(row["statistics_time"]),
        creation_time=_aware(row["creation_time"]),
    )


class StatisticsAggregator:
    """Fills the statistics tables while ``leading()`` says this process schedules.

    ``running_counts()`` answers (running tasks, running jobs) and ``registered_count()`` the
    number of registered jobs, both from the registry. :meth:`aggregate` does one pass (tests call
    it with their own ``now``); :meth:`start` runs a pass every ``period`` seconds on a thread.
    """

    def __init__(
        self,
        store: TraceStore,
        *,
        leading: Callable[[], bool],
        running_counts: Callable[[], tuple[int, int]],
        registered_count: Callable[[], int],
        period: float = 15.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._leading = leading
        self._running_counts = running_counts
        self._registered_count = registered_count
        self._period = period
        self._now = now
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="statistics", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> bool:
        """One pass when leading (whether it ran); database trouble is logged once until it ends."""
        if not self._leading():
            return False
        try:
            self.aggregate(self._now())
        except (StoreUnavailable, sa_exc.SQLAlchemyError) as exc:
            if not self._failing:
                log.warning("statistics not aggregated: %s", exc)
            self._failing = True
            return True
        if self._failing:
            log.info("statistics aggregated again")
        self._failing = False
        return True

    def _run(self) -> None:
        while not self._stopping.wait(self._period):
            try:
                self.run_once()
            except Exception:
                log.exception("statistics aggregation failed")

    def aggregate(self, now: datetime) -> None:
        """Write every interval row due by ``now`` that is missing."""
        now = naive_utc(now)
        with self._store.begin() as connection:
            for interval in INTERVALS:
                self._fill_results(connection, interval, now)
        minute = interval_start(now, INTERVALS["MINUTE"])
        if self._behind(TASK_RUNNING, minute) or self._behind(JOB_RUNNING, minute):
            tasks, jobs = self._running_counts()
            with self._store.begin() as connection:
                self._fill_counts(
                    connection, TASK_RUNNING, "running_count", tasks, minute, INTERVALS["MINUTE"], now
                )
                self._fill_counts(
                    connection, JOB_RUNNING, "running_count", jobs, minute, INTERVALS["MINUTE"], now
                )
        day = interval_start(now, INTERVALS["DAY"])
        if self._behind(JOB_REGISTER, day):
            registered = self._registered_count()
            with self._store.begin() as connection:
                self._fill_counts(
                    connection, JOB_REGISTER, "registered_count", registered, day, INTERVALS["DAY"], now
                )

    def _behind(self, table: Table, current: datetime) -> bool:
        """Whether ``table`` has no row at ``current`` yet (so its count is read from the registry,
        which is done once per interval, not on every pass)."""
        with self._store.begin() as connection:
            latest: datetime | None = connection.execute(select(func.max(table.c.statistics_time))).scalar()
        return latest is None or latest < current

    def _fill_results(self, connection: Connection, interval: str, now: datetime) -> None:
        table = RESULT_TABLES[interval]
        length = INTERVALS[interval]
        last_due = interval_start(now - SETTLE, length) - length  # the latest interval that has ended
        latest: datetime | None = connection.execute(select(func.max(table.c.statistics_time))).scalar()
        if latest is not None:
            first = latest + length
        else:
            earliest: datetime | None = connection.execute(
                select(func.min(EXECUTIONS.c.complete_time)).where(
                    EXECUTIONS.c.complete_time >= now - RESULT_HORIZON[interval]
                )
            ).scalar()
            first = interval_start(earliest, length) if earliest is not None else last_due
        if first > last_due:
            return
        counts: dict[datetime, list[int]] = {}
        completions = connection.execute(
            select(EXECUTIONS.c.complete_time, EXECUTIONS.c.is_success).where(
                EXECUTIONS.c.complete_time >= first, EXECUTIONS.c.complete_time < last_due + length
            )
        )
        for complete_time, is_success in completions:
            bucket = counts.setdefault(interval_start(complete_time, length), [0, 0])
            bucket[0 if is_success else 1] += 1
        rows = []
        moment = first
        while moment <= last_due:
            success, failed = counts.get(moment, (0, 0))
            rows.append(
                {
                    "success_count": success,
                    "failed_count": failed,
                    "statistics_time": moment,
                    "creation_time": now,
                }
            )
            moment += length
        connection.execute(insert(table), rows)

    def _fill_counts(
        self,
        connection: Connection,
        table: Table,
        column: str,
        count: int,
        current: datetime,
        length: timedelta,
        now: datetime,
    ) -> None:
        """Write ``count`` at ``current``, and the last row's count at each missing step before."""
        last = connection.execute(
            select(table.c.statistics_time, table.c[column]).order_by(table.c.statistics_time.desc()).limit(1)
        ).first()
        rows = []
        if last is not None:
            last_time, last_count = last
            if last_time >= current:
                return
            moment = max(last_time + length, interval_start(current - COUNT_HORIZON, length))
            while moment < current:
                rows.append({column: int(last_count), "statistics_time": moment, "creation_time": now})
                moment += length
        rows.append({column: count, "statistics_time": current, "creation_time": now})
        connection.execute(insert(table), rows)
