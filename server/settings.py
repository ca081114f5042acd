"""The one settings object, built from environment variables (ElasticJob-Cloud's names).

Production is the default. Development mode (``ELASTICJOB_MODE=development``, what ``make run``
sets) fills in the API document's credentials (root / pwd) and a random token secret; outside it
the server refuses to start with the password ``pwd`` or without a token secret.
"""

from __future__ import annotations

import getpass
import math
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.base.zones import zone_named
from server.domain.errors import ConfigurationError
from server.scheduler.taskinfo import executor_file_name, fetched_executor_command

DEVELOPMENT_PASSWORD = "pwd"
# -P: the sandbox (the executor's working directory) never shadows our packages.
DEFAULT_EXECUTOR_COMMAND = f"{sys.executable} -P -m server.executor"


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Everything the server reads from its environment."""

    development: bool = False
    zk_servers: str = "127.0.0.1:2181"
    zk_namespace: str = "elasticjob-cloud"
    zk_digest: str | None = None
    zk_timeout_seconds: float = 5.0
    grpc_address: str = "127.0.0.1:50051"
    auth_username: str = "root"
    auth_password: str = DEVELOPMENT_PASSWORD
    token_secret: str = ""
    token_ttl_seconds: int = 12 * 3600
    # Scheduling (none without a Mesos master URL).
    mesos_url: str | None = None
    mesos_user: str = field(default_factory=getpass.getuser)
    mesos_role: str | None = None
    executor_command: str = DEFAULT_EXECUTOR_COMMAND
    #: Where agents fetch the executor zipapp from (``make executor``); the executor command
    #: defaults to running it.
    executor_uri: str | None = None
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not self.zk_namespace or "/" in self.zk_namespace:
            raise ConfigurationError("ELASTICJOB_ZK_NAMESPACE must be a single non-empty path segment")
        if self.token_ttl_seconds <= 0:
            raise ConfigurationError("ELASTICJOB_TOKEN_TTL_SECONDS must be positive")
        if self.zk_timeout_seconds <= 0:
            raise ConfigurationError("ELASTICJOB_ZK_TIMEOUT_SECONDS must be positive")
        if self.zk_digest is not None and ":" not in self.zk_digest:
            raise ConfigurationError("ELASTICJOB_ZK_DIGEST must look like user:password")
        if self.mesos_url is not None and not self.mesos_url.startswith(("http://", "https://", "zk://")):
            raise ConfigurationError("ELASTICJOB_MESOS_URL must be an http://, https:// or zk:// URL")
        if self.executor_uri is not None:
            _check_executor_uri(self.executor_uri)
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigurationError(
                    f"ELASTICJOB_TIMEZONE {self.timezone!r} is not a known time zone"
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
        development = mode == "development"
        secret = env.get("ELASTICJOB_TOKEN_SECRET", "")
        if development and not secret:
            secret = secrets.token_urlsafe(32)
        executor_uri = env.get("ELASTICJOB_EXECUTOR_URI") or None
        if executor_uri is not None:
            _check_executor_uri(executor_uri)
        default_command = fetched_executor_command(executor_uri) if executor_uri else DEFAULT_EXECUTOR_COMMAND
        return cls(
            development=development,
            zk_servers=env.get("ELASTICJOB_ZK_SERVERS", "127.0.0.1:2181"),
            zk_namespace=env.get("ELASTICJOB_ZK_NAMESPACE", "elasticjob-cloud"),
            zk_digest=env.get("ELASTICJOB_ZK_DIGEST") or None,
            zk_timeout_seconds=_number(env, "ELASTICJOB_ZK_TIMEOUT_SECONDS", 5.0),
            grpc_address=env.get("ELASTICJOB_GRPC_ADDRESS", "127.0.0.1:50051"),
            auth_username=env.get("ELASTICJOB_AUTH_USERNAME", "root"),
            auth_password=env.get("ELASTICJOB_AUTH_PASSWORD", DEVELOPMENT_PASSWORD),
            token_secret=secret,
            token_ttl_seconds=int(_number(env, "ELASTICJOB_TOKEN_TTL_SECONDS", 12 * 3600)),
            mesos_url=env.get("ELASTICJOB_MESOS_URL") or None,
            mesos_user=env.get("ELASTICJOB_MESOS_USER") or getpass.getuser(),
            mesos_role=env.get("ELASTICJOB_MESOS_ROLE") or None,
            executor_command=env.get("ELASTICJOB_EXECUTOR_COMMAND") or default_command,
            executor_uri=executor_uri,
            timezone=env.get("ELASTICJOB_TIMEZONE") or None,
        )

    def zone(self) -> tzinfo:
        """The scheduler's time zone: ELASTICJOB_TIMEZONE, else the machine's (with its DST rules)."""
        return zone_named(self.timezone)


def _check_executor_uri(executor_uri: str) -> None:
    try:
        executor_file_name(executor_uri)
    except ValueError:
        raise ConfigurationError(
            f"ELASTICJOB_EXECUTOR_URI {executor_uri!r} must name the executor file, "
            "e.g. http://repo/elasticjob-executor.pyz"
        ) from None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number, not {raw!r}")
    return value
