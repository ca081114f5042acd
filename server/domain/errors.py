"""The domain error tree. Domain code raises these; the API's ``ErrorInterceptor``
(``server.api.interceptors``) maps them to gRPC status codes, and Envoy maps those to HTTP."""

from __future__ import annotations


class ElasticJobError(Exception):
    """Base of every error the domain raises on purpose."""


class ConfigurationError(ElasticJobError):
    """The server's own settings are unusable; it refuses to start."""


class InvalidArgument(ElasticJobError):
    """A request field breaks its rule. ``field`` is the JSON name of the field, when one is to blame."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unauthenticated(ElasticJobError):
    """No token, a forged or expired token, or wrong credentials."""


class NotFound(ElasticJobError):
    """The named resource does not exist."""


class AppNotFound(NotFound):
    def __init__(self, app_name: str) -> None:
        super().__init__(f"app '{app_name}' does not exist")
        self.app_name = app_name


class JobNotFound(NotFound):
    def __init__(self, job_name: str) -> None:
        super().__init__(f"job '{job_name}' does not exist")
        self.job_name = job_name


class AlreadyExists(ElasticJobError):
    """A resource with that name exists already."""


class AppAlreadyExists(AlreadyExists):
    def __init__(self, app_name: str) -> None:
        super().__init__(f"app '{app_name}' already exists")
        self.app_name = app_name


class JobAlreadyExists(AlreadyExists):
    def __init__(self, job_name: str) -> None:
        super().__init__(f"job '{job_name}' already exists")
        self.job_name = job_name


class FailedPrecondition(ElasticJobError):
    """The request is well-formed but the resource's state forbids it (disabled job, DAEMON trigger)."""


class Conflict(ElasticJobError):
    """A concurrent change won the race; the request may be retried."""


class RegistryUnavailable(ElasticJobError):
    """ZooKeeper cannot be reached within the configured time."""


class HistoryUnavailable(ElasticJobError):
    """The trace store (the database of run history and statistics) cannot be reached."""
