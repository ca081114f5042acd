"""The trace store: writes trace events into ElasticJob's tables and reads them back.

One code path serves SQLite and PostgreSQL (SQLAlchemy Core); the tables are created when
missing, on first use (so a database that is down at start delays nothing). Writes come in batches from :class:`server.trace.sink.BufferedTraceSink`; each batch is
one transaction, so a batch that fails leaves nothing behind and can be written again.
Executions are inserted at start and updated at completion (inserted when the completion finds no
row); a status trace other than ``TASK_STAGING`` gets its ``original_task_id`` from the task's
staging row. Database trouble surfaces as :class:`StoreUnavailable`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    make_url,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

from server.domain.errors import HistoryUnavailable
from server.domain.trace import ExecutionEvent, ExecutionSource, StatusSource, StatusTrace
from server.trace.tables import EXECUTIONS, METADATA, STATUS_TRACES

__all__ = ["HistoryQuery", "Page", "StoreUnavailable", "TraceStore", "first_line", "naive_utc"]

log = logging.getLogger("server.trace")

T = TypeVar("T")
E = TypeVar("E", ExecutionSource, StatusSource)

STAGING = "TASK_STAGING"


class StoreUnavailable(HistoryUnavailable):
    """The trace database did not answer (unreachable, refused, timed out)."""


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as the naive UTC datetime the tables hold (naive input is taken as UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryQuery:
    """One page of a history table: equality ``filters`` (column → value), a time window on the
    table's time column (``start`` inclusive, ``end`` inclusive, aware or naive UTC), ordering by
    ``sort`` (a column; None: the time column), and paging (``page`` from 1)."""

    filters: Mapping[str, str | int] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    sort: str | None = None
    descending: bool = False
    per_page: int = 10
    page: int = 1

    def __post_init__(self) -> None:
        if self.per_page < 1 or self.page < 1:
            raise ValueError("per_page and page must be at least 1")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Rows of one page and the number of rows matching over all pages."""

    total: int
    rows: tuple[T, ...]


