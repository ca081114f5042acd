"""Deregistering a failover job while its shards run, on the real system (ZooKeeper, the embedded
cluster, the server, Envoy), in rounds that race the scheduler: right after a trigger (the launch
in flight), while the fetcher runs, and while the shards run; through the leader's REST API and
through another replica's registry client (whose writes the leader hears of through ZooKeeper
watches). Then another replica registers the name again on another app and triggers it before
the leader has read the new configuration; last, the name is registered again on another app
without a cron.

Asserted: no ``/state/running`` or ``/state/failover`` node of the name outlives a deregister; the
raced trigger runs the new configuration (its app, its one shard), never the earlier one; no
shard of the new job runs without a trigger (no phantom run within ~10 s); a trigger of the new
job runs each shard exactly once, with no ``NodeExistsError`` of a leftover node in the log. The
killed shards of the earlier jobs end in the cluster, and queue nothing."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import ZooKeeperServer
from server.domain.job import JobConfig, JobExecutionType
from server.registry.disabled import DisabledFlags
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.registry.zookeeper import ZooKeeper
from server.usecases.jobs import JobManager
from testkit.e2e import System, build_app, running_system, runs
from testkit.harness import unique_name
from testkit.polling import eventually

SHARDS = 3
QUIET_SECONDS = 10.0
#: Seconds after the trigger at which each round deregisters: racing the launch, the fetch, the run.
ROUND_DELAYS = (0.0, 0.3, None, 0.0, None)


@pytest.fixture
def system(zk_server: ZooKeeperServer, tmp_path: Path) -> Iterator[System]:
    with running_system(zk_server.connect_string, tmp_path) as running:
        yield running


@contextlib.contextmanager
def other_replica(system: System) -> Iterator[JobManager]:
    """The use cases of another server process: its own ZooKeeper session on the namespace."""
    zookeeper = ZooKeeper(system.zookeeper.servers, namespace=system.zookeeper.paths.namespace, timeout=5.0)
    assert zookeeper.start(wait=10)
    try:
        yield JobManager(JobRepository(zookeeper), ReadyQueue(zookeeper), DisabledFlags(zookeeper))
    finally:
        zookeeper.stop()


def register(system: System, app: str, job: str, **fields: object) -> None:
    body = {
        "appName": app,
        "jobName": job,
        "cpuCount": 0.1,
        "memoryMB": 16.0,
        "jobExecutionType": "TRANSIENT",
        "shardingTotalCount": SHARDS,
        "failover": True,
        **fields,
    }
    with system.rest() as client:
        response = client.post("/api/job/register", json=body)
    assert response.status_code == 200, response.text


def again(job: str, app: str) -> JobConfig:
    """The name on ``app``: one shard, no cron."""
    return JobConfig(
        job_name=job,
        app_name=app,
        cpu_count=0.1,
        memory_mb=16.0,
        job_execution_type=JobExecutionType.TRANSIENT,
        sharding_total_count=1,
        cron="",
    )


def state_left(system: System, job: str) -> dict[str, list[str]]:
    left = {"running": system.running_nodes(job), "failover": system.failover_nodes(job)}
    return {kind: nodes for kind, nodes in left.items() if nodes}


def test_deregister_while_shards_run_leaves_nothing_that_runs_later(
    system: System, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server")
    started = time.monotonic()
    job = unique_name("job")
    old_app = system.publish_app(appCacheEnable=False)
    with other_replica(system) as replica:
        for round_number, delay in enumerate(ROUND_DELAYS):
            through_replica = round_number % 2 == 1
            register(system, old_app, job, cron="0 0 * * * ?", jobParameter="sleep30")
            before = len(runs(system.results, job))
            system.trigger(job)
            if delay is None:  # while the shards run
                eventually(
                    lambda: len(runs(system.results, job)) > before,  # noqa: B023
                    timeout=15,
                    what=f"round {round_number}: shards started",
                )
            else:
                time.sleep(delay)
            if through_replica:
                replica.deregister(job)
            else:
                system.deregister(job)
            assert state_left(system, job) == {}, f"round {round_number}: state left at once"
        time.sleep(1.0)  # kills and ends of the earlier jobs' tasks come in meanwhile
        assert state_left(system, job) == {}, "state left after the earlier jobs' tasks ended"

        # Behind the leader's back: another replica registers the name again on another app and
        # triggers it at once, before the leader has read the new configuration.
        register(system, old_app, job, cron="0 0 * * * ?")
        # An every-second job keeps offers on hand, so the trigger can launch the moment it is seen.
        keeper = system.register_job(system.publish_app(), cron="* * * * * ?")
        eventually(lambda: len(runs(system.results, keeper, "end")) >= 2, timeout=10, what="offers held")
        raced_results = tmp_path / "raced-results"
        raced_app = system.publish_app(build_app(tmp_path / "raced-app", raced_results).as_uri())
        old_starts = len(runs(system.results, job))
        replica.deregister(job)
        replica.register(again(job, raced_app))
        replica.trigger(job)
        eventually(
            lambda: len(runs(raced_results, job, "end")) >= 1, timeout=15, what="the raced trigger's run"
        )
        time.sleep(1.0)
        assert len(runs(system.results, job)) == old_starts, "a shard ran with the earlier configuration"
        assert [run.item for run in runs(raced_results, job)] == [0], "the new configuration's one shard"
        system.deregister(keeper)
        system.deregister(job)
        assert state_left(system, job) == {}
        old_starts = len(runs(system.results, job))

        # The same name on another app, with no cron: nothing runs until it is triggered.
        new_results = tmp_path / "new-results"
        new_archive = build_app(tmp_path / "new-app", new_results)
        new_app = system.publish_app(new_archive.as_uri(), appCacheEnable=False)
        register(system, new_app, job, cron="")
        time.sleep(QUIET_SECONDS)
        assert runs(new_results, job) == [], "a shard of the new job ran without a trigger"
        assert len(runs(system.results, job)) == old_starts, "a shard ran with an earlier configuration"
        assert state_left(system, job) == {}

        system.trigger(job)
        eventually(lambda: len(runs(new_results, job, "end")) >= SHARDS, timeout=20, what="the triggered run")
        time.sleep(1.0)  # a second run, if one came, would start now
    ran = sorted(run.item for run in runs(new_results, job))
    assert ran == list(range(SHARDS)), f"each shard once, got {ran}"
    assert len(runs(system.results, job)) == old_starts
    assert [r.getMessage() for r in caplog.records if "NodeExistsError" in r.getMessage()] == []
    eventually(lambda: state_left(system, job) == {}, timeout=5, what="the run's nodes removed")
    assert time.monotonic() - started < 60
