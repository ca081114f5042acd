"""What the embedded cluster can be told, with every default written once.

:class:`ClusterSettings` is the one settings object of the cluster process: where it listens, what
it offers, and the :class:`MasterSettings` and :class:`AgentSettings` of its two halves.
``python -m server.cluster`` builds it from its flags; tests build it directly. What follows from
it (the agent's resources and hostname) is computed here, not copied. Durations are in seconds,
memory and disk in MB.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.cluster.resources import Ranges, Resources, parse_ranges

__all__ = [
    "DEFAULT_PORTS",
    "AgentSettings",
    "ClusterSettings",
    "MasterSettings",
    "machine_disk",
    "machine_resources",
]

#: The ports a Mesos agent offers when ``--resources`` names none.
DEFAULT_PORTS: Ranges = parse_ranges("[31000-32000]")


@dataclass(frozen=True, kw_only=True, slots=True)
class MasterSettings:
    """How the master behaves."""

    heartbeat_interval: float = 15.0
    #: Rescind offers not used within this long; ``None`` (the default, as Mesos' master without
    #: ``--offer_timeout``) keeps them until used or declined.
    offer_timeout: float | None = None
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
    #: An unacknowledged status update is resent after this long, then after twice as long each
    #: time up to ``update_retry_interval_max`` (Mesos' agent: 10 s to 10 minutes).
    update_retry_interval: float = 10.0
    update_retry_interval_max: float = 600.0
    executor_heartbeat_interval: float = 30.0
    #: When the agent runs as root: run executors and command tasks as ``CommandInfo.user``, else
    #: ``FrameworkInfo.user``, with their sandbox owned by that user (Mesos' ``--switch_user``,
    #: on by default). Without root, or off, everything runs as the agent's own user.
    switch_user: bool = True
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
            "update_retry_interval_max",
            "executor_heartbeat_interval",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"AgentSettings.{name} must be positive")
        if self.update_retry_interval_max < self.update_retry_interval:
            raise ValueError(
                "AgentSettings.update_retry_interval_max must not be below update_retry_interval"
            )


def machine_resources() -> tuple[float, float]:
    """(cpus, mem in MB) of this machine: its CPU count and its total memory."""
    cpus = float(os.cpu_count() or 1)
    try:
        mem_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        mem_bytes = 1024 * 1024 * 1024
    return cpus, float(mem_bytes // (1024 * 1024))


def machine_disk(work_dir: Path) -> float:
    """Disk in MB a Mesos agent offers by default: the size of the file system holding
    ``work_dir``, less 5 GB when it has 10 GB or more, else half of it."""
    probe = Path(work_dir).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        total = float(shutil.disk_usage(probe).total // (1024 * 1024))
    except OSError:
        return 0.0
    return total - 5 * 1024 if total >= 10 * 1024 else total / 2


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterSettings:
    """The embedded cluster: addresses, resources, and its master's and agent's settings.

    ``cpus`` / ``mem`` default to the machine's (CPU count, total memory), ``disk`` to what a Mesos
    agent offers of the file system holding ``work_dir`` (:func:`machine_disk`), ``ports`` to
    ``[31000-32000]``. Port 0 picks a free port.
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
    #: Port ranges offered, ``((begin, end), ...)`` inclusive; empty offers no ports.
    ports: Ranges = DEFAULT_PORTS
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
            "disk": machine_disk(self.work_dir) if self.disk is None else self.disk,
        }
        return Resources.from_quantities(quantities).with_ranges("ports", self.ports)
