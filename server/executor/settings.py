"""What the agent tells the executor through its environment, read once into a frozen object.

A Mesos agent starts an executor with these variables (Mesos "Executor HTTP API", "Executor
Environment Variables"); the executor reads nothing else from the agent:

=====================================  ==========================================================
variable                               meaning (default when absent)
=====================================  ==========================================================
``MESOS_FRAMEWORK_ID``                 framework id for every call (required)
``MESOS_EXECUTOR_ID``                  executor id for every call (required)
``MESOS_AGENT_ENDPOINT``               ``ip:port`` of the agent (required)
``MESOS_SANDBOX`` / ``MESOS_DIRECTORY``  the sandbox; ``MESOS_SANDBOX`` wins (else the cwd)
``MESOS_CHECKPOINT``                   ``1``/``true``: the framework checkpoints, so the executor
                                       reconnects after losing the agent (off)
``MESOS_RECOVERY_TIMEOUT``             how long to keep reconnecting (15mins; 1mins without
                                       checkpointing, where it only bounds the first subscription)
``MESOS_SUBSCRIPTION_BACKOFF_MAX``     longest wait between two subscription attempts (2secs)
``MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD``  time the agent allows after SHUTDOWN (5secs)
``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``   sent as ``Authorization: Bearer`` when set
=====================================  ==========================================================

Durations use Mesos's notation: a number and a unit (``ns``, ``us``, ``ms``, ``secs``, ``mins``,
``hrs``, ``days``, ``weeks``), e.g. ``250ms``, ``5secs``, ``1.5mins``, ``1e+06secs``; a bare
number is seconds.

The executor's own settings (not from Mesos): ``ELASTICJOB_TIMEZONE`` (the zone DAEMON crons are
read in; the scheduler sets it to its own zone when that zone has an IANA name, else the machine's
zone is used), ``ELASTICJOB_EXECUTOR_PARALLELISM`` (most runs at once across the executor for
``CPU`` jobs; ``os.cpu_count()`` when unset) and ``ELASTICJOB_EXECUTOR_EXIT_WHEN_IDLE`` (``true``
for an app whose cache is disabled: the scheduler gives each launch its own executor, which exits
once its tasks have ended).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from server.base.zones import zone_named

__all__ = ["ExecutorConfigError", "ExecutorSettings", "parse_duration"]

#: Mesos's defaults: ``--executor_shutdown_grace_period``, ``--executor_reregistration_timeout``
#: (which the agent passes as the backoff maximum) and ``--recovery_timeout``.
DEFAULT_SHUTDOWN_GRACE_PERIOD = 5.0
DEFAULT_SUBSCRIPTION_BACKOFF_MAX = 2.0
DEFAULT_RECOVERY_TIMEOUT = 15 * 60.0
#: Without checkpointing there is no recovery; this only bounds the first subscription attempts
#: (the agent's own ``--executor_registration_timeout`` defaults to one minute).
FIRST_SUBSCRIPTION_TIMEOUT = 60.0

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "secs": 1.0,
    "mins": 60.0,
    "hrs": 3600.0,
    "days": 86400.0,
    "weeks": 7 * 86400.0,
}
_DURATION = re.compile(r"^\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*([a-z]*)\s*$")


class ExecutorConfigError(ValueError):
    """The environment does not describe an executor the agent started (missing or bad value)."""


def parse_duration(text: str, name: str = "duration") -> float:
    """Seconds in a Mesos duration such as ``5secs`` or ``250ms`` (a bare number is seconds)."""
    match = _DURATION.match(text)
    unit = match.group(2) if match else ""
    if match is None or (unit and unit not in _UNITS):
        raise ExecutorConfigError(
            f"{name} {text!r} is not a duration (a number and one of {', '.join(_UNITS)})"
        )
    return float(match.group(1)) * _UNITS.get(unit, 1.0)


def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _cpu_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutorSettings:
    """The executor's configuration; see the module docstring for where each value comes from."""

    framework_id: str
    executor_id: str
    agent_endpoint: str
    sandbox: Path
    checkpoint: bool = False
    recovery_timeout: float = FIRST_SUBSCRIPTION_TIMEOUT
    subscription_backoff_max: float = DEFAULT_SUBSCRIPTION_BACKOFF_MAX
    shutdown_grace_period: float = DEFAULT_SHUTDOWN_GRACE_PERIOD
    authentication_token: str | None = None
    timezone: str | None = None
    parallelism: int = field(default_factory=_cpu_count)
    exit_when_idle: bool = False

    def __post_init__(self) -> None:
        for name in ("framework_id", "executor_id", "agent_endpoint"):
            if not getattr(self, name):
                raise ExecutorConfigError(f"{name} is required")
        if self.parallelism < 1:
            raise ExecutorConfigError("parallelism must be at least 1")
        if self.timezone:
            try:
                zone_named(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ExecutorConfigError(
                    f"ELASTICJOB_TIMEZONE {self.timezone!r} is not a known zone"
                ) from None

    @property
    def executor_url(self) -> str:
        """The agent's executor API endpoint."""
        return f"http://{self.agent_endpoint}/api/v1/executor"

    def zone(self) -> tzinfo:
        """The zone DAEMON crons are read in, with its DST rules: ``ELASTICJOB_TIMEZONE`` (which the
        scheduler sets to its own zone), else the machine's (``server.base.zones.local_zone``)."""
        return zone_named(self.timezone)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> ExecutorSettings:
        """Read the settings; raises :class:`ExecutorConfigError` naming the variable at fault."""
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ExecutorConfigError(f"{name} is not set: is this process started by a Mesos agent?")
            return value

        checkpoint = _flag(env.get("MESOS_CHECKPOINT", ""))
        sandbox = env.get("MESOS_SANDBOX") or env.get("MESOS_DIRECTORY") or os.getcwd()
        values: dict[str, Any] = {
            "framework_id": required("MESOS_FRAMEWORK_ID"),
            "executor_id": required("MESOS_EXECUTOR_ID"),
            "agent_endpoint": required("MESOS_AGENT_ENDPOINT"),
            "sandbox": Path(sandbox).resolve(),
            "checkpoint": checkpoint,
            "exit_when_idle": _flag(env.get("ELASTICJOB_EXECUTOR_EXIT_WHEN_IDLE", "")),
        }
        if checkpoint:  # the field's default is the one without checkpointing
            values["recovery_timeout"] = DEFAULT_RECOVERY_TIMEOUT
        # Unset or empty variables leave the field's default.
        for name, variable in _DURATIONS.items():
            raw = env.get(variable, "").strip()
            if raw:
                values[name] = parse_duration(raw, variable)
        for name, variable in _TEXT.items():
            if env.get(variable):
                values[name] = env[variable]
        raw_parallelism = env.get("ELASTICJOB_EXECUTOR_PARALLELISM", "").strip()
        if raw_parallelism:
            try:
                values["parallelism"] = int(raw_parallelism)
            except ValueError:
                raise ExecutorConfigError(
                    f"ELASTICJOB_EXECUTOR_PARALLELISM must be a whole number, not {raw_parallelism!r}"
                ) from None
        return cls(**values)


# field -> variable
_DURATIONS = {
    "recovery_timeout": "MESOS_RECOVERY_TIMEOUT",
    "subscription_backoff_max": "MESOS_SUBSCRIPTION_BACKOFF_MAX",
    "shutdown_grace_period": "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
}
_TEXT = {
    "authentication_token": "MESOS_EXECUTOR_AUTHENTICATION_TOKEN",
    "timezone": "ELASTICJOB_TIMEZONE",
}
