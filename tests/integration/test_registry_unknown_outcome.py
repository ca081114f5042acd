"""A write ZooKeeper receives but answers too late: the 503 says its outcome is unknown, and the
identical retry succeeds whether or not the first write was applied.

ZooKeeper is paused with SIGSTOP (its process stays alive, with the request in its socket buffer),
so it applies the write when it resumes, after the server has given up waiting. This test owns its
ZooKeeper, so pausing it disturbs no other test."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import ZooKeeperServer
from testkit.harness import running_stack, unique_name, zookeeper_server

ZK_TIMEOUT = 1.5  # the server's wait for ZooKeeper; the pause outlasts it, the session does not
PAUSE = 2.5


@contextlib.contextmanager
def paused(zk_server: ZooKeeperServer, seconds: float) -> Iterator[None]:
    """ZooKeeper stopped now and resumed ``seconds`` later, whatever the body does meanwhile."""
    assert zk_server.process is not None
    pgid = zk_server.process.process.pid
    os.killpg(pgid, signal.SIGSTOP)
    timer = threading.Timer(seconds, os.killpg, (pgid, signal.SIGCONT))
    timer.start()
    try:
        yield
    finally:
        timer.join()


def app_body(app_name: str, **fields: object) -> dict[str, object]:
    return {"appName": app_name, "appURL": "http://h/app.tar.gz", "bootstrapScript": "bin/start.sh", **fields}


def job_body(app_name: str, job_name: str, **fields: object) -> dict[str, object]:
    return {
        "appName": app_name,
        "jobName": job_name,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "jobExecutionType": "TRANSIENT",
        "shardingTotalCount": 2,
        **fields,
    }


def retried(send: Callable[[], httpx.Response], deadline: float = 20.0) -> httpx.Response:
    """The same request sent again while the server still answers 503 (reconnecting)."""
    end = time.monotonic() + deadline
    response = send()
    while response.status_code == 503 and time.monotonic() < end:
        time.sleep(0.2)
        response = send()
    return response


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[tuple[httpx.Client, ZooKeeperServer]]:
    with (
        zookeeper_server(tmp_path / "zk") as zk_server,
        running_stack(zk_server.connect_string, tmp_path, zk_timeout_seconds=ZK_TIMEOUT) as stack,
    ):
        token = stack.login()
        with httpx.Client(
            base_url=stack.envoy.base_url, headers={"accessToken": token}, timeout=30
        ) as client:
            yield client, zk_server


def test_a_register_that_timed_out_is_retried_successfully(
    rest: tuple[httpx.Client, ZooKeeperServer],
) -> None:
    client, zk_server = rest
    app_name, job_name = unique_name("app"), unique_name("job")
    assert client.post("/api/app", json=app_body(app_name)).status_code == 200
    body = job_body(app_name, job_name)
    with paused(zk_server, PAUSE):
        first = client.post("/api/job/register", json=body)
    assert first.status_code == 503, first.text
    assert "may or may not have been applied" in first.json()["message"]
    again = retried(lambda: client.post("/api/job/register", json=body))
    assert again.status_code == 200, again.text
    assert again.json()["jobName"] == job_name
    different = client.post("/api/job/register", json={**body, "shardingTotalCount": 3})
    assert different.status_code == 409, different.text


def test_a_publish_that_timed_out_is_retried_successfully(rest: tuple[httpx.Client, ZooKeeperServer]) -> None:
    client, zk_server = rest
    body = app_body(unique_name("app"))
    with paused(zk_server, PAUSE):
        first = client.post("/api/app", json=body)
    assert first.status_code == 503, first.text
    assert "may or may not have been applied" in first.json()["message"]
    assert retried(lambda: client.post("/api/app", json=body)).status_code == 200
    assert client.post("/api/app", json={**body, "cpuCount": 2}).status_code == 409


def test_an_update_and_a_modify_that_timed_out_are_retried_successfully(
    rest: tuple[httpx.Client, ZooKeeperServer],
) -> None:
    client, zk_server = rest
    app_name, job_name = unique_name("app"), unique_name("job")
    assert client.post("/api/app", json=app_body(app_name)).status_code == 200
    assert client.post("/api/job/register", json=job_body(app_name, job_name)).status_code == 200
    update = job_body(app_name, job_name, shardingTotalCount=4, description="four")
    with paused(zk_server, PAUSE):
        first = client.put("/api/job/update", json=update)
    assert first.status_code == 503, first.text
    again = retried(lambda: client.put("/api/job/update", json=update))
    assert again.status_code == 200, again.text
    assert (again.json()["shardingTotalCount"], again.json()["description"]) == (4, "four")

    modify = {"appName": app_name, "cpuCount": 0.5}
    with paused(zk_server, PAUSE):
        first = client.put("/api/app", json=modify)
    assert first.status_code == 503, first.text
    again = retried(lambda: client.put("/api/app", json=modify))
    assert again.status_code == 200, again.text
    assert again.json()["cpuCount"] == 0.5
