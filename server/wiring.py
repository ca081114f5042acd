"""The composition root: ``build(settings)`` wires one server process from its settings.

The parts are the ZooKeeper connection every repository shares, the gRPC API on
``settings.grpc_address``, when a Mesos master is configured the scheduler service (which hears
the API's job events), and when ``ELASTICJOB_EVENT_TRACE_RDB_URL`` names a database the trace
store with its buffered sink (the scheduler's TraceSink) and the statistics aggregator (which
runs while this process's scheduler leads). ``python -m server``, the test kits and the benchmarks all build the
server here; nothing is connected or listening until :meth:`Server.start`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from server.api.server import ApiServer, create_server
from server.api.task_output_servicer import MesosTaskOutput
from server.api.tokens import Credentials, TokenSigner
from server.base.clock import Clock, SystemClock
from server.domain.errors import ConfigurationError
from server.domain.trace import NoTrace, TraceSink
from server.registry.apps import AppRepository
from server.registry.counts import RegistryCounts
from server.registry.diagnosis import DiagnosisStore
from server.registry.disabled import DisabledFlags
from server.registry.failover import FailoverQueue
from server.registry.framework import FrameworkIdStore
from server.registry.jobs import JobRepository
from server.registry.mesos_master import detect_leader
from server.registry.ready import ReadyQueue
from server.registry.reconcile_requests import ReconcileRequests
from server.registry.running import RunningTasks
from server.registry.zookeeper import ZooKeeper
from server.scheduler.service import SchedulerService, SchedulerSettings
from server.settings import Settings
from server.telemetry import metrics
from server.trace.sink import BufferedTraceSink
from server.trace.statistics import StatisticsAggregator
from server.trace.store import TraceStore
from server.usecases.apps import AppManager
from server.usecases.history import History
from server.usecases.jobs import JobManager
from server.usecases.operate import JobStateRegistry, OperateManager

__all__ = ["Server", "Tracing", "build", "build_scheduler"]

log = logging.getLogger("server")


@dataclass(slots=True)
class Tracing:
    """The run history parts: the store, the sink the scheduler writes through, the aggregator."""

    store: TraceStore
    sink: BufferedTraceSink
    aggregator: StatisticsAggregator

    def start(self) -> None:
        self.sink.start()
        self.aggregator.start()

    def stop(self, timeout: float) -> None:
        self.aggregator.stop(timeout / 2)
        self.sink.stop(timeout / 2)
        self.store.dispose()


@dataclass(slots=True)
class Server:
    """A built server process: start it, stop it (from any thread), wait for it to have stopped."""

    settings: Settings
    zookeeper: ZooKeeper
    api: ApiServer
    #: None when no Mesos master is configured: jobs are stored and queued, not run.
    scheduler: SchedulerService | None
    #: The run history and statistics use cases (empty answers with tracing off).
    history: History
    #: None when tracing is off.
    tracing: Tracing | None = None
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def port(self) -> int:
        """The port the gRPC API listens on (the one picked when the address asks for port 0)."""
        return self.api.port

    def start(self, zookeeper_wait: float | None = None) -> bool:
        """Connect to ZooKeeper, waiting up to ``zookeeper_wait`` seconds (default: the settings'
        ZooKeeper timeout) for the first connection, then start the scheduler and the API.

        Returns whether ZooKeeper answered in time; until it does the API answers UNAVAILABLE
        (health NOT_SERVING), and the scheduler waits to run for leadership.
        """
        wait = self.settings.zk_timeout_seconds if zookeeper_wait is None else zookeeper_wait
        connected = self.zookeeper.start(wait=wait)
        if self.tracing is not None:
            self.tracing.start()
        if self.scheduler is not None:
            self.scheduler.start()
        self.api.start()
        return connected

    def stop(self, grace: float = 5.0, timeout: float | None = None) -> None:
        """Stop the API (calls in flight get up to ``grace`` seconds), then the scheduler, then the
        ZooKeeper connection. Only the first call does it; later ones return once it is done.

        With ``timeout``, the whole stop takes at most about that long even when ZooKeeper or
        the Mesos master does not answer: a scheduler still leaving the election, or a ZooKeeper
        connection still closing, is left to finish on its own (daemon) thread, and the stop
        counts as done.
        """
        with self._stop_lock:
            if self._stopped.is_set():
                return
            deadline = None if timeout is None else time.monotonic() + timeout
            self.api.stop(grace if deadline is None else min(grace, _remaining(deadline, 0.5) / 2))
            if self.scheduler is not None:
                # The scheduler's thread may be waiting on ZooKeeper (leaving the election);
                # closing the connection below ends that wait.
                self.scheduler.stop(10.0 if deadline is None else _remaining(deadline, 0.5) / 2)
            if self.tracing is not None:
                self.tracing.stop(5.0 if deadline is None else min(5.0, _remaining(deadline, 0.5) / 2))
            closer = threading.Thread(target=self.zookeeper.stop, name="zookeeper-stop", daemon=True)
            closer.start()
            closer.join(None if deadline is None else _remaining(deadline, 0.1))
            if closer.is_alive():
                log.warning("the ZooKeeper connection at %s did not close in time", self.zookeeper.servers)
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` has finished (or ``timeout`` seconds); whether it has."""
        return self._stopped.wait(timeout)


