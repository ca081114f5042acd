"""A ``failover: true`` job whose app cannot be fetched (http on a closed loopback port), on the
real embedded cluster: every launch fails in the fetcher at once, and each re-run of the shard
waits out its backoff (1 s doubling, jittered), so launches stay few and no empty sandboxes pile
up. The Mesos fetcher fails such a task with TASK_FAILED without starting it ("Mesos fetcher")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import ZooKeeperServer, free_port
from testkit.e2e import System, running_system
from testkit.polling import eventually

WATCH_SECONDS = 20.0


@pytest.fixture
def system(zk_server: ZooKeeperServer, tmp_path: Path) -> Iterator[System]:
    with running_system(zk_server.connect_string, tmp_path) as running:
        yield running


def launches_of(system: System, job: str) -> int:
    return sum(1 for task in system.tasks_history() if task["id"].startswith(f"{job}@-@"))


def test_an_app_that_cannot_be_fetched_is_retried_with_backoff(system: System) -> None:
    closed = free_port()  # nothing listens there
    app = system.publish_app(f"http://127.0.0.1:{closed}/app.tar.gz", appCacheEnable=False)
    job = system.register_job(app, failover=True)
    system.trigger(job)
    eventually(lambda: launches_of(system, job) >= 1, timeout=15, what="first launch")
    started = time.monotonic()
    time.sleep(WATCH_SECONDS)
    launches = launches_of(system, job)
    print(f"launches of the failing shard in {WATCH_SECONDS:.0f} s: {launches}")
    # 1 + retries after about 1, 2, 4, 8 s (each up to 20 % shorter): 5 or 6 within 20 s;
    # without backoff it was hundreds.
    assert 2 <= launches <= 7, f"{launches} launches in {time.monotonic() - started:.0f} s"

    queued = system.failover_nodes(job)
    if queued:  # between two attempts: the wait is in ZooKeeper for the API and a successor
        from server.registry.failover import FailoverEntry

        data, _ = system.zookeeper.client.get(system.zookeeper.paths.failover_shard(job, queued[0]))
        entry = FailoverEntry.decode(data.decode())
        assert entry.attempts >= 3
        assert entry.retry_at > time.time() - 1
    leftovers = [p for p in system.sandboxes() if p.parent.parent.name.startswith(f"{app}@-@")]
    assert leftovers == [], "sandboxes of tasks that never started are removed"
    system.deregister(job)
