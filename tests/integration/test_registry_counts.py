"""The registry counts the statistics record (``server.registry.counts``): ElasticJob-Cloud 3.0's
statistics count the running tasks and the jobs with one (``/state/running/{job}/{task}``), the
registered jobs, and the jobs by execution type (TRANSIENT, DAEMON) from their configurations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.stack import ZooKeeperServer
from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.registry.apps import AppRepository
from server.registry.counts import RegistryCounts
from server.registry.jobs import JobRepository
from server.registry.zookeeper import ZooKeeper
from testkit.harness import unique_name


@pytest.fixture
def zookeeper(zk_server: ZooKeeperServer) -> Iterator[ZooKeeper]:
    connection = ZooKeeper(zk_server.connect_string, namespace=unique_name("counts"), timeout=5.0)
    assert connection.start(wait=10)
    yield connection
    connection.stop()


def job(execution_type: JobExecutionType) -> JobConfig:
    return JobConfig(
        job_name=unique_name("job"),
        app_name="app",
        cpu_count=0.1,
        memory_mb=32.0,
        job_execution_type=execution_type,
        sharding_total_count=1,
        cron="0 0 * * * ?",
    )


def test_running_tasks_are_counted_with_the_jobs_that_have_one(zookeeper: ZooKeeper) -> None:
    client, paths = zookeeper.client, zookeeper.paths
    counts = RegistryCounts(zookeeper)
    assert counts.running() == (0, 0)
    for job_name, tasks in (("a", 2), ("b", 1), ("idle", 0)):
        client.ensure_path(paths.running_job(job_name))
        for item in range(tasks):
            client.create(paths.running_task(job_name, f"{job_name}@-@{item}"), b"task")
    assert counts.running() == (3, 2)


def test_jobs_are_counted_by_execution_type_leaving_out_nodes_that_hold_no_job(
    zookeeper: ZooKeeper,
) -> None:
    AppRepository(zookeeper).create(
        AppConfig(app_name="app", app_url="http://repo.test/a.tgz", bootstrap_script="run.sh")
    )
    jobs = JobRepository(zookeeper)
    for execution_type in (JobExecutionType.TRANSIENT, JobExecutionType.TRANSIENT, JobExecutionType.DAEMON):
        jobs.create(job(execution_type))
    zookeeper.client.create(zookeeper.paths.job("not-a-job"), b"{broken")
    counts = RegistryCounts(zookeeper)
    assert counts.by_execution_type() == (2, 1)
    assert counts.registered() == 4
