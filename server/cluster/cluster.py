"""One master and one agent in one asyncio process, each behind its own loopback HTTP server.

Usage::

    cluster = EmbeddedCluster(ClusterSettings(work_dir=Path("var/cluster"), port=0, agent_port=0))
    await cluster.start()
    client = MesosSchedulerClient(cluster.master_url, framework, handler)
    ...
    await cluster.stop()

or ``async with EmbeddedCluster(settings) as cluster: ...``. Port 0 binds free ports; the bound
ones are in :attr:`EmbeddedCluster.master_url` / :attr:`~EmbeddedCluster.agent_url` after start.

Master port: ``POST /api/v1/scheduler``, ``GET /state`` (also ``/master/state``), ``GET /health``.
Agent port: ``POST /api/v1/executor`` (also ``/slave(1)/api/v1/executor``), ``GET /state``,
``GET /health``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from server.cluster.agent import EXECUTOR_API_PATH, Agent, AgentSettings
from server.cluster.master import SCHEDULER_API_PATH, Master, MasterSettings
from server.cluster.resources import Resources
from server.cluster.state import cluster_state
from server.cluster.wire import JsonObject

__all__ = ["ClusterSettings", "EmbeddedCluster", "machine_resources"]

logger = logging.getLogger("server.cluster")


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
    """Everything the embedded cluster can be told (durations in seconds, memory in MB).

    ``cpus`` / ``mem`` default to the machine's (CPU count, total memory). Port 0 picks a free
    port. See :class:`~server.cluster.master.MasterSettings` and
    :class:`~server.cluster.agent.AgentSettings` for what the durations govern.
    """

    work_dir: Path
    host: str = "127.0.0.1"
    port: int = 5050
    agent_port: int = 5051
    hostname: str | None = None
    cpus: float | None = None
    mem: float | None = None
    disk: float | None = None
    heartbeat_interval: float = 15.0
    offer_timeout: float | None = 30.0
    allocation_interval: float = 1.0
    failover_timeout_cap: float | None = None
    update_retry_interval: float = 10.0
    executor_registration_timeout: float = 60.0
    executor_shutdown_grace_period: float = 5.0
    default_kill_grace_period: float = 3.0
    executor_heartbeat_interval: float = 30.0
    #: On stop, executors and tasks get at most this long between SIGTERM and SIGKILL.
    stop_grace_period: float = 3.0
    #: Base environment of executors and tasks; ``None`` inherits this process's.
    environment: Mapping[str, str] | None = None

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

    def resources(self) -> Resources:
        cpus, mem = machine_resources()
        quantities = {
            "cpus": cpus if self.cpus is None else self.cpus,
            "mem": mem if self.mem is None else self.mem,
        }
        if self.disk is not None:
            quantities["disk"] = self.disk
        return Resources.from_quantities(quantities)


class EmbeddedCluster:
    """The embedded single-node cluster (see the module docstring). Start once, stop once."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        master_id = str(uuid.uuid4())
        self.agent = Agent(
            AgentSettings(
                work_dir=settings.work_dir.resolve(),
                agent_id=f"{master_id}-S0",
                hostname=settings.hostname or settings.host,
                resources=settings.resources(),
                executor_registration_timeout=settings.executor_registration_timeout,
                executor_shutdown_grace_period=settings.executor_shutdown_grace_period,
                default_kill_grace_period=settings.default_kill_grace_period,
                update_retry_interval=settings.update_retry_interval,
                executor_heartbeat_interval=settings.executor_heartbeat_interval,
                environment=settings.environment,
            )
        )
        self.master = Master(
            MasterSettings(
                heartbeat_interval=settings.heartbeat_interval,
                offer_timeout=settings.offer_timeout,
                allocation_interval=settings.allocation_interval,
                failover_timeout_cap=settings.failover_timeout_cap,
            ),
            self.agent,
            master_id=master_id,
        )
        self._runners: list[web.AppRunner] = []
        self._started = False
        self._stopped = False

    @property
    def master_url(self) -> str:
        """``http://host:port`` of the master: what a scheduler is configured with."""
        return f"http://{self.master.host}:{self.master.port}"

    @property
    def agent_url(self) -> str:
        return f"http://{self.agent.endpoint}"

    @property
    def agent_id(self) -> str:
        return self.agent.settings.agent_id

    def state(self) -> JsonObject:
        """The ``/state`` document."""
        return cluster_state(self.master, self.agent)

    async def start(self) -> None:
        """Reap orphans of a previous run on the work directory, then serve both APIs."""
        if self._started:
            raise RuntimeError("EmbeddedCluster.start() can only be called once")
        self._started = True
        try:
            await self.agent.start()
            agent_port = await self._serve(self._agent_app(), self.settings.agent_port)
            self.agent.bind(self.settings.host, agent_port)
            master_port = await self._serve(self._master_app(), self.settings.port)
            self.master.bind(self.settings.host, master_port)
            await self.master.start()
        except BaseException:
            await self.stop()
            raise
        logger.info(
            "embedded cluster up: master %s, agent %s (%s), work dir %s",
            self.master_url,
            self.agent_url,
            self.agent.settings.resources,
            self.agent.settings.work_dir,
        )

    async def stop(self) -> None:
        """End subscriptions, kill every executor and task (no orphans), close the servers."""
        if self._stopped:
            return
        self._stopped = True
        await self.master.stop()
        await self.agent.stop(grace_period=self.settings.stop_grace_period)
        for runner in reversed(self._runners):
            with contextlib.suppress(Exception):
                await runner.cleanup()
        self._runners.clear()
        logger.info("embedded cluster stopped")

    async def __aenter__(self) -> EmbeddedCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, self.settings.host, port)
        await site.start()
        return int(runner.addresses[0][1])

    def _master_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", SCHEDULER_API_PATH, self.master.handle_scheduler_api)
        app.router.add_route("*", "/master" + SCHEDULER_API_PATH, self.master.handle_scheduler_api)
        app.router.add_get("/state", self._state)
        app.router.add_get("/master/state", self._state)
        app.router.add_get("/health", _health)
        return app

    def _agent_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", EXECUTOR_API_PATH, self.agent.handle_executor_api)
        app.router.add_route("*", "/slave(1)" + EXECUTOR_API_PATH, self.agent.handle_executor_api)
        app.router.add_get("/state", self._state)
        app.router.add_get("/health", _health)
        return app

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())


async def _health(request: web.Request) -> web.Response:
    return web.Response(status=200)
