"""Run history and metrics on the whole system: ZooKeeper, the embedded cluster (real executors,
real scripts), the server with its scheduler, Envoy. The scheduler's trace sink is an in-memory
one here (the trace store has its own suite).

As ElasticJob 3.0: every task is traced from ``TASK_STAGING`` through each status update, every
run of every shard is an execution with ``isSuccess``, a run that exits non-zero is a failed
execution with its cause whether the task fails (THROW) or finishes (LOG), and a fetch the agent
could not make fails the task with ``REASON_CONTAINER_LAUNCH_FAILED`` (Mesos "Task State
Reasons"), which its status trace names. ``/metrics`` is Prometheus' text format 0.0.4."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.telemetry import metrics
from testkit.e2e import System
from testkit.polling import eventually
from testkit.trace_sink import ListSink


@pytest.fixture(scope="module")
def sink(system: System) -> Iterator[ListSink]:
    """The leading scheduler's trace sink, for its current core and any later one."""
    sink = ListSink()
    scheduler = system.scheduler
    scheduler.trace = sink
    assert scheduler.core is not None
    scheduler.core.tracing.sink = sink
    metrics.follow_trace_sink(sink)  # as build_scheduler does for the sink it is given
    yield sink


def scrape(system: System) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with httpx.Client(base_url=system.envoy.base_url, timeout=10) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (found, got), value in values.items() if found == name and wanted <= set(got))


def test_each_shards_run_is_traced_from_staging_to_finished_with_a_successful_execution(
    system: System, sink: ListSink
) -> None:
    app = system.publish_app()
    job = system.register_job(app, shardingTotalCount=2, shardingItemParameters="0=a,1=b")
    system.trigger(job)
    eventually(lambda: len([e for e in sink.executions_of(job) if e.is_completion]) == 2, timeout=40)
    task_ids = {trace.task_id for trace in sink.of_job(job)}
    assert len(task_ids) == 2
    for task_id in task_ids:
        eventually(lambda task_id=task_id: "TASK_FINISHED" in sink.states_of(task_id), timeout=10)
        states = sink.states_of(task_id)
        assert states[0] == "TASK_STAGING"
        assert "TASK_RUNNING" in states and states[-1] == "TASK_FINISHED"
    executions = sink.executions_of(job)
    starts = [e for e in executions if not e.is_completion]
    completions = [e for e in executions if e.is_completion]
    assert sorted(e.sharding_item for e in completions) == [0, 1]
    assert {e.id for e in starts} == {e.id for e in completions}
    for event in completions:
        assert event.is_success is True and event.failure_cause is None
        assert event.hostname and event.ip
        assert event.start_time is not None and event.complete_time is not None
        assert event.start_time <= event.complete_time


@pytest.mark.parametrize(("handler", "end"), [("LOG", "TASK_FINISHED"), ("THROW", "TASK_FAILED")])
def test_a_script_exiting_3_is_a_failed_execution_with_its_cause(
    system: System, sink: ListSink, handler: str, end: str
) -> None:
    app = system.publish_app()
    job = system.register_job(app, shardingItemParameters="0=fail", jobErrorHandlerType=handler)
    system.trigger(job)
    (completion,) = eventually(
        lambda: [e for e in sink.executions_of(job) if e.is_completion] or None, timeout=40
    )
    assert completion.is_success is False
    assert completion.failure_cause is not None
    assert completion.failure_cause.startswith(f"run failed with exit code 3 (jobErrorHandlerType {handler})")
    task_id = completion.task_id
    eventually(lambda: end in sink.states_of(task_id), timeout=10, what=end)


def test_an_unfetchable_app_shows_the_fetch_error_in_its_status_traces(
    system: System, sink: ListSink
) -> None:
    app = system.publish_app(app_url="http://127.0.0.1:9/missing-app.tar.gz")
    job = system.register_job(app)
    system.trigger(job)
    failed = eventually(
        lambda: [t for t in sink.of_job(job) if t.state == "TASK_FAILED"] or None,
        timeout=40,
        what="fetch failure",
    )
    message = failed[0].message
    assert message.startswith("REASON_CONTAINER_LAUNCH_FAILED: ")
    assert "missing-app.tar.gz" in message
    assert not sink.executions_of(job), "nothing ran"
    system.deregister(job)


def test_daemon_runs_reach_the_trace_as_executor_messages_sampled_every_n_runs(
    system: System, sink: ListSink
) -> None:
    app = system.publish_app(eventTraceSamplingCount=2)
    job = system.register_job(app, jobExecutionType="DAEMON", cron="* * * * * ?")
    completions = eventually(
        lambda: [e for e in sink.executions_of(job) if e.is_completion][2:] and sink.executions_of(job),
        timeout=40,
        what="three sampled DAEMON runs",
    )
    runs = len(system.runs(job, "end"))
    system.deregister(job)
    done = [e for e in completions if e.is_completion]
    assert all(e.is_success is True and e.hostname for e in done)
    assert len({e.task_id for e in done}) == 1, "one resident task runs them all"
    assert runs >= 2 * len(done), "every other run is sampled"


def test_metrics_counters_move_as_a_job_runs(system: System, sink: ListSink) -> None:
    before = scrape(system)
    assert total(before, "elasticjob_leader") == 1
    app = system.publish_app()
    job = system.register_job(app, shardingTotalCount=3)
    system.trigger(job)
    eventually(lambda: len([e for e in sink.executions_of(job) if e.is_completion]) == 3, timeout=40)
    eventually(lambda: not system.running_nodes(job), timeout=10)

    def moved() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        after = scrape(system)
        finished = total(after, "elasticjob_task_status_updates_total", state="TASK_FINISHED")
        if finished - total(before, "elasticjob_task_status_updates_total", state="TASK_FINISHED") < 3:
            return None
        return after

    after = eventually(moved, timeout=10, what="three more TASK_FINISHED updates counted")
    launches = "elasticjob_task_launches_total"
    assert (
        total(after, launches, execution_type="READY") - total(before, launches, execution_type="READY") >= 3
    )
    requests = "elasticjob_zookeeper_request_seconds_count"
    assert total(after, requests) > total(before, requests)
    assert total(after, "elasticjob_trace_events_written_total") > total(
        before, "elasticjob_trace_events_written_total"
    )
