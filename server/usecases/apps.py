"""Use cases on applications, one method per API request: only validated value objects are
written, so a refused request writes nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from server.domain.app import AppConfig
from server.domain.errors import AppAlreadyExists, Conflict
from server.registry.apps import AppRepository

log = logging.getLogger("server.usecases")

_CAS_ATTEMPTS = 10


class AppManager:
    def __init__(self, apps: AppRepository) -> None:
        self._apps = apps

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
