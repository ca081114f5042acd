"""Reading one job (or app) back into memory, and what memory does when the node read is not the
one it held.

Each configuration memory holds carries the ``JobStamp`` of its read; launches and queued fires
check it, so a run planned with a configuration that is no longer the stored one fails to commit
and the job is read again (``refresh``). A job whose name was registered again (another node:
another creation zxid) starts with nothing of the earlier job: its queued runs, failover shards
and attempts and kill in progress are dropped, its queues read afresh, and the earlier job's
tasks are killed and followed as orphans, so their ends queue nothing for the new job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from server.domain.app import AppConfig
from server.domain.job import JobConfig
from server.registry.apps import AppRepository, UnreadableApp
from server.registry.failover import FailoverQueue
from server.registry.jobs import JobRepository, StoredJob, UnreadableJob
from server.registry.ready import ReadyQueue
from server.scheduler.kills import Kills
from server.scheduler.state import SchedulerState

log = logging.getLogger("server.scheduler")


class JobReads:
    def __init__(
        self,
        state: SchedulerState,
        *,
        jobs: JobRepository,
        apps: AppRepository,
        ready: ReadyQueue,
        failover: FailoverQueue,
        kills: Kills,
    ) -> None:
        self._state = state
        self._jobs = jobs
        self._apps = apps
        self._ready = ready
        self._failover = failover
        self._kills = kills

    async def read_job(self, name: str) -> JobConfig | None:
        """Read one job for memory to hold (its stamp noted; a name registered again ends the
        earlier job's runs first); None when absent or unreadable."""
        stored = await self._get(name)
        if stored is None:
            return None
        await self._note(name, stored)
        return stored.job

    async def read_app(self, name: str) -> AppConfig | None:
        """Read one app for memory to hold (its zxid noted); None when absent or unreadable."""
        try:
            stored = await self._apps.aget(name)
        except UnreadableApp as exc:
            log.warning("app %s is unreadable: %s", name, exc)
            return None
        if stored is None:
            return None
        self._state.app_zxids[name] = stored.zxid
        return stored.app

    async def refresh(self, names: Iterable[str]) -> list[str]:
        """Read the jobs again after a transaction planned with their configuration failed: a job
        gone is dropped (its tasks killed), a changed one takes the stored configuration (timer
        reset; its tasks killed, as an update does), an unchanged one only its new stamp. Returns
        the jobs whose configuration memory replaced."""
        state = self._state
        names = list(names)
        reads = await asyncio.gather(*map(self._jobs.aget, names), return_exceptions=True)
        replaced: list[str] = []
        for name, stored in zip(names, reads, strict=True):
            previous = state.jobs.get(name)
            state.touch(name)
            if isinstance(stored, UnreadableJob):
                log.warning("job %s is unreadable and will not be scheduled: %s", name, stored)
                state.forget_job(name)
                continue
            if isinstance(stored, BaseException):
                raise stored
            if stored is None:
                await self._kills.drop_job(name)
                continue
            if await self._note(name, stored):
                previous = None
            job = stored.job
            if previous == job:
                continue
            state.jobs[name] = job
            state.unrecordable.discard(name)
            if job.app_name not in state.apps:
                app = await self.read_app(job.app_name)
                if app is not None:
                    state.touch_app(app.app_name)
                    state.apps[app.app_name] = app
            state.schedule(job, state.now())
            if previous is not None:
                log.info("job %s changed since it was read; its tasks are killed", name)
                await self._kills.kill_job_tasks(name)
            replaced.append(name)
        return replaced

    def registered_again(self, name: str, created: int) -> bool:
        """Whether memory holds an earlier node of the job than the one created at ``created``."""
        held = self._state.job_stamps.get(name)
        return held is not None and held.created != created

    async def end_earlier_job(self, name: str) -> None:
        """The job's name was registered again: drop what memory holds of the earlier job's runs
        (its tasks killed, followed as orphans). The queues are not read here."""
        log.info("job %s was registered again: nothing of the earlier job is kept", name)
        for task in self._state.end_runs(name):
            await self._kills.send(task.task_id)

    async def _note(self, name: str, stored: StoredJob) -> bool:
        """Note the read's stamp; for a name registered again, end the earlier job and read its
        queues. Returns whether it was registered again."""
        state = self._state
        again = self.registered_again(name, stored.stamp.created)
        state.job_stamps[name] = stored.stamp
        if not again:
            return False
        await self.end_earlier_job(name)
        entry, failover = await asyncio.gather(self._ready.aget(name), self._failover.load_jobs([name]))
        if entry is not None:
            state.ready[name] = entry
        state.failover = dict(sorted((state.failover | failover).items()))
        return True

    async def _get(self, name: str) -> StoredJob | None:
        try:
            return await self._jobs.aget(name)
        except UnreadableJob as exc:
            log.warning("job %s is unreadable and will not be scheduled: %s", name, exc)
            return None
