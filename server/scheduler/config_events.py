"""Configuration changes this server process's API reports, applied at once (the API has written
them to the registry already): a job registered, updated, disabled or enabled, removed, or
triggered. Changes made through another process reach the core through the registry's watches:
a ready node changed is mirrored here (``ready_changed``); configuration changes start a resync.

Disabling stops a job's (or an app's jobs') timers and kills their tasks; enabling sets the timers
from now on, so fire times that passed while disabled are not run (no backlog burst), while the
runs that waited in the ready queue launch. The API drops the ready runs of an app it disables.
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

    async def job_disabled_changed(self, job_name: str) -> None:
        """The job's disabled flag was set or cleared: reschedule it; kill its tasks if it is
        disabled now."""
        disabled = await self._disabled.ais_job_disabled(job_name)
        await self.job_changed(job_name, kill_running=disabled)

    async def app_disabled_changed(self, app_name: str) -> None:
        """The app's disabled flag was set or cleared: reschedule its jobs; when it is disabled,
        kill their tasks and re-read their ready counts (the API dropped them); when enabled, queue
        a run of each idle DAEMON job."""
        state = self._state
        disabled = await self._disabled.ais_app_disabled(app_name)
        state.touch_app(app_name)
        if disabled:
            state.disabled_apps.add(app_name)
        else:
            state.disabled_apps.discard(app_name)
        jobs = [job for job in state.jobs.values() if job.app_name == app_name]
        now = state.now()
        for job in jobs:
            state.touch(job.job_name)
            state.schedule(job, now)
        if disabled:
            for job in jobs:
                await self._kills.kill_job_tasks(job.job_name)
            await self._ready_runs.reload([job.job_name for job in jobs])
        else:
            idle_daemons = state.idle_daemons(jobs)
            if idle_daemons:
                await self._ready_runs.add(idle_daemons)
        await self._launcher.launch()
        await self._offer_policy.manage()

    async def app_removed(self, app_name: str, job_names: list[str]) -> None:
        """The registry already dropped the app and its jobs: forget them and kill their tasks."""
        state = self._state
        names = set(job_names) | {name for name, job in state.jobs.items() if job.app_name == app_name}
        for name in sorted(names):
            await self._kills.drop_job(name)
        state.touch_app(app_name)
        state.apps.pop(app_name, None)
        state.app_zxids.pop(app_name, None)
        state.disabled_apps.discard(app_name)

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
