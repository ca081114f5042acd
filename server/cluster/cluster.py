"""One master and one agent in one asyncio process, each behind its own loopback HTTP server.

Usage::

    cluster = EmbeddedCluster(ClusterSettings(work_dir=Path("var/cluster"), port=0, agent_port=0))
    await cluster.start()
    client = MesosSchedulerClient(cluster.master_url, framework, handler)
    ...
    await cluster.stop()

or ``async with EmbeddedCluster(settings) as cluster: ...``. Port 0 binds free ports; the bound
ones are in :attr:`EmbeddedCluster.master_url` / :attr:`~EmbeddedCluster.agent_url` after start.

Master port: ``POST /api/v1/scheduler`` (also ``/master/api/v1/scheduler``), the operator API
``POST /api/v1``, and the read-only endpoints of :mod:`~server.cluster.master.endpoints`
(``/master/state``, ``/master/slaves``, ``/master/frameworks``, ``/master/tasks``, ...).
Agent port: ``POST /api/v1/executor`` (also ``/slave(1)/api/v1/executor``), the operator API
``POST /api/v1``, the endpoints of :mod:`~server.cluster.agent.endpoints` (``/slave(1)/state``,
...) and the sandbox files of :mod:`~server.cluster.agent.files` (``/files/read``, ...).
"""

from __future__ import annotations

import contextlib
import logging
import uuid

from aiohttp import web

from server.cluster.agent.core import Agent
from server.cluster.agent.endpoints import AgentEndpoints
from server.cluster.agent.files import SandboxFiles
from server.cluster.agent.http import EXECUTOR_API_PATH, ExecutorApi
from server.cluster.agent.operator_api import AgentOperatorApi
from server.cluster.endpoints import OPERATOR_API_PATH
from server.cluster.master.core import Master
from server.cluster.master.endpoints import MasterEndpoints, master_state
from server.cluster.master.http import SCHEDULER_API_PATH, SchedulerApi
from server.cluster.master.operator_api import MasterOperatorApi
from server.cluster.settings import ClusterSettings
from server.mesos.values import JsonObject

__all__ = ["EmbeddedCluster"]

logger = logging.getLogger("server.cluster")


class EmbeddedCluster:
    """The embedded single-node cluster (see the module docstring). Start once, stop once."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        master_id = str(uuid.uuid4())
        self.agent = Agent(
            settings.agent,
            agent_id=f"{master_id}-S0",
            hostname=settings.agent_hostname,
            resources=settings.resources(),
            work_dir=settings.work_dir.resolve(),
        )
        self.master = Master(settings.master, self.agent, master_id=master_id)
        self._agent_endpoints = AgentEndpoints(self.agent, master_hostname=settings.host)
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
        return self.agent.agent_id

    def state(self) -> JsonObject:
        """The master's ``/master/state`` document."""
        return master_state(self.master)

    def agent_state(self) -> JsonObject:
        """The agent's ``/slave(1)/state`` document."""
        return self._agent_endpoints.document()

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
            self.agent.resources,
            self.agent.work_dir,
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
        api = SchedulerApi(self.master)
        app = web.Application()
        app.router.add_route("*", SCHEDULER_API_PATH, api.handle)
        app.router.add_route("*", "/master" + SCHEDULER_API_PATH, api.handle)
        operator_api = MasterOperatorApi(self.master)
        app.router.add_route("*", OPERATOR_API_PATH, operator_api.handle)
        app.router.add_route("*", "/master" + OPERATOR_API_PATH, operator_api.handle)
        MasterEndpoints(self.master).routes(app)
        return app

    def _agent_app(self) -> web.Application:
        api = ExecutorApi(self.agent)
        app = web.Application()
        app.router.add_route("*", EXECUTOR_API_PATH, api.handle)
        app.router.add_route("*", "/slave(1)" + EXECUTOR_API_PATH, api.handle)
        operator_api = AgentOperatorApi(self.agent, started_at=self._agent_endpoints.started_at)
        app.router.add_route("*", OPERATOR_API_PATH, operator_api.handle)
        app.router.add_route("*", "/slave(1)" + OPERATOR_API_PATH, operator_api.handle)
        self._agent_endpoints.routes(app)
        SandboxFiles(self.agent).routes(app)
        return app
