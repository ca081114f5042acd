"""The server process's settings, read once from environment variables (ElasticJob-Cloud's names).

Production is the default. Development mode (``ELASTICJOB_MODE=development``, what ``make run``
sets) fills in the API document's credentials (root / pwd) and a random token secret; outside it
the server refuses to start with the password ``pwd`` or without a token secret.

Each default is a field default of :class:`Settings`: ``from_environment`` passes on only the
variables that are set. The scheduler's settings are derived from these by
:meth:`Settings.scheduler_settings`.
"""

from __future__ import annotations

import getpass
import math
import os
import pwd
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from server.base.zones import zone_named
from server.domain.errors import ConfigurationError
from server.scheduler.service import SchedulerSettings
from server.scheduler.settings import CoreSettings
from server.scheduler.taskinfo import executor_file_name, fetched_executor_command

DEVELOPMENT_PASSWORD = "pwd"
DEFAULT_GRPC_ADDRESS = "127.0.0.1:50051"
# -P: the sandbox (the executor's working directory) never shadows our packages.
DEFAULT_EXECUTOR_COMMAND = f"{sys.executable} -P -m server.executor"
#: The variable that names the zone cron expressions are read in, here and in the executor.
TIMEZONE_VARIABLE = "ELASTICJOB_TIMEZONE"

# field -> variable. A variable that is set is taken as it is, even when empty ...
_TEXT = {
    "zk_servers": "ELASTICJOB_ZK_SERVERS",
    "zk_namespace": "ELASTICJOB_ZK_NAMESPACE",
    "grpc_address": "ELASTICJOB_GRPC_ADDRESS",
    "auth_username": "ELASTICJOB_AUTH_USERNAME",
    "auth_password": "ELASTICJOB_AUTH_PASSWORD",
    "token_secret": "ELASTICJOB_TOKEN_SECRET",
}
# ... these count as unset when empty ...
_OPTIONAL_TEXT = {
    "zk_digest": "ELASTICJOB_ZK_DIGEST",
    "mesos_url": "ELASTICJOB_MESOS_URL",
    "mesos_user": "ELASTICJOB_MESOS_USER",
    "mesos_role": "ELASTICJOB_MESOS_ROLE",
    "executor_command": "ELASTICJOB_EXECUTOR_COMMAND",
    "executor_uri": "ELASTICJOB_EXECUTOR_URI",
    "timezone": TIMEZONE_VARIABLE,
    "event_trace_rdb_url": "ELASTICJOB_EVENT_TRACE_RDB_URL",
}
# ... and so do numbers.
_SECONDS = {
    "zk_timeout_seconds": "ELASTICJOB_ZK_TIMEOUT_SECONDS",
    "zk_session_timeout_seconds": "ELASTICJOB_ZK_SESSION_TIMEOUT_SECONDS",
    "catch_up_seconds": "ELASTICJOB_CATCH_UP_SECONDS",
    "token_ttl_seconds": "ELASTICJOB_TOKEN_TTL_SECONDS",
    "event_trace_retention_days": "ELASTICJOB_EVENT_TRACE_RETENTION_DAYS",
    "event_trace_buffer": "ELASTICJOB_EVENT_TRACE_BUFFER",
}


