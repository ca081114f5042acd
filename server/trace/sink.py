"""The buffered trace sink: the scheduler's :class:`~server.domain.trace.TraceSink`, writing to a
:class:`~server.trace.store.TraceStore` from its own thread.

``status()`` and ``execution()`` append to a bounded in-memory buffer and return at once; a writer
thread takes batches off the buffer and writes each in one transaction. While the store cannot be
reached the batch stays in the buffer and is retried with jittered exponential backoff; events
arriving when the buffer is full are dropped and counted. A write that has had no answer for
``stall_after`` seconds (a frozen server or host keeps the connection open, so neither the connect
nor the statement timeout ends it) counts as an outage too. The log says once that the store is
unreachable and once that it is back (with the number dropped meanwhile). A batch the database
refuses for its content (not an outage) is dropped, counted and logged. The same thread deletes
rows older than the retention period once per ``retention_interval``.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exc as sa_exc

from server.base.backoff import Backoff
from server.domain.trace import ExecutionEvent, StatusTrace
from server.trace.store import StoreUnavailable, TraceStore, first_line

__all__ = ["BufferedTraceSink", "SinkStats"]

log = logging.getLogger("server.trace")

_Event = StatusTrace | ExecutionEvent


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters since the sink was made: events written, events dropped, events buffered now."""

    written: int
    dropped: int
    pending: int


