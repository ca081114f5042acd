"""One timer structure for every cron job: a heap of next fire times (no thread or poll per job).

Pure: it is told the time. ``due(now)`` returns the jobs whose fire time has come and schedules
their next fire. Fire times passed while nobody asked (a late step, a scheduler that took over
from one that died) are not coalesced silently: a job's ``Fire`` says how many fire times it
stands for (``count``: those within ``catch_up_seconds`` of ``now``, at most ``catch_up_runs``)
and how many older ones were skipped; the caller decides how many runs that makes (see
``fires``). Changing or removing a job is O(log n): stale heap entries are skipped lazily by a
per-job generation number.

``due`` only pops: the next fire times of the jobs whose fire is less than a second late (no
other fire time can lie between it and ``now``: cron has whole seconds) are computed on the next
call that needs them (any other method), so a burst of fires is handed on before a cron
expression is evaluated for each of them (about 10 us per job: 10 ms for a thousand jobs firing
together).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.base.cron import CronExpression

#: Fire times older than the catch-up window are counted up to this many (then "at least").
SKIPPED_COUNT_LIMIT = 1000
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Fire:
    """A job's fire: ``scheduled_at`` is the first fire time handed on, ``count`` how many fire
    times up to now it stands for (0: all were skipped); ``skipped`` fire times (from
    ``skipped_since``) were older than the catch-up window or beyond its cap."""

    job_name: str
    scheduled_at: datetime
    count: int = 1
    skipped: int = 0
    skipped_since: datetime | None = None


class CronTimers:
    def __init__(self, *, catch_up_seconds: float = 60.0, catch_up_runs: int = 10) -> None:
        self._heap: list[tuple[float, int, str, int]] = []
        self._crons: dict[str, CronExpression] = {}
        self._generation: dict[str, int] = {}
        self._next: dict[str, datetime] = {}
        self._sequence = 0
        self._catch_up = timedelta(seconds=catch_up_seconds)
        self._catch_up_runs = max(catch_up_runs, 1)
        # Popped by ``due`` and not yet rescheduled: (job, its fire time, generation).
        self._fired: list[tuple[str, datetime, int]] = []

    def __len__(self) -> int:
        return len(self._crons)

    def __contains__(self, job_name: object) -> bool:
        return job_name in self._crons

    def set(
        self, job_name: str, cron: CronExpression, now: datetime, *, since: datetime | None = None
    ) -> datetime | None:
        """(Re)schedule ``job_name`` from ``now``, or from ``since`` (earlier: its fire times after
        ``since`` are due at once, as missed ones); returns its next fire time (None: never)."""
        self._crons[job_name] = cron
        self._generation[job_name] = self._generation.get(job_name, 0) + 1
        start = now if since is None or since > now else since.astimezone(now.tzinfo)
        return self._push(job_name, cron.next_fire_after(start))

    def remove(self, job_name: str) -> None:
        self._crons.pop(job_name, None)
        self._next.pop(job_name, None)
        self._generation[job_name] = self._generation.get(job_name, 0) + 1

    def job_names(self) -> list[str]:
        return list(self._crons)

    def next_fire(self, job_name: str) -> datetime | None:
        self._reschedule_fired()
        return self._next.get(job_name)

    def next_deadline(self) -> datetime | None:
        """The earliest pending fire time, or None when no job is scheduled."""
        self._reschedule_fired()
        self._drop_stale()
        if not self._heap:
            return None
        return self._next[self._heap[0][2]]

    def due(self, now: datetime) -> list[Fire]:
        """Pop every fire at or before ``now`` (one per job, standing for all its fire times up to
        ``now``); each job's next fire is after ``now``."""
        self._reschedule_fired()
        fires: list[Fire] = []
        moment = now.timestamp()
        late: list[tuple[str, datetime | None]] = []
        while self._heap:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > moment:
                break
            _, _, job_name, generation = heapq.heappop(self._heap)
            scheduled = self._next.pop(job_name)
            if now - scheduled < _SECOND:
                fires.append(Fire(job_name, scheduled))
                self._fired.append((job_name, scheduled, generation))
            else:
                fire, following = self._catch_up_fire(job_name, scheduled, now)
                fires.append(fire)
                late.append((job_name, following))
        for job_name, following in late:  # pushed after the loop: each job is due once
            self._push(job_name, following)
        return fires

    def _catch_up_fire(
        self, job_name: str, scheduled: datetime, now: datetime
    ) -> tuple[Fire, datetime | None]:
        """The fire of a job whose fire time ``scheduled`` is a second or more behind ``now``
        (its fire times up to ``now`` counted), and its next fire time after ``now``."""
        cron = self._crons[job_name]
        horizon = now - self._catch_up
        skipped, skipped_since = 0, None
        fire_at: datetime | None = scheduled
        while fire_at is not None and fire_at < horizon:
            if skipped >= SKIPPED_COUNT_LIMIT:  # too many to count: jump to the window
                fire_at = cron.next_fire_after(horizon - timedelta(microseconds=1))
                break
            skipped_since = skipped_since or fire_at
            skipped += 1
            fire_at = cron.next_fire_after(fire_at)
        count, first = 0, None
        while fire_at is not None and fire_at <= now:
            if count < self._catch_up_runs:
                count += 1
                first = first or fire_at
            else:
                skipped_since = skipped_since or fire_at
                skipped += 1
            fire_at = cron.next_fire_after(fire_at)
        return Fire(job_name, first or scheduled, count, skipped, skipped_since), fire_at

    def _reschedule_fired(self) -> None:
        """Schedule the next fire of the jobs ``due`` popped (unless set or removed since)."""
        fired, self._fired = self._fired, []
        for job_name, scheduled, generation in fired:
            if self._generation.get(job_name) != generation or job_name not in self._crons:
                continue
            self._push(job_name, self._crons[job_name].next_fire_after(scheduled))

    def _push(self, job_name: str, fire_at: datetime | None) -> datetime | None:
        if fire_at is None:
            self._next.pop(job_name, None)
            return None
        self._next[job_name] = fire_at
        self._sequence += 1
        heapq.heappush(
            self._heap, (fire_at.timestamp(), self._sequence, job_name, self._generation[job_name])
        )
        return fire_at

    def _drop_stale(self) -> None:
        while self._heap:
            _, _, job_name, generation = self._heap[0]
            if job_name in self._crons and self._generation.get(job_name) == generation:
                return
            heapq.heappop(self._heap)