def _remaining(deadline: float, at_least: float) -> float:
    return max(at_least, deadline - time.monotonic())


def build(
    settings: Settings,
    *,
    scheduler_settings: SchedulerSettings | None = None,
    clock: Clock | None = None,
) -> Server:
    """Wire the server described by ``settings``.

    The scheduler runs with ``scheduler_settings`` when given, else with
    ``settings.scheduler_settings()`` when ``settings`` name a Mesos master, else not at all.
    Raises ConfigurationError when the API's address cannot be listened on.
    """
    zookeeper = ZooKeeper(
        settings.zk_servers,
        namespace=settings.zk_namespace,
        digest=settings.zk_digest,
        timeout=settings.zk_timeout_seconds,
        session_timeout=settings.zk_session_timeout_seconds,
    )
    if scheduler_settings is None and settings.mesos_url is not None:
        scheduler_settings = settings.scheduler_settings()
    store = sink = None
    if settings.event_trace_rdb_url:
        try:
            store = TraceStore(settings.event_trace_rdb_url)
        except OSError as exc:  # a SQLite file's directory that cannot be made
            raise ConfigurationError(f"ELASTICJOB_EVENT_TRACE_RDB_URL: {exc}") from exc
        sink = BufferedTraceSink(
            store,
            capacity=settings.event_trace_buffer,
            retention=timedelta(days=settings.event_trace_retention_days),
        )
    scheduler = None
    if scheduler_settings is not None:
        scheduler = build_scheduler(zookeeper, scheduler_settings, clock=clock, trace=sink)
    counts = RegistryCounts(zookeeper)
    zone = settings.zone()
    tracing = None
    if store is not None and sink is not None:
        leading = scheduler.leading.is_set if scheduler is not None else (lambda: False)
        aggregator = StatisticsAggregator(
            store, leading=leading, running_counts=counts.running, registered_count=counts.registered
        )
        tracing = Tracing(store=store, sink=sink, aggregator=aggregator)
    history = History(store, zone=zone, execution_types=counts.by_execution_type)
    job_repository = JobRepository(zookeeper)
    ready = ReadyQueue(zookeeper)
    disabled = DisabledFlags(zookeeper)
    framework_ids = FrameworkIdStore(zookeeper)
    jobs = JobManager(job_repository, ready, disabled, scheduler)
    operate = OperateManager(
        JobStateRegistry(
            job_repository,
            disabled,
            ready,
            RunningTasks(zookeeper),
            FailoverQueue(zookeeper),
            DiagnosisStore(zookeeper),
            framework_ids,
        ),
        ReconcileRequests(zookeeper),
        mesos_url=settings.mesos_url if scheduler_settings is None else scheduler_settings.mesos_url,
        zone=zone if scheduler_settings is None else scheduler_settings.core.zone,
        clock=clock,
        task_states=scheduler,
        run_history=store,
    )
    try:
        api = create_server(
            settings.grpc_address,
            credentials=Credentials(settings.auth_username, settings.auth_password),
            signer=TokenSigner(settings.token_secret, settings.token_ttl_seconds, clock=clock),
            apps=AppManager(AppRepository(zookeeper), events=scheduler),
            jobs=jobs,
            history=history,
            operate=operate,
            registry=zookeeper,
            zone=zone,
            task_output=MesosTaskOutput(settings.mesos_url, framework_ids.get, detect=detect_leader),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"ELASTICJOB_GRPC_ADDRESS: {exc}") from exc
    return Server(
        settings=settings, zookeeper=zookeeper, api=api, scheduler=scheduler, history=history, tracing=tracing
    )


def build_scheduler(
    zookeeper: ZooKeeper,
    settings: SchedulerSettings,
    *,
    clock: Clock | None = None,
    trace: TraceSink | None = None,
) -> SchedulerService:
    """A scheduler service on ``zookeeper``, not yet started (``build`` makes the server's); it
    hands trace events to ``trace`` (none kept when not given), whose counts the metrics show."""
    sink = trace or NoTrace()
    metrics.follow_trace_sink(sink)
    return SchedulerService(zookeeper, settings, clock=clock or SystemClock(), trace=sink)
