"""The metrics module: what a scrape shows (``server/telemetry/metrics.py``).

The text is Prometheus' exposition format 0.0.4, read back with ``prometheus_client``'s own
parser; counters carry the ``_total`` suffix the format gives them (Prometheus "Exposition
formats", "Metric types")."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from server.telemetry import metrics


def scrape() -> dict[str, float]:
    """Every sample without labels, by name."""
    families = text_string_to_metric_families(metrics.exposition().decode())
    return {
        sample.name: sample.value for family in families for sample in family.samples if not sample.labels
    }


class Gauges:
    def __init__(self, **values: float) -> None:
        self.values = values

    def gauges(self) -> Mapping[str, float]:
        return self.values


class CountingSink:
    def __init__(self, written: int, dropped: int) -> None:
        self.written = written
        self.dropped = dropped


def test_the_exposition_is_text_format_0_0_4_and_parses() -> None:
    assert metrics.CONTENT_TYPE.startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(metrics.exposition().decode())}
    assert {
        "elasticjob_cron_fires",
        "elasticjob_fire_lateness_seconds",
        "elasticjob_fire_to_launch_seconds",
        "elasticjob_task_launches",
        "elasticjob_task_status_updates",
        "elasticjob_ready_jobs",
        "elasticjob_failover_shards",
        "elasticjob_running_tasks",
        "elasticjob_offers_held",
        "elasticjob_offers_suppressed",
        "elasticjob_offers_declined",
        "elasticjob_zookeeper_request_seconds",
        "elasticjob_zookeeper_errors",
        "elasticjob_trace_events_written",
        "elasticjob_trace_events_dropped",
        "elasticjob_leader",
    } <= names


def test_scheduler_gauges_of_the_sources_alive_are_summed() -> None:
    before = scrape()
    first = Gauges(elasticjob_ready_jobs=2, elasticjob_running_tasks=5)
    second = Gauges(elasticjob_ready_jobs=1, elasticjob_offers_suppressed=1)
    metrics.follow_scheduler(first)
    metrics.follow_scheduler(second)
    during = scrape()
    assert during["elasticjob_ready_jobs"] - before["elasticjob_ready_jobs"] == 3
    assert during["elasticjob_running_tasks"] - before["elasticjob_running_tasks"] == 5
    assert during["elasticjob_offers_suppressed"] - before["elasticjob_offers_suppressed"] == 1
    metrics.forget_scheduler(first)
    del second  # held weakly: a core gone is no longer reported
    after = scrape()
    assert after["elasticjob_ready_jobs"] == before["elasticjob_ready_jobs"]
    assert after["elasticjob_running_tasks"] == before["elasticjob_running_tasks"]


def test_trace_sink_counts_are_read_when_the_sink_has_them() -> None:
    before = scrape()
    sink = CountingSink(written=40, dropped=2)
    metrics.follow_trace_sink(sink)
    metrics.follow_trace_sink(object())  # a sink without counts adds nothing
    sink.written += 2
    after = scrape()
    assert (
        after["elasticjob_trace_events_written_total"] - before["elasticjob_trace_events_written_total"] == 42
    )
    assert (
        after["elasticjob_trace_events_dropped_total"] - before["elasticjob_trace_events_dropped_total"] == 2
    )


def test_a_source_whose_gauges_fail_does_not_fail_the_scrape() -> None:
    class Broken:
        def gauges(self) -> Mapping[str, float]:
            raise RuntimeError("half torn down")

    broken = Broken()
    metrics.follow_scheduler(broken)
    try:
        assert "elasticjob_ready_jobs" in scrape()
    finally:
        metrics.forget_scheduler(broken)
