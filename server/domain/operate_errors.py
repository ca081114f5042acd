"""Errors of the operations API, beside the main tree in ``server.domain.errors``."""

from __future__ import annotations

from server.domain.errors import ElasticJobError


class TooManyRequests(ElasticJobError):
    """A rate-limited request came inside its window; ``retry_after`` is the whole seconds to wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClusterUnavailable(ElasticJobError):
    """The Mesos master (or one of its agents) could not be read in time."""
