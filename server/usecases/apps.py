"""Use cases on applications, one method per API request: only validated value objects are
written, so a refused request writes nothing.

``AppEvents`` is how the scheduler hears at once that an app was disabled, enabled or deleted
(after the registry has been changed); without a scheduler attached the events go nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from server.domain.app import AppConfig
from server.domain.errors import AppAlreadyExists, Conflict, FailedPrecondition
from server.registry.apps import AppRepository
from server.registry.disabled import DisabledFlags
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.transaction_ops import TransactionTooLarge

log = logging.getLogger("server.usecases")

_CAS_ATTEMPTS = 10


class AppEvents(Protocol):
    """What the scheduler wants to hear, after the registry has been changed."""

    def app_disabled_changed(self, app_name: str) -> None: ...
    def app_deleted(self, app_name: str, job_names: list[str]) -> None: ...


class NoAppEvents:
    """Used when no scheduler runs in this process."""

    def app_disabled_changed(self, app_name: str) -> None:
        pass

    def app_deleted(self, app_name: str, job_names: list[str]) -> None:
        pass


class AppManager:
    """The repositories of jobs, flags and the ready queue default to ones on the apps'
    connection."""

    def __init__(
        self,
        apps: AppRepository,
        *,
        jobs: JobRepository | None = None,
        disabled: DisabledFlags | None = None,
        ready_queue: ReadyQueue | None = None,
        events: AppEvents | None = None,
    ) -> None:
        self._apps = apps
        self._jobs = jobs or JobRepository(apps.zookeeper)
        self._disabled = disabled or DisabledFlags(apps.zookeeper)
        self._ready_queue = ready_queue or ReadyQueue(apps.zookeeper)
        self.events: AppEvents = events or NoAppEvents()

    def list_all(self) -> list[AppConfig]:
        """Every app, in name order."""
        return self._apps.list_all()

    def get(self, app_name: str) -> AppConfig:
        """The app; AppNotFound when absent."""
        return self._apps.get(app_name).app

    def is_disabled(self, app_name: str) -> bool:
        """Whether the app's disabled flag is set (the app itself is not looked up, as in 3.0)."""
        return self._disabled.is_app_disabled(app_name)

    def disable(self, app_name: str) -> None:
        """Flag the app disabled and drop its jobs' waiting runs, in one transaction (retried when
        a run is queued meanwhile); the scheduler then kills the app's running tasks."""
        for _ in range(_CAS_ATTEMPTS):
            self._apps.get(app_name)
            names = [job.job_name for job in self._jobs.list_all() if job.app_name == app_name]
            try:
                flagged = self._disabled.disable_app(app_name, self._ready_queue.versions(names))
            except Conflict:
                continue
            if flagged:
                log.info("disabled app %s (%d job(s))", app_name, len(names))
            self.events.app_disabled_changed(app_name)
            return
        raise Conflict(f"the ready queue of app '{app_name}' kept changing; try again")

    def enable(self, app_name: str) -> None:
        """Clear the app's disabled flag; its jobs fire again from now on."""
        if self._disabled.enable_app(app_name):
            log.info("enabled app %s", app_name)
        self.events.app_disabled_changed(app_name)

    def delete(self, app_name: str) -> list[str]:
        """Remove the app, its disabled flag and every job of it with their state, in one
        transaction (retried when the state changes meanwhile); returns the jobs removed. The
        scheduler then kills their tasks and shuts the app's executors down. FailedPrecondition when
        the removal is too large for one transaction (about 1 500 jobs): nothing is removed then."""
        for _ in range(_CAS_ATTEMPTS):
            try:
                removed = self._jobs.delete_app(app_name)
            except Conflict:
                continue
            except TransactionTooLarge as exc:
                raise FailedPrecondition(
                    f"app '{app_name}' has too many jobs to delete in one transaction ({exc}); "
                    "deregister some of its jobs first"
                ) from exc
            log.info("deleted app %s and its %d job(s)", app_name, len(removed))
            self.events.app_deleted(app_name, removed)
            return removed
        raise Conflict(f"app '{app_name}' kept changing while it was being removed; try again")

    def publish(self, app: AppConfig) -> AppConfig:
        """Create the app; publishing an app identical to the stored one succeeds again (the retry
        of a publish whose outcome was unknown), a different one is AppAlreadyExists."""
        try:
            self._apps.create(app)
        except AppAlreadyExists:
            if self._apps.get(app.app_name).app != app:
                raise
            log.info("app %s is already published as sent", app.app_name)
            return app
        log.info("published app %s (%s)", app.app_name, app.app_url)
        return app

    def modify(self, app_name: str, changes: Mapping[str, Any]) -> AppConfig:
        """Change only the given attributes; retried when a concurrent change wins the race."""
        for _ in range(_CAS_ATTEMPTS):
            stored = self._apps.get(app_name)
            changed = stored.app.with_changes(changes)
            if changed == stored.app:
                return stored.app
            try:
                self._apps.replace(changed, stored.version)
            except Conflict:
                continue
            log.info("modified app %s: %s", app_name, ", ".join(sorted(changes)))
            return changed
        raise Conflict(f"app '{app_name}' kept changing; try again")
