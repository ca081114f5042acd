"""Memory brought in line with the registry: the whole of it at ``load``, the changes at each
``resync`` (made through another server process's API, whose events do not reach this core).

Both read ZooKeeper concurrently and decode only the job and app nodes modified since the last
read. A resync reads without holding the core's lock (cron keeps firing meanwhile), then applies
the differences under the lock, leaving alone the jobs and apps the core changed while it read:
its own view of them is the newer one. A job gone has its tasks killed; a job changed or disabled
is rescheduled and its tasks killed; a job new or enabled is scheduled (and a DAEMON one
launched); unchanged jobs are left alone. A job whose name was registered again (another node)
is new: nothing of the earlier job's runs is kept, and its tasks are killed. A node that does not
hold a job keeps the configuration memory had for it (none, if it had none). Every job memory
holds keeps the ``JobStamp`` of the node it was read from (``job_reads``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from server.domain.app import AppConfig
from server.domain.job import JobConfig
from server.domain.task import ShardRef
from server.registry.apps import AppRepository, StoredApps
from server.registry.disabled import DisabledFlags, DisabledNames
from server.registry.failover import FailoverQueue
from server.registry.fire_checkpoint import FireCheckpoint
from server.registry.jobs import JobRepository, JobStamp, StoredJobs
from server.registry.ready import ReadyCount, ReadyQueue
from server.registry.running import RunningTasks
from server.scheduler.job_reads import JobReads
from server.scheduler.kills import Kills
from server.scheduler.launch import Launcher
from server.scheduler.offer_policy import OfferPolicy
from server.scheduler.ready_runs import ReadyRuns
from server.scheduler.state import ReadyEntry, SchedulerState, Touched, TrackedTask

log = logging.getLogger("server.scheduler")


@dataclass(frozen=True, slots=True)
class StoredState:
    """One read of the configuration and the queues."""

    jobs: StoredJobs
    apps: StoredApps
    disabled: DisabledNames
    ready: dict[str, ReadyCount]
    failover: dict[ShardRef, str]


class RegistrySync:
    def __init__(
        self,
        state: SchedulerState,
        *,
        jobs: JobRepository,
        apps: AppRepository,
        disabled: DisabledFlags,
        ready: ReadyQueue,
        running: RunningTasks,
        failover: FailoverQueue,
        checkpoint: FireCheckpoint,
        ready_runs: ReadyRuns,
        kills: Kills,
        job_reads: JobReads,
        launcher: Launcher,
        offer_policy: OfferPolicy,
    ) -> None:
        self._state = state
        self._job_reads = job_reads
        self._jobs = jobs
        self._apps = apps
        self._disabled = disabled
        self._ready = ready
        self._running = running
        self._failover = failover
        self._checkpoint = checkpoint
        self._ready_runs = ready_runs
        self._kills = kills
        self._launcher = launcher
        self._offer_policy = offer_policy

    async def load(self) -> None:
        """Replace memory with what ZooKeeper holds, schedule every job, and queue a run of each
        DAEMON job with nothing running, waiting or failing over.

        Each job is scheduled from the fire checkpoint (or from when its node was last written,
        if later): the fire times no scheduler handed on since are due at once (``timers``)."""
        state = self._state
        stored, checkpoint = await asyncio.gather(self.read(), self._checkpoint.aget())
        self.merge(stored, Touched())
        state.ready = dict(stored.ready)
        state.failover = dict(sorted(stored.failover.items()))
        state.running = {
            shard: TrackedTask(task_id) for shard, task_id in (await self._running.load()).items()
        }
        now = state.now()
        modified = await self._checkpoint.job_modified(list(state.jobs)) if checkpoint else {}
        state.timers = state.new_timers()
        for job in state.jobs.values():
            since = checkpoint
            written = modified.get(job.job_name)
            if since is not None and written is not None and written > since:
                since = written
            state.schedule(job, now, since=since)
        idle_daemons = state.idle_daemons(state.jobs.values())
        if idle_daemons:
            await self._ready_runs.add(idle_daemons)

    async def read(self) -> StoredState:
        """Read jobs and apps (decoding only nodes not at the zxids memory holds), the disabled
        flags and the ready and failover queues, all concurrently."""
        jobs, apps, disabled, ready, failover = await asyncio.gather(
            self._jobs.aread_all({name: stamp.modified for name, stamp in self._state.job_stamps.items()}),
            self._apps.aread_all(dict(self._state.app_zxids)),
            self._disabled.aload(),
            self._ready.aload(),
            self._failover.load(),
        )
        return StoredState(jobs, apps, disabled, ready, failover)

    def merge(self, stored: StoredState, touched: Touched) -> set[str]:
        """Take jobs, apps and disabled flags from ``stored``, except the ``touched`` ones, which
        memory changed after the read began. Returns the jobs present (a job whose node cannot be
        read keeps the configuration we had for it)."""
        state = self._state
        touched_jobs, touched_apps = touched.jobs, touched.apps
        jobs: dict[str, JobConfig] = {}
        job_stamps: dict[str, JobStamp] = {}
        for name, stamp in stored.jobs.stamps.items():
            if name in touched_jobs:
                continue
            job = stored.jobs.jobs.get(name)
            if job is None:
                reason = stored.jobs.unreadable.get(name)
                if reason is not None:
                    log.warning("job %s is unreadable and will not be scheduled: %s", name, reason)
                job = state.jobs.get(name)
                if job is None:
                    continue
                if reason is not None:
                    jobs[name] = job  # its stamp is not recorded: the node is read again next time
                    continue
            jobs[name] = job
            job_stamps[name] = stamp
        present = set(stored.jobs.stamps) - touched_jobs
        for name in touched_jobs:
            if name in state.jobs:
                jobs[name] = state.jobs[name]
                present.add(name)
                if name in state.job_stamps:
                    job_stamps[name] = state.job_stamps[name]

        apps: dict[str, AppConfig] = {}
        app_zxids: dict[str, int] = {}
        for name, zxid in stored.apps.zxids.items():
            if name in touched_apps:
                continue
            app = stored.apps.apps.get(name)
            if app is None:
                reason = stored.apps.unreadable.get(name)
                if reason is not None:
                    log.warning("app %s is unreadable: %s", name, reason)
                    continue
                app = state.apps.get(name)
                if app is None:
                    continue
            apps[name] = app
            app_zxids[name] = zxid
        for name in touched_apps:
            if name in state.apps:
                apps[name] = state.apps[name]
                if name in state.app_zxids:
                    app_zxids[name] = state.app_zxids[name]

        state.jobs, state.job_stamps = jobs, job_stamps
        state.apps, state.app_zxids = apps, app_zxids
        state.disabled_jobs = {name for name in stored.disabled.jobs if name not in touched_jobs} | {
            name for name in state.disabled_jobs if name in touched_jobs
        }
        state.disabled_apps = set(stored.disabled.apps)
        return present

    async def apply(self, stored: StoredState, touched: Touched) -> None:
        """Apply a resync's read (under the core's lock), then launch what now fits."""
        state = self._state
        before = dict(state.jobs)
        was_enabled = {name for name, job in before.items() if state.enabled(job)}
        registered_again = [
            name
            for name, stamp in stored.jobs.stamps.items()
            if name not in touched.jobs and self._job_reads.registered_again(name, stamp.created)
        ]
        present = self.merge(stored, touched)
        for name in registered_again:  # a new job: nothing of the earlier one's runs is kept
            before.pop(name, None)
            was_enabled.discard(name)
            await self._job_reads.end_earlier_job(name)
        ready: dict[str, ReadyEntry] = {
            name: entry for name, entry in stored.ready.items() if name not in touched.jobs
        }
        ready.update((name, entry) for name, entry in state.ready.items() if name in touched.jobs)
        state.ready = ready
        failover = {s: t for s, t in stored.failover.items() if s.job_name not in touched.jobs}
        failover.update((s, t) for s, t in state.failover.items() if s.job_name in touched.jobs)
        state.failover = dict(sorted(failover.items()))
        now = state.now()
        for name in before.keys() - present:
            await self._kills.drop_job(name)
        for name, job in list(state.jobs.items()):
            previous = before.get(name)
            changed = previous is not None and previous is not job and previous != job
            enabled = state.enabled(job)
            if changed:
                state.unrecordable.discard(name)
            if previous is None or changed or (name in was_enabled) != enabled:
                state.schedule(job, now)
            if name in was_enabled and (changed or not enabled):
                await self._kills.kill_job_tasks(name)
        idle_daemons = state.idle_daemons(state.jobs.values())
        if idle_daemons:
            await self._ready_runs.add(idle_daemons)
        await self._launcher.launch()
        await self._offer_policy.manage()