class BufferedTraceSink:
    """A TraceSink that never blocks its caller. Start it, hand it events, stop it (which writes
    what is buffered when the store answers, within the stop's timeout)."""

    def __init__(
        self,
        store: TraceStore,
        *,
        capacity: int = 10_000,
        batch_size: int = 500,
        linger: float = 0.05,
        retention: timedelta | None = timedelta(days=30),
        retention_interval: float = 3600.0,
        backoff: Backoff | None = None,
        stall_after: float = 5.0,
    ) -> None:
        if capacity < 1 or batch_size < 1:
            raise ValueError("capacity and batch_size must be at least 1")
        if not stall_after > 0:
            raise ValueError("stall_after must be positive")
        self.store = store
        self.capacity = capacity
        self.batch_size = batch_size
        self.linger = linger
        self.retention = retention
        self.retention_interval = retention_interval
        self.stall_after = stall_after
        self._backoff = backoff or Backoff(initial=0.2, maximum=15.0)
        self._buffer: collections.deque[_Event] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        #: When the write under way began (monotonic), None between writes.
        self._writing_since: float | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0
        self._dropped = 0
        self._outage_dropped_from: int | None = None
        self._next_retention = 0.0

    # -- the TraceSink side (any thread, never blocks on the store) -------------------------------

    def status(self, trace: StatusTrace) -> None:
        self._offer(trace)

    def execution(self, event: ExecutionEvent) -> None:
        self._offer(event)

    def _offer(self, item: _Event) -> None:
        with self._lock:
            stalled = self._stalled()
            if len(self._buffer) >= self.capacity:
                self._dropped += 1
            else:
                self._buffer.append(item)
                if len(self._buffer) == 1 or len(self._buffer) >= self.batch_size:
                    self._wake.notify()
        if stalled:
            self._note_outage(f"a write has had no answer for {self.stall_after:g} s", stalled=True)

    def _stalled(self) -> bool:
        """Whether the write under way has gone unanswered too long, not yet noted (lock held)."""
        return (
            self._writing_since is not None
            and self._outage_dropped_from is None
            and time.monotonic() - self._writing_since >= self.stall_after
        )

    # -- counters -----------------------------------------------------------------------------------

    @property
    def written(self) -> int:
        return self._written

    @property
    def dropped(self) -> int:
        return self._dropped

    def stats(self) -> SinkStats:
        with self._lock:
            return SinkStats(written=self._written, dropped=self._dropped, pending=len(self._buffer))

    @property
    def unreachable(self) -> bool:
        """Whether the last write found the store unreachable."""
        return self._outage_dropped_from is not None

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the writer after it has written what is buffered (at most ``timeout`` seconds)."""
        self._stopping.set()
        with self._lock:
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning(
                    "trace writer still busy after %.1f s; %d events not written", timeout, len(self._buffer)
                )
        left = len(self._buffer)
        if left and (self._thread is None or not self._thread.is_alive()):
            log.warning("%d trace events were not written before stopping", left)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything buffered so far has been written (or dropped); whether it was."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._wake.notify()
            while self._buffer or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    # -- the writer thread --------------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while True:
            with self._lock:
                while not self._buffer and not self._stopping.is_set():
                    self._wake.wait(self._until_retention())
                    if self._retention_due():
                        break
                stopping = self._stopping.is_set()
                if stopping and not self._buffer:
                    self._idle.notify_all()
                    return
            self._maybe_retain()
            if not stopping and self.linger and len(self._buffer) < self.batch_size:
                self._stopping.wait(self.linger)
            with self._lock:
                batch = list(itertools.islice(self._buffer, self.batch_size))
                self._in_flight = len(batch)
                self._writing_since = time.monotonic() if batch else None
            if not batch:
                continue
            written = self._write(batch)
            with self._lock:
                self._writing_since = None
            if written:
                attempt = 0
            elif self._stopping.is_set():
                self._give_up()
                return
            else:
                self._stopping.wait(self._backoff.delay(attempt))
                attempt += 1

    def _write(self, batch: list[_Event]) -> bool:
        """Write ``batch`` (the head of the buffer); whether the buffer moved on."""
        try:
            self._store_write(batch)
        except StoreUnavailable as exc:
            self._note_outage(str(exc))
            return False
        except (sa_exc.SQLAlchemyError, ValueError):
            return self._write_one_by_one(batch)
        self._settle(written=len(batch), dropped=0)
        return True

    def _store_write(self, batch: list[_Event]) -> None:
        statuses = [e for e in batch if isinstance(e, StatusTrace)]
        executions = [e for e in batch if isinstance(e, ExecutionEvent)]
        self.store.write(statuses, executions)

    def _write_one_by_one(self, batch: list[_Event]) -> bool:
        """The store refused ``batch`` for its content (not an outage): write its events singly,
        dropping only those refused, with one log line for the batch."""
        written = 0
        refused: list[str] = []
        outage: StoreUnavailable | None = None
        for event in batch:
            try:
                self._store_write([event])
            except StoreUnavailable as exc:
                outage = exc
                break
            except (sa_exc.SQLAlchemyError, ValueError) as exc:
                refused.append(f"{event.id}: {first_line(exc)}")
            else:
                written += 1
        if refused:
            log.error(
                "the trace store refused %d trace events; dropped: %s", len(refused), "; ".join(refused[:3])
            )
        self._settle(written=written, dropped=len(refused))
        if outage is not None:
            self._note_outage(str(outage))
            return False
        return True

    def _note_outage(self, reason: str, *, stalled: bool = False) -> None:
        """The store is unreachable for ``reason``: say so once per outage. A failed write also
        ends its batch's flight; a ``stalled`` one is still under way."""
        with self._lock:
            if not stalled:
                self._in_flight = 0
            if self._outage_dropped_from is None:
                self._outage_dropped_from = self._dropped
                log.warning(
                    "trace store unreachable (%s): buffering up to %d events, dropping beyond",
                    reason,
                    self.capacity,
                )
            self._idle.notify_all()

    def _settle(self, *, written: int, dropped: int) -> None:
        """The first ``written + dropped`` buffered events are done with."""
        with self._lock:
            for _ in range(written + dropped):
                self._buffer.popleft()
            self._written += written
            self._dropped += dropped
            self._in_flight = 0
            if self._outage_dropped_from is not None and written + dropped:
                log.warning(
                    "trace store reachable again; %d events were dropped while it was not",
                    self._dropped - self._outage_dropped_from,
                )
                self._outage_dropped_from = None
            self._idle.notify_all()

    def _give_up(self) -> None:
        with self._lock:
            self._in_flight = 0
            self._idle.notify_all()

    def _until_retention(self) -> float | None:
        if self.retention is None:
            return None
        return max(0.0, self._next_retention - time.monotonic())

    def _retention_due(self) -> bool:
        return self.retention is not None and time.monotonic() >= self._next_retention

    def _maybe_retain(self) -> None:
        if self.retention is None or not self._retention_due():
            return
        self._next_retention = time.monotonic() + self.retention_interval
        try:
            gone = self.store.delete_older_than(datetime.now(UTC) - self.retention)
        except StoreUnavailable:
            return  # the writes report the outage
        except sa_exc.SQLAlchemyError as exc:
            log.error("could not delete trace rows older than %s: %s", self.retention, exc)
            return
        if gone:
            log.info("deleted %d trace rows older than %d days", gone, self.retention.days)
