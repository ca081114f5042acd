"""Two replicas on one ZooKeeper namespace, each behind its own Envoy: a trigger sent through the
replica that does not lead reaches the leader through ZooKeeper watches and runs within about a
second, not at the leader's periodic resync (30 s by default; 5 s in the e2e kit, so anything
near that would fail here)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx

from devstack.stack import EnvoyProxy, ZooKeeperServer
from server.wiring import build
from testkit.e2e import running_system
from testkit.harness import make_settings, unique_name
from testkit.polling import eventually

TRIGGERS = 10


def test_a_trigger_through_the_standby_runs_within_a_second(
    zk_server: ZooKeeperServer, tmp_path: Path
) -> None:
    with running_system(zk_server.connect_string, tmp_path / "leader") as system:
        standby = build(make_settings(system.server.settings.zk_namespace, zk_server.connect_string))
        envoy = EnvoyProxy(tmp_path / "standby-envoy", grpc_port=standby.port)
        try:
            standby.start(zookeeper_wait=10)
            envoy.start()
            with httpx.Client(base_url=envoy.base_url, timeout=10) as client:
                login = {
                    "username": standby.settings.auth_username,
                    "password": standby.settings.auth_password,
                }
                token = client.post("/api/login", json=login).json()["accessToken"]
                client.headers["accessToken"] = token
                app, job = unique_name("app"), unique_name("job")
                published = client.post(
                    "/api/app",
                    json={
                        "appName": app,
                        "appURL": system.app_archive.as_uri(),
                        "bootstrapScript": "bin/run.sh",
                        "cpuCount": 0.1,
                        "memoryMB": 32.0,
                    },
                )
                assert published.status_code == 200, published.text
                registered = client.post(
                    "/api/job/register",
                    json={
                        "appName": app,
                        "jobName": job,
                        "cpuCount": 0.1,
                        "memoryMB": 16.0,
                        "jobExecutionType": "TRANSIENT",
                        "shardingTotalCount": 1,
                    },
                )
                assert registered.status_code == 200, registered.text
                delays: list[float] = []
                for count in range(1, TRIGGERS + 2):  # the first starts the executor: not counted
                    sent = time.time()
                    answer = client.post(
                        "/api/job/trigger", content=job, headers={"Content-Type": "application/json"}
                    )
                    assert answer.status_code == 200, answer.text
                    run = eventually(
                        lambda c=count: next(iter(system.runs(job, "end")[c - 1 :]), None),
                        timeout=15,
                        what=f"run {count} of the job",
                    )
                    assert run is not None
                    if count > 1:
                        delays.append(run_started(system.results, job, count) - sent)
            p50, worst = statistics.median(delays), max(delays)
            print(f"trigger through the standby -> run start: p50 {p50:.3f} s, max {worst:.3f} s")
            assert p50 < 1.0, delays
            assert worst < 2.0, delays
        finally:
            envoy.stop()
            standby.stop(grace=0.5)


def run_started(results: Path, job: str, count: int) -> float:
    """When the ``count``-th run of ``job`` started (the test app logs ``date +%s.%N``)."""
    starts = [line for line in (results / f"{job}.log").read_text().splitlines() if line.startswith("start ")]
    return float(starts[count - 1].split()[-1])
