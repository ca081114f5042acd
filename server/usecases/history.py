"""Run history and statistics, as the API asks for them.

``History`` checks the query parameters of the history routes (ElasticJob-Cloud 3.0's names:
``per_page``, ``page``, ``sort``, ``order``, ``startTime``, ``endTime`` and the equality filters)
and answers pages from the trace store; it reads the statistics tables for the statistics routes
and counts jobs by execution type from the registry. A bad parameter raises InvalidArgument
naming it, before the store is asked; an unreachable store raises HistoryUnavailable. With
tracing off (no store) the lists are empty and the results zero, as 3.0 answered without a
database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from server.domain.errors import InvalidArgument
from server.domain.trace import ExecutionEvent, StatusSource, StatusTrace
from server.mesos.states import ALL_STATES
from server.trace.statistics import CountStatistics, ResultStatistics, StatisticsReader, interval_start
from server.trace.store import HistoryQuery, Page, TraceStore

__all__ = ["EXECUTION_FIELDS", "STATUS_TRACE_FIELDS", "History", "parse_time"]

#: Most rows one page may hold.
MAX_PER_PAGE = 1000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Row field names (and the other names 3.0 accepted) → ``JOB_EXECUTION_LOG`` columns.
EXECUTION_FIELDS = {
    "id": "id",
    "jobname": "job_name",
    "taskid": "task_id",
    "hostname": "hostname",
    "ip": "ip",
    "shardingitem": "sharding_item",
    "source": "execution_source",
    "executionsource": "execution_source",
    "failurecause": "failure_cause",
    "success": "is_success",
    "issuccess": "is_success",
    "starttime": "start_time",
    "completetime": "complete_time",
}
#: Row field names → ``JOB_STATUS_TRACE_LOG`` columns.
STATUS_TRACE_FIELDS = {
    "id": "id",
    "jobname": "job_name",
    "originaltaskid": "original_task_id",
    "taskid": "task_id",
    "slaveid": "slave_id",
    "source": "source",
    "executiontype": "execution_type",
    "shardingitems": "sharding_item",
    "shardingitem": "sharding_item",
    "state": "state",
    "message": "message",
    "creationtime": "creation_time",
}
#: Equality filters: parameter → column.
EXECUTION_FILTERS = {"jobName": "job_name", "taskId": "task_id", "ip": "ip", "isSuccess": "is_success"}
STATUS_TRACE_FILTERS = {
    "jobName": "job_name",
    "taskId": "task_id",
    "slaveId": "slave_id",
    "source": "source",
    "executionType": "execution_type",
    "state": "state",
}


def parse_time(name: str, raw: str, zone: tzinfo) -> datetime:
    """``raw`` as ``yyyy-MM-dd HH:mm:ss`` in ``zone`` (or ISO 8601 with an offset); InvalidArgument
    naming ``name`` otherwise. ``yyyy-MM-dd+HH:mm:ss`` is taken too: a space sent form-encoded
    (``+``) reaches the server undecoded."""
    text = raw.strip()
    if len(text) == 19 and text[10] == "+":
        text = f"{text[:10]} {text[11:]}"
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=zone)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidArgument(f"{name} must be a time as yyyy-MM-dd HH:mm:ss, not {raw!r}", field=name)
    return moment


def _positive(name: str, raw: str | None, default: int, maximum: int | None = None) -> int:
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not text.isdigit() or int(text) < 1 or (maximum is not None and int(text) > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise InvalidArgument(f"{name} must be a whole number of at least 1{bound}, not {raw!r}", field=name)
    return int(text)


@dataclass(frozen=True, slots=True)
class _Table:
    fields: Mapping[str, str]
    filters: Mapping[str, str]
    check: Callable[[str, str], str | int]


def _check_execution_filter(name: str, value: str) -> str | int:
    if name == "isSuccess":
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return 1
        if lowered in ("false", "0"):
            return 0
        raise InvalidArgument(f"isSuccess must be true or false, not {value!r}", field=name)
    return value


def _check_status_filter(name: str, value: str) -> str | int:
    if name == "source" and value not in {s.value for s in StatusSource}:
        raise InvalidArgument(f"source must be CLOUD_SCHEDULER or CLOUD_EXECUTOR, not {value!r}", field=name)
    if name == "executionType" and value not in ("READY", "FAILOVER"):
        raise InvalidArgument(f"executionType must be READY or FAILOVER, not {value!r}", field=name)
    if name == "state" and value not in ALL_STATES:
        raise InvalidArgument(
            f"state must be a Mesos task state such as TASK_RUNNING, not {value!r}", field=name
        )
    return value


_EXECUTIONS = _Table(EXECUTION_FIELDS, EXECUTION_FILTERS, _check_execution_filter)
_STATUS_TRACES = _Table(STATUS_TRACE_FIELDS, STATUS_TRACE_FILTERS, _check_status_filter)


class History:
    """The history and statistics routes' use cases.

    ``store`` is None when tracing is off. ``zone`` is the zone ``startTime`` / ``endTime`` are
    read in (the server's, as 3.0 read them). ``execution_types()`` answers (TRANSIENT, DAEMON)
    job counts from the registry; ``now`` is injected for tests.
    """

    def __init__(
        self,
        store: TraceStore | None,
        *,
        zone: tzinfo,
        execution_types: Callable[[], tuple[int, int]],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._statistics = StatisticsReader(store) if store is not None else None
        self._zone = zone
        self._execution_types = execution_types
        self._now = now

    @property
    def enabled(self) -> bool:
        """Whether a trace store is configured."""
        return self._store is not None

    # -- history -----------------------------------------------------------------------------------

    def executions(self, params: Mapping[str, str]) -> Page[ExecutionEvent]:
        """A page of runs; ``params`` holds the request's non-empty query parameters."""
        query = self._query(params, _EXECUTIONS)
        if self._store is None:
            return Page(0, ())
        return self._store.executions(query)

    def status_traces(self, params: Mapping[str, str]) -> Page[StatusTrace]:
        """A page of status traces; ``params`` holds the request's non-empty query parameters."""
        query = self._query(params, _STATUS_TRACES)
        if self._store is None:
            return Page(0, ())
        return self._store.status_traces(query)

    def last_runs(self, job_name: str) -> dict[int, ExecutionEvent]:
        """The latest run of each shard of ``job_name`` (empty with tracing off)."""
        return {} if self._store is None else self._store.last_runs(job_name)

    def _query(self, params: Mapping[str, str], table: _Table) -> HistoryQuery:
        filters: dict[str, str | int] = {}
        for name, filter_column in table.filters.items():
            value = params.get(name)
            if value:
                filters[filter_column] = table.check(name, value)
        start = params.get("startTime")
        end = params.get("endTime")
        start_time = parse_time("startTime", start, self._zone) if start else None
        end_time = parse_time("endTime", end, self._zone) if end else None
        if start_time is not None and end_time is not None and end_time < start_time:
            raise InvalidArgument("endTime must not be before startTime", field="endTime")
        sort = params.get("sort")
        column: str | None = None
        if sort:
            column = table.fields.get(sort.replace("_", "").lower())
            if column is None:
                known = ", ".join(sorted({_camel(c) for c in table.fields.values()}))
                raise InvalidArgument(f"sort must name a field ({known}), not {sort!r}", field="sort")
        return HistoryQuery(
            filters=filters,
            start=start_time,
            end=end_time,
            sort=column,
            descending=(params.get("order") or "").strip().upper() == "DESC",
            per_page=_positive("per_page", params.get("per_page"), 10, MAX_PER_PAGE),
            page=_positive("page", params.get("page"), 1),
        )

    # -- statistics --------------------------------------------------------------------------------

    def task_results_since(self, since: str) -> list[ResultStatistics]:
        """Minute results of the last 24 hours for ``last24hours``; [] for anything else."""
        if self._statistics is None or since != "last24hours":
            return []
        return self._statistics.results_since("MINUTE", self._now() - timedelta(hours=24))

    def task_results_of(self, period: str) -> ResultStatistics:
        """``online``: every day row summed; ``lastWeek``: day rows since midnight seven days ago,
        summed; ``lastHour`` / ``lastMinute``: the latest hour / minute row; else zeros."""
        now = self._now()
        if self._statistics is not None:
            if period in ("online", "lastWeek"):
                since: datetime | None = None
                if period == "lastWeek":
                    since = interval_start(now, timedelta(days=1)).replace(tzinfo=UTC) - timedelta(days=7)
                success, failed = self._statistics.result_totals("DAY", since)
                return _zero(now, success, failed)
            if period in ("lastHour", "lastMinute"):
                latest = self._statistics.latest_result("HOUR" if period == "lastHour" else "MINUTE")
                if latest is not None:
                    return latest
        return _zero(now)

    def task_running_since(self, since: str) -> list[CountStatistics]:
        if self._statistics is None or since != "lastWeek":
            return []
        return self._statistics.task_running_since(self._now() - timedelta(days=7))

    def job_running_since(self, since: str) -> list[CountStatistics]:
        if self._statistics is None or since != "lastWeek":
            return []
        return self._statistics.job_running_since(self._now() - timedelta(days=7))

    def job_register(self) -> list[CountStatistics]:
        return [] if self._statistics is None else self._statistics.job_register()

    def execution_type_counts(self) -> tuple[int, int]:
        """(TRANSIENT jobs, DAEMON jobs) registered now."""
        return self._execution_types()


def _zero(now: datetime, success: int = 0, failed: int = 0) -> ResultStatistics:
    return ResultStatistics(
        id=0,
        success_count=success,
        failed_count=failed,
        interval="DAY",
        statistics_time=now,
        creation_time=now,
    )


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.capitalize() for part in rest)