def effective_user() -> str:
    """The name of the user this process runs as (its effective uid, not ``$USER``, which
    ``sudo`` or a service manager may leave pointing at someone else)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return getpass.getuser()


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Everything the server process reads from its environment."""

    development: bool = False
    zk_servers: str = "127.0.0.1:2181"
    zk_namespace: str = "elasticjob-cloud"
    zk_digest: str | None = None
    zk_timeout_seconds: float = 5.0
    #: ZooKeeper session timeout: how long a dead leader keeps the leadership. The server bounds
    #: it to 2..20 ticks (4 s is the least a default ZooKeeper, tickTime 2 s, grants).
    zk_session_timeout_seconds: float = 4.0
    #: Fire times missed at most this long ago (no leader, a late step) are caught up.
    catch_up_seconds: float = 60.0
    grpc_address: str = DEFAULT_GRPC_ADDRESS
    auth_username: str = "root"
    auth_password: str = DEVELOPMENT_PASSWORD
    token_secret: str = ""
    token_ttl_seconds: int = 12 * 3600
    # Scheduling (none without a Mesos master URL).
    mesos_url: str | None = None
    #: ``FrameworkInfo.user``: the user agents run tasks as (Mesos agents switch to it when they
    #: run as root with ``--switch_user``), so it must exist on every agent. By default the user
    #: the server runs as, as Mesos' own scheduler driver does.
    mesos_user: str = field(default_factory=effective_user)
    mesos_role: str | None = None
    executor_command: str = DEFAULT_EXECUTOR_COMMAND
    #: Where agents fetch the executor zipapp from (``make executor``); without an explicit
    #: ``executor_command`` the executor is started by running the fetched file.
    executor_uri: str | None = None
    timezone: str | None = None
    #: Where run history goes: a SQLAlchemy URL (``sqlite:///var/trace.db``,
    #: ``postgresql+psycopg://user:password@host/db``); None or ``none``: tracing off.
    event_trace_rdb_url: str | None = None
    #: Trace rows older than this many days are deleted.
    event_trace_retention_days: float = 30.0
    #: Trace events held in memory while the store is slow or unreachable; more are dropped.
    event_trace_buffer: int = 10_000

    def __post_init__(self) -> None:
        if not self.zk_namespace or "/" in self.zk_namespace:
            raise ConfigurationError("ELASTICJOB_ZK_NAMESPACE must be a single non-empty path segment")
        if self.token_ttl_seconds <= 0:
            raise ConfigurationError("ELASTICJOB_TOKEN_TTL_SECONDS must be positive")
        if self.zk_timeout_seconds <= 0:
            raise ConfigurationError("ELASTICJOB_ZK_TIMEOUT_SECONDS must be positive")
        if not 1.0 <= self.zk_session_timeout_seconds <= 600.0:
            raise ConfigurationError("ELASTICJOB_ZK_SESSION_TIMEOUT_SECONDS must be between 1 and 600")
        if self.catch_up_seconds < 0:
            raise ConfigurationError("ELASTICJOB_CATCH_UP_SECONDS must not be negative")
        if self.zk_digest is not None and ":" not in self.zk_digest:
            raise ConfigurationError("ELASTICJOB_ZK_DIGEST must look like user:password")
        if self.mesos_url is not None and not self.mesos_url.startswith(("http://", "https://", "zk://")):
            raise ConfigurationError("ELASTICJOB_MESOS_URL must be an http://, https:// or zk:// URL")
        if self.executor_uri is not None:
            _check_executor_uri(self.executor_uri)
        if self.event_trace_rdb_url is not None:
            _check_trace_url(self.event_trace_rdb_url)
        if not self.event_trace_retention_days > 0:
            raise ConfigurationError("ELASTICJOB_EVENT_TRACE_RETENTION_DAYS must be positive")
        if self.event_trace_buffer < 1:
            raise ConfigurationError("ELASTICJOB_EVENT_TRACE_BUFFER must be at least 1")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigurationError(
                    f"{TIMEZONE_VARIABLE} {self.timezone!r} is not a known time zone"
                ) from None
        if not self.auth_username or not self.auth_password:
            raise ConfigurationError(
                "ELASTICJOB_AUTH_USERNAME and ELASTICJOB_AUTH_PASSWORD must not be empty"
            )
        if not self.development:
            if self.auth_password == DEVELOPMENT_PASSWORD:
                raise ConfigurationError(
                    "refusing to start with the development password; set ELASTICJOB_AUTH_PASSWORD "
                    "(or ELASTICJOB_MODE=development on a development machine)"
                )
            if len(self.token_secret) < 16:
                raise ConfigurationError(
                    "refusing to start without a token secret; set ELASTICJOB_TOKEN_SECRET "
                    "(at least 16 characters)"
                )
        elif not self.token_secret:
            raise ConfigurationError("token secret missing")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); bad values raise ConfigurationError."""
        env = os.environ if environ is None else environ
        mode = env.get("ELASTICJOB_MODE", "production").strip().lower()
        if mode not in ("production", "development"):
            raise ConfigurationError(f"ELASTICJOB_MODE must be production or development, not {mode!r}")
        values: dict[str, Any] = {"development": mode == "development"}
        values.update((name, env[variable]) for name, variable in _TEXT.items() if variable in env)
        values.update((name, env[variable]) for name, variable in _OPTIONAL_TEXT.items() if env.get(variable))
        for name, variable in _SECONDS.items():
            if env.get(variable):
                values[name] = _number(variable, env[variable])
        for whole in ("token_ttl_seconds", "event_trace_buffer"):
            if whole in values:
                values[whole] = int(values[whole])
        if str(values.get("event_trace_rdb_url", "")).strip().lower() == "none":
            values["event_trace_rdb_url"] = None
        if values.get("executor_uri") and "executor_command" not in values:
            _check_executor_uri(values["executor_uri"])
            values["executor_command"] = fetched_executor_command(values["executor_uri"])
        if values["development"] and not values.get("token_secret"):
            values["token_secret"] = secrets.token_urlsafe(32)
        return cls(**values)

    def zone(self) -> tzinfo:
        """The zone cron expressions are read in, with its DST rules: ``ELASTICJOB_TIMEZONE``, else
        the machine's (``server.base.zones.local_zone``)."""
        return zone_named(self.timezone)

    def scheduler_settings(self) -> SchedulerSettings:
        """The scheduler's settings, derived from these.

        Its core reads cron expressions in :meth:`zone` and names that zone to every executor
        (``ELASTICJOB_TIMEZONE`` in the ExecutorInfo's environment), so an executor on an agent in
        another zone reads DAEMON crons on the same wall clock. A zone without an IANA name (a
        local zone file without one, a fixed offset) cannot be named: executors then use their
        agent's zone. Raises ConfigurationError when no Mesos master is configured.
        """
        if self.mesos_url is None:
            raise ConfigurationError(
                "ELASTICJOB_MESOS_URL is not set: there is no Mesos master to schedule on"
            )
        zone = self.zone()
        name = iana_name(zone)
        return SchedulerSettings(
            mesos_url=self.mesos_url,
            mesos_user=self.mesos_user,
            mesos_role=self.mesos_role,
            core=CoreSettings(
                executor_command=self.executor_command,
                executor_uri=self.executor_uri,
                zone=zone,
                executor_environment={TIMEZONE_VARIABLE: name} if name else {},
                catch_up_seconds=self.catch_up_seconds,
            ),
        )


def iana_name(zone: tzinfo) -> str | None:
    """The IANA name of ``zone`` (``Europe/Berlin``), or None when it has none."""
    if isinstance(zone, ZoneInfo) and zone.key and zone.key != "localtime":
        return str(zone.key)
    return None


#: The trace store's databases, each through the driver installed for it (``dialect+driver``).
_TRACE_DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}


def _check_trace_url(url: str) -> None:
    try:
        parsed = make_url(url)
        kind = (parsed.get_backend_name(), parsed.get_driver_name())
    except ArgumentError:
        kind = ("", "")
    if kind not in _TRACE_DRIVERS:
        raise ConfigurationError(
            f"ELASTICJOB_EVENT_TRACE_RDB_URL {url!r} must be a sqlite:/// or postgresql+psycopg:// URL, or none"
        )


def _check_executor_uri(executor_uri: str) -> None:
    try:
        executor_file_name(executor_uri)
    except ValueError:
        raise ConfigurationError(
            f"ELASTICJOB_EXECUTOR_URI {executor_uri!r} must name the executor file, "
            "e.g. http://repo/elasticjob-executor.pyz"
        ) from None


def _number(variable: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{variable} must be a number, not {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigurationError(f"{variable} must be a finite number, not {raw!r}")
    return value
