"""Deleting an app while others write: the app's removal is one ZooKeeper transaction ("Every
multi-node change is one ZooKeeper transaction", the registry rules of DESIGN), so a race makes it
fail whole and be retried, and a job registered for the app meanwhile does not outlive it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Set

import pytest
from kazoo.client import KazooClient

from devstack.stack import ZooKeeperServer
from server.domain.app import AppConfig
from server.domain.errors import FailedPrecondition
from server.domain.job import JobConfig, JobExecutionType
from server.registry.apps import AppRepository
from server.registry.jobs import JobRepository
from server.registry.transaction_ops import TransactionTooLarge
from server.registry.zookeeper import ZooKeeper
from server.usecases.apps import AppManager
from testkit.harness import snapshot, unique_name


class RacingJobs(JobRepository):
    """The real repository, with ``race`` run once right after ``delete_app`` listed the jobs."""

    def __init__(self, zookeeper: ZooKeeper, race: Callable[[], None]) -> None:
        super().__init__(zookeeper)
        self._race: Callable[[], None] | None = race

    def _list_versions(self, exclude: Set[str] = frozenset()) -> list[tuple[JobConfig, int]]:
        listed = super()._list_versions(exclude)
        if self._race is not None:
            race, self._race = self._race, None
            race()
        return listed


@pytest.fixture
def zookeeper(zk_server: ZooKeeperServer) -> Iterator[ZooKeeper]:
    connection = ZooKeeper(zk_server.connect_string, namespace=unique_name("appdelete"), timeout=5.0)
    assert connection.start(wait=10)
    yield connection
    connection.stop()


def job_of(app: AppConfig) -> JobConfig:
    return JobConfig(
        job_name=unique_name("job"),
        app_name=app.app_name,
        cpu_count=0.1,
        memory_mb=32.0,
        job_execution_type=JobExecutionType.TRANSIENT,
        sharding_total_count=1,
    )


def publish(zookeeper: ZooKeeper) -> AppConfig:
    app = AppConfig(app_name=unique_name("app"), app_url="http://repo.test/a.tgz", bootstrap_script="run.sh")
    AppRepository(zookeeper).create(app)
    return app


def test_a_job_registered_while_its_app_is_deleted_goes_with_it(
    zookeeper: ZooKeeper, zk: KazooClient
) -> None:
    app = publish(zookeeper)
    first = job_of(app)
    JobRepository(zookeeper).create(first)
    late = job_of(app)
    jobs = RacingJobs(zookeeper, lambda: JobRepository(zookeeper).create(late))
    removed = AppManager(AppRepository(zookeeper), jobs=jobs).delete(app.app_name)
    assert sorted(removed) == sorted([first.job_name, late.job_name])
    assert [
        path
        for path in snapshot(zk, zookeeper.paths.root)
        if app.app_name in path or "job_" in path.rsplit("/", 1)[-1]
    ] == []


def test_a_task_launched_while_its_app_is_deleted_makes_the_removal_retry_and_leaves_nothing(
    zookeeper: ZooKeeper, zk: KazooClient
) -> None:
    app = publish(zookeeper)
    job = job_of(app)
    JobRepository(zookeeper).create(job)
    running = zookeeper.paths.running_task(job.job_name, f"{job.job_name}@-@0")
    attempts: list[int] = []

    def launch() -> None:  # where a scheduler's launch transaction lands
        attempts.append(1)
        zk.create(running, f"{job.job_name}@-@0@-@READY@-@agent-1@-@u1".encode(), makepath=True)

    jobs = RacingJobs(zookeeper, launch)
    assert AppManager(AppRepository(zookeeper), jobs=jobs).delete(app.app_name) == [job.job_name]
    assert attempts == [1]
    left = snapshot(zk, zookeeper.paths.root)
    assert [path for path in left if job.job_name in path or app.app_name in path] == []


class OversizedJobs(JobRepository):
    def delete_app(self, app_name: str) -> list[str]:
        raise TransactionTooLarge("a transaction of 20000 operations exceeds ZooKeeper's request limit")


def test_an_app_too_large_to_delete_at_once_is_refused_whole(zookeeper: ZooKeeper, zk: KazooClient) -> None:
    app = publish(zookeeper)
    before = snapshot(zk, zookeeper.paths.root)
    with pytest.raises(FailedPrecondition) as caught:
        AppManager(AppRepository(zookeeper), jobs=OversizedJobs(zookeeper)).delete(app.app_name)
    assert "deregister some of its jobs first" in str(caught.value)
    assert snapshot(zk, zookeeper.paths.root) == before
