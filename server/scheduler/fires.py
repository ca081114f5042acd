"""Cron fires recorded: each fire of an enabled TRANSIENT job queues one run of it.

A fire is held until ZooKeeper has recorded it: as a ready count, or, when its job launches at
once on the offers on hand, by that launch's transaction (the run it would have queued is the run
launched, so no ready-queue write comes first). A step that fails (ZooKeeper away) leaves the
fires not yet recorded in ``unrecorded``; the next step records them, and none twice. With
misfire on, fires while the job runs accumulate in the ready queue; with it off, at most one run
waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from server.scheduler.launch import Launcher
from server.scheduler.ready_runs import ReadyRuns
from server.scheduler.state import ReadyEntry, SchedulerState
from server.scheduler.timers import Fire

log = logging.getLogger("server.scheduler")


class FireRecorder:
    def __init__(self, state: SchedulerState, ready_runs: ReadyRuns, launcher: Launcher) -> None:
        self._state = state
        self._ready_runs = ready_runs
        self._launcher = launcher
        self.unrecorded: list[Fire] = []

    async def record_due(self) -> None:
        """Take the fires now due from the timers and record them with those still unrecorded."""
        self.unrecorded += self._state.timers.due(self._state.now())
        if self.unrecorded:
            await self.record(list(self.unrecorded))

    async def record(self, fires: list[Fire]) -> None:
        """Queue a run of each fired job; each fire leaves ``unrecorded`` once ZooKeeper holds its
        run (or its job no longer takes fires), so a failure part-way records the rest on the next
        step and none twice."""
        state = self._state
        fired: dict[str, None] = {}  # one run per job, in fire order
        for fire in fires:
            job = state.jobs.get(fire.job_name)
            if job is None or not state.enabled(job) or job.is_daemon:
                continue
            fired[fire.job_name] = None
        names = list(fired)
        settled = {fire.job_name for fire in fires} - fired.keys()
        try:
            if names:
                log.debug("cron fired %d job(s): %s", len(names), ", ".join(names[:10]))
                unlaunched = await self._launch_fired(names, settled.update)
                if unlaunched:
                    await self._ready_runs.add(unlaunched, recorded=settled.update)
        finally:
            self.unrecorded = [f for f in self.unrecorded if f.job_name not in settled]

    async def _launch_fired(self, names: list[str], recorded: Callable[[Iterable[str]], None]) -> list[str]:
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
            wanted = count + 1 if job.misfire else max(count, 1)
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
            await self._launcher.reread_after_race(lost)
        return [name for name in names if name not in launched]
