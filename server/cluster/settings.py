"""What the embedded cluster can be told, with every default written once.

:class:`ClusterSettings` is the one settings object of the cluster process: where it listens, what
it offers, and the :class:`MasterSettings` and :class:`AgentSettings` of its two halves.
``python -m server.cluster`` builds it from its flags; tests build it directly. What follows from
it (the agent's resources and hostname) is computed here, not copied. Durations are in seconds,
memory and disk in MB.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.cluster.resources import Resources

__all__ = ["AgentSettings", "ClusterSettings", "MasterSettings", "machine_resources"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MasterSettings:
    """How the master behaves."""

    heartbeat_interval: float = 15.0
    #: Rescind offers not used within this long; ``None`` keeps them until used (Mesos' default).
    offer_timeout: float | None = 30.0
    #: Allocation also runs at least this often (it runs at once whenever resources free up).
    allocation_interval: float = 1.0
    #: Upper bound on every framework's ``failover_timeout``; ``None`` for no bound.
    failover_timeout_cap: float | None = None
    #: Finished tasks kept per framework, and removed frameworks kept, for ``/state``.
    history: int = 1000

    def __post_init__(self) -> None:
        if not self.heartbeat_interval > 0 or not self.allocation_interval > 0:
            raise ValueError("heartbeat_interval and allocation_interval must be positive")
        if self.offer_timeout is not None and not self.offer_timeout > 0:
            raise ValueError("offer_timeout must be positive (or None)")
        if self.failover_timeout_cap is not None and self.failover_timeout_cap < 0:
            raise ValueError("failover_timeout_cap must not be negative")


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentSettings:
    """How the agent runs executors and tasks."""

    executor_registration_timeout: float = 60.0
    executor_shutdown_grace_period: float = 5.0
    default_kill_grace_period: float = 3.0
    update_retry_interval: float = 10.0
    executor_heartbeat_interval: float = 30.0
    #: The base environment of executors and command tasks; ``None`` inherits the agent's own
    #: (as Mesos does without ``--executor_environment_variables``).
    environment: Mapping[str, str] | None = None
    #: Finished executors and tasks kept for ``/state``, per framework / executor.
    history: int = 200

    def __post_init__(self) -> None:
        for name in (
            "executor_registration_timeout",
            "executor_shutdown_grace_period",
            "default_kill_grace_period",
            "update_retry_interval",
            "executor_heartbeat_interval",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"AgentSettings.{name} must be positive")


def machine_resources() -> tuple[float, float]:
    """(cpus, mem in MB) of this machine: its CPU count and its total memory."""
    cpus = float(os.cpu_count() or 1)
    try:
        mem_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        mem_bytes = 1024 * 1024 * 1024
    return cpus, float(mem_bytes // (1024 * 1024))


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterSettings:
    """The embedded cluster: addresses, resources, and its master's and agent's settings.

    ``cpus`` / ``mem`` default to the machine's (CPU count, total memory); ``disk`` is offered
    only when set. Port 0 picks a free port.
    """

    #: Sandboxes, the fetch cache and the records of started process groups.
    work_dir: Path = Path("var/cluster")
    #: The address both APIs listen on.
    host: str = "127.0.0.1"
    #: The master's port (scheduler API).
    port: int = 5050
    #: The agent's port (executor API).
    agent_port: int = 5051
    #: The agent's hostname in offers; ``None`` for ``host``.
    hostname: str | None = None
    cpus: float | None = None
    mem: float | None = None
    disk: float | None = None
    #: On stop, executors and tasks get at most this long between SIGTERM and SIGKILL.
    stop_grace_period: float = 3.0
    master: MasterSettings = field(default_factory=MasterSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "work_dir", Path(self.work_dir))
        for name in ("port", "agent_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ValueError(f"ClusterSettings.{name} must be a TCP port (0 for any free one)")
        for name in ("cpus", "mem", "disk"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"ClusterSettings.{name} must not be negative")
        if self.stop_grace_period < 0:
            raise ValueError("ClusterSettings.stop_grace_period must not be negative")

    @property
    def agent_hostname(self) -> str:
        """The agent's hostname in offers."""
        return self.hostname or self.host

    def resources(self) -> Resources:
        """What the agent offers."""
        cpus, mem = machine_resources()
        quantities = {
            "cpus": cpus if self.cpus is None else self.cpus,
            "mem": mem if self.mem is None else self.mem,
        }
        if self.disk is not None:
            quantities["disk"] = self.disk
        return Resources.from_quantities(quantities)
