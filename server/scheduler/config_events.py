"""Configuration changes this server process's API reports, applied at once (the API has written
them to the registry already): a job registered, updated, disabled or enabled, removed, or
triggered. Changes made through another process reach the core through the registry's watches:
a ready node changed is mirrored here (``ready_changed``); configuration changes start a resync.
"""

from __future__ import annotations

from server.registry.disabled import DisabledFlags
from server.registry.ready import ReadyQueue
from server.scheduler.job_reads import JobReads
from server.scheduler.kills import Kills
from server.scheduler.launch import Launcher
from server.scheduler.offer_policy import OfferPolicy
from server.scheduler.ready_runs import ReadyRuns
from server.scheduler.state import SchedulerState


class ConfigEvents:
    def __init__(
        self,
        state: SchedulerState,
        job_reads: JobReads,
        *,
        disabled: DisabledFlags,
        ready: ReadyQueue,
        ready_runs: ReadyRuns,
        kills: Kills,
        launcher: Launcher,
        offer_policy: OfferPolicy,
    ) -> None:
        self._state = state
        self._job_reads = job_reads
        self._disabled = disabled
        self._ready = ready
        self._ready_runs = ready_runs
        self._kills = kills
        self._launcher = launcher
        self._offer_policy = offer_policy

    async def job_changed(self, job_name: str, *, kill_running: bool) -> None:
        """Reload and reschedule the job; with ``kill_running``, kill its running tasks."""
        state = self._state
        state.touch(job_name)
        state.unrecordable.discard(job_name)
        job = await self._job_reads.read_job(job_name)
        state.disabled_jobs.discard(job_name)
        if await self._disabled.ais_job_disabled(job_name):
            state.disabled_jobs.add(job_name)
        if job is None:
            await self._kills.drop_job(job_name)
            return
        app = await self._job_reads.read_app(job.app_name)
        if app is not None:
            state.touch_app(app.app_name)
            state.apps[app.app_name] = app
        previous = state.jobs.get(job_name)
        state.jobs[job_name] = job
        state.schedule(job, state.now())
        if kill_running and previous is not None:
            await self._kills.kill_job_tasks(job_name)
        if state.idle_daemons([job]):
            await self._ready_runs.add([job_name])
        await self._launcher.launch()
        await self._offer_policy.manage()

    async def job_removed(self, job_name: str) -> None:
        """The registry already dropped the job's nodes: forget it and kill its tasks."""
        await self._kills.drop_job(job_name)

    async def ready_changed(self, job_name: str) -> None:
        """A watch saw the job's ready node change: when it is not the count memory holds (a write
        of another replica, not our own), mirror it as a trigger."""
        entry = await self._ready.aget(job_name)
        held = self._state.ready.get(job_name)
        if entry is None or (held is not None and tuple(held) == tuple(entry)):
            return
        await self.job_triggered(job_name)

    async def job_triggered(self, job_name: str) -> None:
        """The API queued a run in ZooKeeper: mirror it and launch."""
        state = self._state
        state.touch(job_name)
        entry = await self._ready.aget(job_name)
        if entry is None:
            state.ready.pop(job_name, None)
        else:
            state.ready[job_name] = entry
        job = state.jobs.get(job_name)
        if job is None:  # registered through another server process
            job = await self._job_reads.read_job(job_name)
            if job is not None:
                state.jobs[job_name] = job
                state.schedule(job, state.now())
        if job is not None and job.app_name not in state.apps:
            app = await self._job_reads.read_app(job.app_name)
            if app is not None:
                state.touch_app(app.app_name)
                state.apps[app.app_name] = app
        await self._launcher.launch()
        await self._offer_policy.manage()
