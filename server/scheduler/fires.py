"""Cron fires recorded: each fire of an enabled TRANSIENT job queues runs of it.

A fire is held until ZooKeeper has recorded it: as a ready count, or, when its job launches at
once on the offers on hand, by that launch's transaction (the run it would have queued is the run
launched, so no ready-queue write comes first). A step that fails (ZooKeeper away) leaves the
fires not yet recorded in ``unrecorded``; the next step records them, and none twice. With
misfire on, fires while the job runs accumulate in the ready queue; with it off, at most one run
waits.

A fire standing for several fire times (missed while no scheduler ran, or while it was late;
see ``timers``) queues one run per fire time with misfire on, one run with it off; fire times
older than the catch-up window are logged as skipped, once per job. After a step whose fires are
all recorded, the fire checkpoint (``/ha/fired_until``) is moved to the step's time, at most
once a second unless fires were recorded, so a successor knows from when to catch up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from server.domain.errors import ElasticJobError
from server.registry.fire_checkpoint import FireCheckpoint
from server.scheduler.launch import Launcher
from server.scheduler.ready_runs import ReadyRuns
from server.scheduler.state import ReadyEntry, SchedulerState
from server.scheduler.timers import Fire

log = logging.getLogger("server.scheduler")

CHECKPOINT_REFRESH = timedelta(seconds=1)


class FireRecorder:
    def __init__(
        self,
        state: SchedulerState,
        ready_runs: ReadyRuns,
        launcher: Launcher,
        checkpoint: FireCheckpoint | None = None,
    ) -> None:
        self._state = state
        self._ready_runs = ready_runs
        self._launcher = launcher
        self._checkpoint = checkpoint
        self._checkpointed: datetime | None = None
        self.unrecorded: list[Fire] = []
        #: Hears the fires taken from the timers, with the time they were taken.
        self.on_fired: Callable[[list[Fire], datetime], None] | None = None

    async def record_due(self) -> None:
        """Take the fires now due from the timers and record them with those still unrecorded,
        then move the fire checkpoint."""
        now = self._state.now()
        due = self._state.timers.due(now)
        if due and self.on_fired is not None:
            self.on_fired(due, now)
        self.unrecorded += due
        if self.unrecorded:
            await self.record(list(self.unrecorded))
        if not self.unrecorded:
            await self._move_checkpoint(now, recorded=bool(due))

    async def _move_checkpoint(self, now: datetime, *, recorded: bool) -> None:
        if self._checkpoint is None:
            return
        last = self._checkpointed
        if not recorded and last is not None and now - last < CHECKPOINT_REFRESH:
            return
        try:
            await self._checkpoint.aset(now)
        except ElasticJobError as exc:  # the next step tries again
            log.debug("fire checkpoint not written: %s", exc)
            return
        self._checkpointed = now

    async def record(self, fires: list[Fire]) -> None:
        """Queue the runs of each fired job; each fire leaves ``unrecorded`` once ZooKeeper holds
        its runs (or its job no longer takes fires), so a failure part-way records the rest on the
        next step and none twice."""
        state = self._state
        counts: dict[str, int] = {}  # fire times per job, in fire order
        for fire in fires:
            job = state.jobs.get(fire.job_name)
            if job is None or not state.enabled(job) or job.is_daemon:
                continue
            counts[fire.job_name] = counts.get(fire.job_name, 0) + fire.count
        self._report_catch_up(fires, counts)
        runs = {name: count if state.jobs[name].misfire else 1 for name, count in counts.items() if count}
        names = list(runs)
        settled = {fire.job_name for fire in fires} - runs.keys()
        try:
            if names:
                log.debug("cron fired %d job(s): %s", len(names), ", ".join(names[:10]))
                unlaunched = await self._launch_fired(names, runs, settled.update)
                if unlaunched:
                    await self._ready_runs.add(unlaunched, recorded=settled.update, runs=runs)
        finally:
            self.unrecorded = [f for f in self.unrecorded if f.job_name not in settled]

    def _report_catch_up(self, fires: list[Fire], counts: dict[str, int]) -> None:
        """Log, once per job, the fire times caught up and those skipped."""
        state = self._state
        reported: set[str] = set()
        for fire in fires:
            name = fire.job_name
            if name not in counts or name in reported or (fire.count <= 1 and not fire.skipped):
                continue
            reported.add(name)
            skipped = sum(f.skipped for f in fires if f.job_name == name)
            if skipped:
                since = min(f.skipped_since for f in fires if f.job_name == name and f.skipped_since)
                log.warning(
                    "job %s: %s missed fire time(s) since %s skipped: older than the catch-up window "
                    "(%.0f s) or beyond its %d runs",
                    name,
                    skipped,
                    since.isoformat(),
                    state.settings.catch_up_seconds,
                    state.settings.catch_up_runs,
                )
            count = counts[name]
            if count > 1 or skipped:
                misfire = state.jobs[name].misfire
                log.info(
                    "job %s: catching up %d missed fire time(s) from %s with %s",
                    name,
                    count,
                    fire.scheduled_at.isoformat(),
                    f"{count} run(s) (misfire on)" if misfire else "one run (misfire off)",
                )

    async def _launch_fired(
        self, names: list[str], runs: dict[str, int], recorded: Callable[[Iterable[str]], None]
    ) -> list[str]:
        """Launch fired jobs that fit the offers on hand straight away: the launch transaction
        records the run (running nodes; the ready count as it stands after the fire and the
        launch), so the fire needs no transaction of its own. Returns the jobs whose fire is still
        to be written."""
        state = self._state
        if state.mesos is None or state.framework_id is None or not len(state.offers):
            return names
        fired: dict[str, ReadyEntry] = {}
        for name in names:
            job = state.jobs[name]
            count, version = state.ready.get(name, (0, None))
            wanted = count + runs[name] if job.misfire else max(count, 1)
            if wanted != count:
                fired[name] = (wanted, version)
        if not fired:
            return names
        result = self._launcher.match(fired)
        if not result.placements:
            return names
        launched: set[str] = set()

        def on_launched(jobs: list[str]) -> None:
            done = [name for name in jobs if name in fired]
            launched.update(done)
            recorded(done)

        lost = await self._launcher.record_and_accept(result, fired, on_launched)
        if lost:
            # A job changed since it was read: its fire came from the earlier configuration.
            replaced = await self._launcher.reread_after_race(lost)
            recorded(replaced)
            launched.update(replaced)
        return [name for name in names if name not in launched]
