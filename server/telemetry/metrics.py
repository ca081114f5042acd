"""The server's Prometheus metrics (the official ``prometheus_client``), in its default registry.

Counters and histograms are module objects that the scheduler, the registry and the API update
where the event happens (each update is a few microseconds, no IO). Gauges of the scheduler's
queues and of the trace store are read at scrape time from the objects that hold them: a
scheduler core registers itself with :func:`follow_scheduler`, a trace sink with
:func:`follow_trace_sink` (its ``written`` and ``dropped`` attributes, when it has them).
Sources are held weakly; several in one process (tests run more than one server) are summed.
:func:`exposition` renders everything in the text format version 0.0.4, which every Prometheus
scrapes. The README's metrics table documents each metric.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "FIRES",
    "FIRE_LATENESS",
    "FIRE_TO_LAUNCH",
    "LAUNCHES",
    "LEADER",
    "LEADERSHIPS",
    "OFFERS_DECLINED",
    "OFFER_REVIVES",
    "OFFER_SUPPRESSIONS",
    "SCHEDULER_GAUGES",
    "TASK_STATUS_UPDATES",
    "ZOOKEEPER_ERRORS",
    "ZOOKEEPER_REQUEST_SECONDS",
    "SchedulerGauges",
    "exposition",
    "follow_scheduler",
    "follow_trace_sink",
    "forget_scheduler",
]

log = logging.getLogger("server.telemetry")

#: The content type of :func:`exposition`'s text.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

#: Seconds, from a millisecond to a minute: scheduling delays and ZooKeeper round trips.
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

FIRES = Counter("elasticjob_cron_fires", "Cron fire times of TRANSIENT jobs taken by the scheduler.")
FIRE_LATENESS = Histogram(
    "elasticjob_fire_lateness_seconds",
    "How long after its scheduled time each cron fire was taken by the scheduler.",
    buckets=_LATENCY_BUCKETS,
)
FIRE_TO_LAUNCH = Histogram(
    "elasticjob_fire_to_launch_seconds",
    "From a cron fire taken to the master accepting the launch of its run (first fire of a job's queue).",
    buckets=_LATENCY_BUCKETS,
)
LAUNCHES = Counter(
    "elasticjob_task_launches", "Tasks launched (in ACCEPTs the master took).", ["execution_type"]
)
TASK_STATUS_UPDATES = Counter(
    "elasticjob_task_status_updates",
    "Task status updates received from Mesos, and ends the scheduler decided, by state and reason.",
    ["state", "reason"],
)
OFFERS_DECLINED = Counter("elasticjob_offers_declined", "Offers declined.")
OFFER_SUPPRESSIONS = Counter("elasticjob_offer_suppressions", "SUPPRESS calls sent (nothing due soon).")
OFFER_REVIVES = Counter("elasticjob_offer_revives", "REVIVE calls sent (work waiting or due soon).")
ZOOKEEPER_REQUEST_SECONDS = Histogram(
    "elasticjob_zookeeper_request_seconds",
    "ZooKeeper requests and transactions, by kind, from sending to the answer.",
    ["request"],
    buckets=_LATENCY_BUCKETS,
)
ZOOKEEPER_ERRORS = Counter(
    "elasticjob_zookeeper_errors",
    "ZooKeeper requests that failed, by kind and error class (unreachable, timed out, or refused).",
    ["request", "error"],
)
# Series known in advance start at zero, so a rate over the first scrapes is right.
for _request in ("call", "commit", "acall", "acommit"):
    ZOOKEEPER_REQUEST_SECONDS.labels(_request)
for _execution_type in ("READY", "FAILOVER"):
    LAUNCHES.labels(_execution_type)
LEADER = Gauge("elasticjob_leader", "1 while this process leads the scheduling, else 0.")
LEADERSHIPS = Counter("elasticjob_leaderships", "Times this process was elected leader.")


class SchedulerGauges(Protocol):
    """What a scheduler core shows at scrape time: gauge name → value."""

    def gauges(self) -> Mapping[str, float]: ...


#: The scheduler gauges: name → help. A source reports each of them.
SCHEDULER_GAUGES = {
    "elasticjob_ready_jobs": "Jobs with runs waiting in the ready queue.",
    "elasticjob_failover_shards": "Shards waiting in the failover queue.",
    "elasticjob_running_tasks": "Tasks recorded as running (or being killed).",
    "elasticjob_offers_held": "Offers the scheduler holds unanswered.",
    "elasticjob_offers_suppressed": "1 while the scheduler has offers suppressed, else 0.",
}


class _Sources:
    """Objects read at scrape time, held weakly where they allow it."""

    def __init__(self) -> None:
        self._weak: weakref.WeakSet[Any] = weakref.WeakSet()
        self._strong: list[Any] = []

    def add(self, source: Any) -> None:
        try:
            self._weak.add(source)
        except TypeError:  # no __weakref__ slot: kept for the life of the process
            if all(kept is not source for kept in self._strong):
                self._strong.append(source)

    def discard(self, source: Any) -> None:
        self._weak.discard(source)
        self._strong = [kept for kept in self._strong if kept is not source]

    def __iter__(self) -> Iterator[Any]:
        return iter([*self._weak, *self._strong])


_schedulers = _Sources()
_trace_sinks = _Sources()


def follow_scheduler(source: SchedulerGauges) -> None:
    """Report ``source``'s gauges from now on (until it is gone or :func:`forget_scheduler`)."""
    _schedulers.add(source)


def forget_scheduler(source: SchedulerGauges) -> None:
    _schedulers.discard(source)


def follow_trace_sink(sink: object) -> None:
    """Report the trace sink's ``written`` / ``dropped`` counts (if it has them) from now on."""
    _trace_sinks.add(sink)


class _ScrapeTimeCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        totals = dict.fromkeys(SCHEDULER_GAUGES, 0.0)
        for source in _schedulers:
            try:
                values = source.gauges()
            except Exception:  # a scrape must never fail for one source
                log.debug("scheduler gauges unreadable", exc_info=True)
                continue
            for name in totals:
                totals[name] += float(values.get(name, 0.0))
        for name, text in SCHEDULER_GAUGES.items():
            yield GaugeMetricFamily(name, text, value=totals[name])
        written = dropped = 0.0
        for sink in _trace_sinks:
            written += _count(sink, "written")
            dropped += _count(sink, "dropped")
        yield CounterMetricFamily(
            "elasticjob_trace_events_written", "Trace events the trace store wrote.", value=written
        )
        yield CounterMetricFamily(
            "elasticjob_trace_events_dropped",
            "Trace events the trace store dropped (its buffer full while the database was slow or away).",
            value=dropped,
        )


def _count(sink: object, name: str) -> float:
    value = getattr(sink, name, 0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


REGISTRY.register(_ScrapeTimeCollector())


def exposition() -> bytes:
    """Every metric of the process, in Prometheus' text format 0.0.4 (:data:`CONTENT_TYPE`)."""
    return generate_latest(REGISTRY)
