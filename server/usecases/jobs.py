"""Use cases on jobs, one method per API request: only validated value objects are written, so
a refused request writes nothing.

``JobEvents`` is how the scheduler hears about configuration changes at once (registration,
update, removal, trigger); without a scheduler attached the events go nowhere and the registry
alone holds the state, which any scheduler reads when it starts.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from server.domain.errors import Conflict, FailedPrecondition, JobAlreadyExists, JobNotFound
from server.domain.job import JobConfig
from server.domain.task import ShardRef, TaskId
from server.registry.disabled import DisabledFlags
from server.registry.failover import FailoverEntry, FailoverQueue
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.running import RunningTasks

log = logging.getLogger("server.usecases")

_CAS_ATTEMPTS = 10


class JobEvents(Protocol):
    """What the scheduler wants to hear, after the registry has been changed."""

    def job_registered(self, job: JobConfig) -> None: ...
    def job_updated(self, job: JobConfig) -> None: ...
    def job_deregistered(self, job_name: str) -> None: ...
    def job_triggered(self, job: JobConfig) -> None: ...
    def job_disabled_changed(self, job_name: str) -> None: ...


class NoJobEvents:
    """Used when no scheduler runs in this process."""

    def job_registered(self, job: JobConfig) -> None:
        pass

    def job_updated(self, job: JobConfig) -> None:
        pass

    def job_deregistered(self, job_name: str) -> None:
        pass

    def job_triggered(self, job: JobConfig) -> None:
        pass

    def job_disabled_changed(self, job_name: str) -> None:
        pass


class JobManager:
    def __init__(
        self,
        jobs: JobRepository,
        ready_queue: ReadyQueue,
        disabled: DisabledFlags,
        events: JobEvents | None = None,
    ) -> None:
        self._jobs = jobs
        self._ready_queue = ready_queue
        self._disabled = disabled
        self._running = RunningTasks(jobs.zookeeper)
        self._failover = FailoverQueue(jobs.zookeeper)
        self.events: JobEvents = events or NoJobEvents()

    def list_all(self) -> list[JobConfig]:
        """Every job, in name order."""
        return self._jobs.list_all()

    def get(self, job_name: str) -> JobConfig:
        """The job; JobNotFound when absent."""
        return self._jobs.get(job_name)

    def is_disabled(self, job_name: str) -> bool:
        """True when the job cannot run for being disabled, its app being disabled, or it being
        absent (ElasticJob-Cloud 3.0's answer)."""
        try:
            job = self._jobs.get(job_name)
        except JobNotFound:
            return True
        return self._disabled.is_job_disabled(job_name) or self._disabled.is_app_disabled(job.app_name)

    def disable(self, job_name: str) -> None:
        """Flag the job disabled; the scheduler stops firing it and kills its tasks. Its waiting
        runs stay queued."""
        if self._disabled.disable_job(job_name):
            log.info("disabled job %s", job_name)
        self.events.job_disabled_changed(job_name)

    def enable(self, job_name: str) -> None:
        """Clear the job's flag; it fires from now on and its waiting runs launch."""
        if self._disabled.enable_job(job_name):
            log.info("enabled job %s", job_name)
        self.events.job_disabled_changed(job_name)

    def running_tasks(self) -> list[TaskId]:
        """Every task recorded as running, by job name and shard."""
        return self._running.list_all()

    def ready_runs(self) -> dict[str, int]:
        """Every job with runs waiting, and how many, in name order."""
        return self._ready_queue.list_all()

    def failover_shards(self) -> list[tuple[ShardRef, FailoverEntry]]:
        """Every shard waiting to run again, by job name and shard."""
        return self._failover.list_all()

    def register(self, job: JobConfig) -> JobConfig:
        """Create the job; registering a job identical to the stored one succeeds again (the retry
        of a register whose outcome was unknown), a different one is JobAlreadyExists."""
        try:
            self._jobs.create(job)
        except JobAlreadyExists:
            if replace(self._jobs.get(job.job_name), extra=job.extra) != job:
                raise
            log.info("job %s is already registered as sent", job.job_name)
            self.events.job_registered(job)
            return job
        log.info("registered job %s on app %s", job.job_name, job.app_name)
        self.events.job_registered(job)
        return job

    def update(self, job: JobConfig) -> JobConfig:
        """Replace the configuration; keys another tool stored (3.0's Lite keys) are kept. A
        configuration equal to the stored one is not written again."""
        for _ in range(_CAS_ATTEMPTS):
            stored = self._jobs.get_document(job.job_name)
            stored_job = JobConfig.from_document(stored.document)
            updated = replace(job, extra=stored_job.extra)
            if updated == stored_job:  # nothing to change (or the retry of an update that was stored)
                self.events.job_updated(updated)
                return updated
            try:
                self._jobs.replace(updated, stored.version)
            except Conflict:
                continue
            log.info("updated job %s", job.job_name)
            self.events.job_updated(updated)
            return updated
        raise Conflict(f"job '{job.job_name}' kept changing; try again")

    def deregister(self, job_name: str) -> None:
        for attempt in range(_CAS_ATTEMPTS):
            try:
                self._jobs.delete(job_name)
                break
            except Conflict:
                if attempt == _CAS_ATTEMPTS - 1:
                    raise
        log.info("deregistered job %s", job_name)
        self.events.job_deregistered(job_name)

    def trigger(self, job_name: str) -> None:
        """Queue one run now. Only TRANSIENT, enabled jobs of enabled apps can be triggered."""
        job = self._jobs.get(job_name)
        if job.is_daemon:
            raise FailedPrecondition(
                f"job '{job_name}' is a DAEMON job; only TRANSIENT jobs can be triggered"
            )
        if self._disabled.is_job_disabled(job_name):
            raise FailedPrecondition(f"job '{job_name}' is disabled")
        if self._disabled.is_app_disabled(job.app_name):
            raise FailedPrecondition(f"app '{job.app_name}' of job '{job_name}' is disabled")
        waiting = self._ready_queue.add(job_name, accumulate=job.misfire)
        log.info("triggered job %s (%d run(s) waiting)", job_name, waiting)
        self.events.job_triggered(job)