def _is_outage(error: sa_exc.SQLAlchemyError) -> bool:
    """Whether ``error`` says the database cannot be reached (as opposed to a bad statement)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


class TraceStore:
    """ElasticJob's trace tables in the database at ``url`` (a SQLAlchemy URL).

    A SQLite file's directory is created when missing; SQLite runs in WAL mode so the API reads
    while the writer writes. PostgreSQL connections give up after ``connect_timeout`` seconds and
    statements after ``statement_timeout`` seconds, so an unreachable database fails fast.
    """

    def __init__(
        self, url: str | URL, *, connect_timeout: float = 2.0, statement_timeout: float = 10.0
    ) -> None:
        parsed = make_url(url)
        self.url = parsed
        self.dialect = parsed.get_backend_name()
        connect_args: dict[str, Any] = {}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = statement_timeout
        elif self.dialect == "postgresql":
            connect_args["connect_timeout"] = max(1, round(connect_timeout))
            connect_args["options"] = f"-c statement_timeout={round(statement_timeout * 1000)}"
        self.engine: Engine = create_engine(
            parsed, pool_pre_ping=True, pool_timeout=connect_timeout, connect_args=connect_args
        )
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._tables_ready = False
        self._tables_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the trace and statistics tables (and the status index) that are missing."""
        with self._tables_lock, self._guard("create the trace tables"):
            METADATA.create_all(self.engine, checkfirst=True)
            self._tables_ready = True

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            if _is_outage(exc):
                raise StoreUnavailable(f"the trace store cannot {doing}: {first_line(exc)}") from exc
            raise

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction (committed on leaving), database trouble as StoreUnavailable.
        The tables are created first when this store has not created them yet."""
        if not self._tables_ready:
            self.create_tables()
        with self._guard("be reached"), self.engine.begin() as connection:
            yield connection

    # -- writes ------------------------------------------------------------------------------------

    def write(self, statuses: Sequence[StatusTrace], executions: Sequence[ExecutionEvent]) -> None:
        """Write one batch in one transaction: status traces, execution starts, completions."""
        with self.begin() as connection:
            if statuses:
                self._write_statuses(connection, statuses)
            if executions:
                self._write_executions(connection, executions)

    def _insert_ignoring_duplicates(self, table: Table) -> Any:
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return dialect_insert(table).on_conflict_do_nothing(index_elements=["id"])

    def _write_statuses(self, connection: Connection, statuses: Sequence[StatusTrace]) -> None:
        originals = {t.task_id: t.original_task_id or t.task_id for t in statuses if t.state == STAGING}
        missing = {t.task_id for t in statuses if t.state != STAGING and not t.original_task_id} - set(
            originals
        )
        if missing:
            rows = connection.execute(
                select(STATUS_TRACES.c.task_id, STATUS_TRACES.c.original_task_id).where(
                    STATUS_TRACES.c.task_id.in_(missing), STATUS_TRACES.c.state == STAGING
                )
            )
            for task_id, original in rows:
                originals.setdefault(task_id, original or task_id)
        values = [
            {
                "id": t.id,
                "job_name": t.job_name,
                "original_task_id": t.original_task_id
                or ("" if t.state == STAGING else originals.get(t.task_id, "")),
                "task_id": t.task_id,
                "slave_id": t.slave_id,
                "source": str(t.source),
                "execution_type": t.execution_type,
                "sharding_item": _items_text(t.sharding_items),
                "state": t.state,
                "message": t.message,
                "creation_time": naive_utc(t.creation_time),
            }
            for t in statuses
        ]
        connection.execute(self._insert_ignoring_duplicates(STATUS_TRACES), values)

    def _write_executions(self, connection: Connection, executions: Sequence[ExecutionEvent]) -> None:
        starts = [e for e in executions if not e.is_completion]
        completions: dict[str, ExecutionEvent] = {}
        for e in executions:
            if e.is_completion:
                completions[e.id] = e
        if starts:
            connection.execute(
                self._insert_ignoring_duplicates(EXECUTIONS), [_execution_row(e) for e in starts]
            )
        if not completions:
            return
        existing = set(
            connection.scalars(select(EXECUTIONS.c.id).where(EXECUTIONS.c.id.in_(list(completions))))
        )
        found = [e for e in completions.values() if e.id in existing]
        if found:
            connection.execute(
                update(EXECUTIONS)
                .where(EXECUTIONS.c.id == bindparam("event_id"))
                .values(
                    is_success=bindparam("success"),
                    complete_time=bindparam("completed"),
                    failure_cause=bindparam("cause"),
                ),
                [
                    {
                        "event_id": e.id,
                        "success": 1 if e.is_success else 0,
                        "completed": naive_utc(e.complete_time) if e.complete_time else None,
                        "cause": e.failure_cause,
                    }
                    for e in found
                ],
            )
        unseen = [e for e in completions.values() if e.id not in existing]
        if unseen:
            connection.execute(
                self._insert_ignoring_duplicates(EXECUTIONS), [_execution_row(e) for e in unseen]
            )

    def delete_older_than(self, cutoff: datetime) -> int:
        """Delete trace rows (executions by start, or completion when unstarted; status traces by
        creation) older than ``cutoff``; how many went."""
        moment = naive_utc(cutoff)
        with self.begin() as connection:
            gone = connection.execute(
                delete(EXECUTIONS).where(
                    func.coalesce(EXECUTIONS.c.start_time, EXECUTIONS.c.complete_time) < moment
                )
            ).rowcount
            gone += connection.execute(
                delete(STATUS_TRACES).where(STATUS_TRACES.c.creation_time < moment)
            ).rowcount
        return int(gone)

    # -- reads -------------------------------------------------------------------------------------

    def executions(self, query: HistoryQuery) -> Page[ExecutionEvent]:
        """One page of ``JOB_EXECUTION_LOG``, the window on ``start_time``."""
        total, rows = self._page(EXECUTIONS, EXECUTIONS.c.start_time, query)
        return Page(total, tuple(_execution_event(row) for row in rows))

    def status_traces(self, query: HistoryQuery) -> Page[StatusTrace]:
        """One page of ``JOB_STATUS_TRACE_LOG``, the window on ``creation_time``."""
        total, rows = self._page(STATUS_TRACES, STATUS_TRACES.c.creation_time, query)
        return Page(total, tuple(_status_trace(row) for row in rows))

    def last_runs(self, job_name: str) -> dict[int, ExecutionEvent]:
        """The latest run (by start, else completion) of each shard of ``job_name``."""
        moment = func.coalesce(EXECUTIONS.c.start_time, EXECUTIONS.c.complete_time)
        latest = (
            select(EXECUTIONS.c.sharding_item, func.max(moment).label("latest"))
            .where(EXECUTIONS.c.job_name == job_name)
            .group_by(EXECUTIONS.c.sharding_item)
            .subquery()
        )
        statement = (
            select(EXECUTIONS)
            .join(
                latest,
                (EXECUTIONS.c.sharding_item == latest.c.sharding_item) & (moment == latest.c.latest),
            )
            .where(EXECUTIONS.c.job_name == job_name)
            .order_by(EXECUTIONS.c.sharding_item, EXECUTIONS.c.id)
        )
        with self.begin() as connection:
            runs: dict[int, ExecutionEvent] = {}
            for row in connection.execute(statement).mappings():
                runs.setdefault(int(row["sharding_item"]), _execution_event(row))
        return runs

    def _page(self, table: Table, time_column: Any, query: HistoryQuery) -> tuple[int, list[Any]]:
        conditions = []
        for column, value in query.filters.items():
            if column not in table.c:
                raise ValueError(f"{table.name} has no column {column!r}")
            conditions.append(table.c[column] == value)
        if query.start is not None:
            conditions.append(time_column >= naive_utc(query.start))
        if query.end is not None:
            conditions.append(time_column <= naive_utc(query.end))
        if query.sort is not None and query.sort not in table.c:
            raise ValueError(f"{table.name} has no column {query.sort!r}")
        order_column = table.c[query.sort] if query.sort else time_column
        ordering = [order_column.desc() if query.descending else order_column.asc(), table.c.id.asc()]
        counted = select(func.count()).select_from(table).where(*conditions)
        paged = (
            select(table)
            .where(*conditions)
            .order_by(*ordering)
            .limit(query.per_page)
            .offset((query.page - 1) * query.per_page)
        )
        with self.begin() as connection:
            total = int(connection.execute(counted).scalar_one())
            rows = list(connection.execute(paged).mappings()) if total else []
        return total, rows


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def first_line(error: BaseException) -> str:
    """The first line of a database error's own message (the driver's, without the statement)."""
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _items_text(items: Iterable[int]) -> str:
    return "[" + ", ".join(str(item) for item in items) + "]"


def _items_of(text: str) -> tuple[int, ...]:
    inner = text.strip().removeprefix("[").removesuffix("]")
    return tuple(int(part) for part in inner.split(",") if part.strip().lstrip("-").isdigit())


def _execution_row(e: ExecutionEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "job_name": e.job_name,
        "task_id": e.task_id,
        "hostname": e.hostname,
        "ip": e.ip,
        "sharding_item": e.sharding_item,
        "execution_source": str(e.execution_source),
        "failure_cause": e.failure_cause,
        "is_success": 1 if e.is_success else 0,
        "start_time": naive_utc(e.start_time) if e.start_time else None,
        "complete_time": naive_utc(e.complete_time) if e.complete_time else None,
    }


def _execution_event(row: Any) -> ExecutionEvent:
    complete_time = _aware(row["complete_time"])
    return ExecutionEvent(
        id=row["id"],
        job_name=row["job_name"],
        task_id=row["task_id"],
        hostname=row["hostname"],
        ip=row["ip"],
        sharding_item=int(row["sharding_item"]),
        execution_source=_enum_or(ExecutionSource, row["execution_source"], ExecutionSource.NORMAL_TRIGGER),
        start_time=_aware(row["start_time"]),
        complete_time=complete_time,
        is_success=None if complete_time is None else bool(row["is_success"]),
        failure_cause=row["failure_cause"],
    )


def _status_trace(row: Any) -> StatusTrace:
    return StatusTrace(
        id=row["id"],
        job_name=row["job_name"],
        task_id=row["task_id"],
        original_task_id=row["original_task_id"],
        slave_id=row["slave_id"],
        source=_enum_or(StatusSource, row["source"], StatusSource.CLOUD_SCHEDULER),
        execution_type=row["execution_type"],
        sharding_items=_items_of(row["sharding_item"]),
        state=row["state"],
        message=row["message"] or "",
        creation_time=_aware(row["creation_time"]) or datetime.fromtimestamp(0, UTC),
    )


def _enum_or(kind: type[E], value: str, fallback: E) -> E:
    try:
        return kind(value)
    except ValueError:
        return fallback
