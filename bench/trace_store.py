"""Trace store throughput: events/s the buffered sink sustains against raw SQLAlchemy inserts.

Each simulated run produces five events (``TASK_STAGING``, ``TASK_RUNNING`` and ``TASK_FINISHED``
status traces, an execution start and its completion), the mix the scheduler hands the sink.

* buffered: every event goes to ``BufferedTraceSink`` (batches of ``--batch`` in one transaction
  each, start/completion pairing and ``original_task_id`` lookup included); timed from the first
  event to the flush. The caller's cost per event (what the scheduler pays) is reported apart.
* raw (baseline): the same events written synchronously by the caller with plain SQLAlchemy Core,
  one transaction per event (insert, or update for a completion), as a writer without batching
  would.

SQLite in a temporary file always; PostgreSQL (a throwaway server from Debian's package, as the
test kit starts it) when its binaries are installed.

    python -m bench.trace_store [--runs 2000] [--batch 500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from server.domain.trace import ExecutionEvent, StatusTrace
from server.trace.sink import BufferedTraceSink
from server.trace.store import TraceStore, naive_utc
from server.trace.tables import EXECUTIONS, STATUS_TRACES
from testkit.postgres import postgres_binaries, postgres_server

Event = StatusTrace | ExecutionEvent


def events(runs: int, tag: str) -> list[Event]:
    now = datetime.now(UTC)
    produced: list[Event] = []
    for n in range(runs):
        task = f"bench_job@-@{n % 10}@-@READY@-@agent@-@{tag}{n}"
        at = now + timedelta(milliseconds=n)
        start = ExecutionEvent(
            id=f"{tag}r{n}", job_name="bench_job", task_id=task, hostname="h", ip="10.0.0.1",
            sharding_item=n % 10, start_time=at,
        )  # fmt: skip
        produced += [
            StatusTrace(
                id=f"{tag}s{n}", job_name="bench_job", task_id=task, state="TASK_STAGING", creation_time=at
            ),
            StatusTrace(
                id=f"{tag}u{n}", job_name="bench_job", task_id=task, state="TASK_RUNNING", creation_time=at
            ),
            start,
            ExecutionEvent(
                id=start.id,
                job_name="bench_job",
                task_id=task,
                hostname="h",
                ip="10.0.0.1",
                sharding_item=n % 10,
                start_time=at,
                complete_time=at,
                is_success=True,
            ),
            StatusTrace(
                id=f"{tag}f{n}", job_name="bench_job", task_id=task, state="TASK_FINISHED", creation_time=at
            ),
        ]
    return produced


def buffered(store: TraceStore, batch: Sequence[Event], batch_size: int) -> tuple[float, float]:
    """(events/s to the flush, the caller's p99 microseconds per event)."""
    sink = BufferedTraceSink(store, capacity=len(batch) + 1, batch_size=batch_size, retention=None)
    sink.start()
    costs: list[float] = []
    begun = time.perf_counter()
    for event in batch:
        offered = time.perf_counter()
        if isinstance(event, StatusTrace):
            sink.status(event)
        else:
            sink.execution(event)
        costs.append(time.perf_counter() - offered)
    sink.flush(600)
    elapsed = time.perf_counter() - begun
    sink.stop()
    assert sink.written == len(batch), (sink.written, sink.dropped)
    return len(batch) / elapsed, statistics.quantiles(costs, n=100)[98] * 1e6


def raw(store: TraceStore, batch: Sequence[Event]) -> float:
    """Events/s written synchronously, one transaction each."""
    begun = time.perf_counter()
    for event in batch:
        with store.engine.begin() as connection:
            if isinstance(event, StatusTrace):
                connection.execute(
                    insert(STATUS_TRACES).values(
                        id=event.id, job_name=event.job_name, original_task_id=event.task_id, task_id=event.task_id,
                        slave_id="", source=str(event.source), execution_type=event.execution_type,
                        sharding_item="[0]", state=event.state, message="", creation_time=naive_utc(event.creation_time),
                    )
                )  # fmt: skip
            elif event.complete_time is None:
                connection.execute(
                    insert(EXECUTIONS).values(
                        id=event.id, job_name=event.job_name, task_id=event.task_id, hostname=event.hostname,
                        ip=event.ip, sharding_item=event.sharding_item, execution_source=str(event.execution_source),
                        is_success=0, start_time=naive_utc(event.start_time or datetime.now(UTC)),
                    )
                )  # fmt: skip
            else:
                connection.execute(
                    update(EXECUTIONS)
                    .where(EXECUTIONS.c.id == event.id)
                    .values(is_success=1, complete_time=naive_utc(event.complete_time))
                )
    return len(batch) / (time.perf_counter() - begun)


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'trace.db'}"


@contextmanager
def postgres_url() -> Iterator[str]:
    with postgres_server() as server:
        yield server.create_database("bench")


def measure(name: str, url_of: Callable[[], AbstractContextManager[str]], runs: int, batch_size: int) -> None:
    with url_of() as url:
        store = TraceStore(url)
        store.create_tables()
        try:
            rate, caller_p99 = buffered(store, events(runs, "b"), batch_size)
            baseline = raw(store, events(runs, "r"))
        finally:
            store.dispose()
    print(
        f"{name:<10} buffered {rate:9.0f} events/s   raw inserts {baseline:8.0f} events/s   "
        f"ratio {rate / baseline:5.1f}x   caller p99 {caller_p99:.1f} us/event",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="simulated runs (five events each)")
    parser.add_argument("--batch", type=int, default=500, help="the sink's batch size")
    arguments = parser.parse_args()
    print(f"{arguments.runs} runs, {arguments.runs * 5} events each way")
    measure("sqlite", sqlite_url, arguments.runs, arguments.batch)
    if postgres_binaries() is not None:
        measure("postgresql", postgres_url, arguments.runs, arguments.batch)
    else:
        print("postgresql: not installed (make deps), skipped")


if __name__ == "__main__":
    main()
