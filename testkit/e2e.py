"""End-to-end kit: the whole product on loopback, driven through REST.

A real ZooKeeper, the embedded cluster (``python -m server.cluster`` as a subprocess, as ``make
run`` starts it), the server with its scheduler built by ``server.wiring.build``, and a real
Envoy. Apps are tarballs the tests build; each shard appends a line to a results file, which is
what the tests read.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from kazoo.exceptions import NoNodeError

from devstack.stack import ChildProcess, EnvoyProxy, StartupError
from server.api.server import ApiServer
from server.registry.zookeeper import ZooKeeper
from server.scheduler.service import SchedulerService, SchedulerSettings
from server.settings import Settings
from server.wiring import Server, build, build_scheduler
from testkit.harness import make_settings, unique_name
from testkit.polling import eventually

RUN_SCRIPT = """#!/bin/sh
# Test app: record each run of each shard, then behave as the job parameter says.
results="@RESULTS@"
line="$ELASTICJOB_JOB_NAME $ELASTICJOB_SHARDING_ITEM [$ELASTICJOB_SHARDING_PARAMETER] $ELASTICJOB_TASK_ID"
echo "start $line $$ $(date +%s.%N)" >> "$results/$ELASTICJOB_JOB_NAME.log"
marker="$results/$ELASTICJOB_JOB_NAME.$ELASTICJOB_SHARDING_ITEM.failed"
case "$ELASTICJOB_SHARDING_PARAMETER" in
  fail) exit 3 ;;
  fail-once) if [ ! -e "$marker" ]; then touch "$marker"; exit 3; fi ;;
  sleep*) sleep "${ELASTICJOB_SHARDING_PARAMETER#sleep}" ;;
esac
case "$ELASTICJOB_JOB_PARAMETER" in
  sleep*) sleep "${ELASTICJOB_JOB_PARAMETER#sleep}" ;;
esac
echo "end $line $$ $(date +%s.%N)" >> "$results/$ELASTICJOB_JOB_NAME.log"
"""


def build_app(directory: Path, results: Path, name: str = "app.tar.gz") -> Path:
    """A tarball with ``bin/run.sh`` that records runs under ``results``."""
    directory.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    archive = directory / name
    script = RUN_SCRIPT.replace("@RESULTS@", str(results)).encode()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("bin/run.sh")
        info.size = len(script)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(script))
    return archive


@dataclass(frozen=True)
class Run:
    phase: str
    job_name: str
    item: int
    parameter: str
    task_id: str
    pid: int
    at: float


def runs(results: Path, job_name: str, phase: str = "start") -> list[Run]:
    path = results / f"{job_name}.log"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) != 7 or fields[0] != phase:
            continue
        found.append(
            Run(
                fields[0],
                fields[1],
                int(fields[2]),
                fields[3][1:-1],
                fields[4],
                int(fields[5]),
                float(fields[6]),
            )
        )
    return found


class ClusterProcess:
    """``python -m server.cluster`` on free ports; its endpoints come from ``cluster.json``."""

    def __init__(
        self,
        work_dir: Path,
        *,
        cpus: float = 8,
        mem: float = 16384,
        env: Mapping[str, str] | None = None,
        **flags: object,
    ) -> None:
        self.work_dir = work_dir
        self.env = env
        self.argv = [
            sys.executable,
            "-m",
            "server.cluster",
            "--port",
            "0",
            "--agent-port",
            "0",
            "--work-dir",
            str(work_dir),
            "--cpus",
            str(cpus),
            "--mem",
            str(mem),
            "--heartbeat-interval",
            "2",
            "--executor-shutdown-grace-period",
            "2",
        ]
        for flag, value in flags.items():
            self.argv += [f"--{flag.replace('_', '-')}", str(value)]
        self.process: ChildProcess | None = None
        self.endpoints: dict[str, Any] = {}

    @property
    def master_url(self) -> str:
        return str(self.endpoints["master_url"])

    def start(self, timeout: float = 30.0) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        endpoints = self.work_dir / "cluster.json"
        endpoints.unlink(missing_ok=True)
        self.process = ChildProcess(
            "cluster", self.argv, env=self.env, log_path=self.work_dir / "cluster.log"
        )
        deadline = time.monotonic() + timeout
        while not endpoints.exists():
            if not self.process.alive or time.monotonic() > deadline:
                raise StartupError(f"embedded cluster did not start: {self.process.describe_failure()}")
            time.sleep(0.05)
        self.endpoints = json.loads(endpoints.read_text())

    @property
    def agent_url(self) -> str:
        return str(self.endpoints["agent_url"])

    def state(self) -> dict[str, Any]:
        """The master's ``/master/state`` (Mesos' shape)."""
        response = httpx.get(f"{self.master_url}/master/state", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def operator_call(self, url: str, call_type: str) -> dict[str, Any]:
        """The payload of a v1 operator API call (``GET_TASKS``, ...) to the master or agent."""
        response = httpx.post(f"{url}/api/v1", json={"type": call_type}, timeout=10)
        response.raise_for_status()
        return dict(response.json()[call_type.lower()])

    def executors(self) -> list[dict[str, Any]]:
        """The agent's live executors: ``id``, ``directory`` and the process' ``pid`` (from the
        agent's ``/state`` and ``GET_CONTAINERS``)."""
        containers = self.operator_call(self.agent_url, "GET_CONTAINERS")["containers"]
        pids = {c["executor_id"]["value"]: c["container_status"].get("executor_pid") for c in containers}
        response = httpx.get(f"{self.agent_url}/state", timeout=10)
        response.raise_for_status()
        return [
            {"id": executor["id"], "directory": executor["directory"], "pid": pids.get(executor["id"])}
            for framework in response.json()["frameworks"]
            for executor in framework["executors"]
        ]

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace=15)
            self.process = None


@dataclass
class System:
    """Everything running: REST through Envoy, the server with its scheduler, the cluster."""

    server: Server
    envoy: EnvoyProxy
    cluster: ClusterProcess
    results: Path
    app_archive: Path
    token: str

    @property
    def zookeeper(self) -> ZooKeeper:
        return self.server.zookeeper

    @property
    def api(self) -> ApiServer:
        return self.server.api

    @property
    def scheduler(self) -> SchedulerService:
        assert self.server.scheduler is not None
        return self.server.scheduler

    def restart_scheduler(self) -> None:
        """Stop the leading scheduler and start another with the same settings on the same ZooKeeper,
        as a restarted server process would (the API's job events still go to the stopped one)."""
        stopped = self.scheduler
        stopped.stop()
        self.server.scheduler = build_scheduler(self.zookeeper, stopped.settings)
        self.server.scheduler.start()

    def rest(self) -> httpx.Client:
        return httpx.Client(base_url=self.envoy.base_url, headers={"accessToken": self.token}, timeout=15)

    def publish_app(self, app_url: str | None = None, **fields: Any) -> str:
        name = unique_name("app")
        body = {
            "appName": name,
            "appURL": app_url or self.app_archive.as_uri(),
            "bootstrapScript": "bin/run.sh",
            "cpuCount": 0.1,
            "memoryMB": 32.0,
            **fields,
        }
        with self.rest() as client:
            response = client.post("/api/app", json=body)
        assert response.status_code == 200, response.text
        return name

    def register_job(self, app_name: str, **fields: Any) -> str:
        name = unique_name("job")
        body = {
            "appName": app_name,
            "jobName": name,
            "cpuCount": 0.1,
            "memoryMB": 16.0,
            "jobExecutionType": "TRANSIENT",
            "shardingTotalCount": 1,
            **fields,
        }
        with self.rest() as client:
            response = client.post("/api/job/register", json=body)
        assert response.status_code == 200, response.text
        return name

    def trigger(self, job_name: str) -> None:
        with self.rest() as client:
            response = client.post(
                "/api/job/trigger", content=job_name, headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 200, response.text

    def deregister(self, job_name: str) -> None:
        with self.rest() as client:
            response = client.request(
                "DELETE",
                "/api/job/deregister",
                content=job_name,
                headers={"Content-Type": "application/json"},
            )
        assert response.status_code == 200, response.text

    def runs(self, job_name: str, phase: str = "start") -> list[Run]:
        return runs(self.results, job_name, phase)

    def tasks_history(self) -> list[dict[str, Any]]:
        """Live and completed tasks of the cluster, each with the message of its latest status."""
        found: list[dict[str, Any]] = []
        tasks = self.cluster.operator_call(self.cluster.master_url, "GET_TASKS")
        for task in [*tasks["tasks"], *tasks["completed_tasks"]]:
            statuses = task.get("statuses") or [{}]
            found.append(
                {
                    "id": task["task_id"]["value"],
                    "executor_id": (task.get("executor_id") or {}).get("value", ""),
                    "state": task["state"],
                    "message": statuses[-1].get("message", ""),
                }
            )
        return found

    def running_nodes(self, job_name: str) -> list[str]:
        return self._children(self.zookeeper.paths.running_job(job_name))

    def failover_nodes(self, job_name: str) -> list[str]:
        return self._children(self.zookeeper.paths.failover_job(job_name))

    def _children(self, path: str) -> list[str]:
        try:
            return sorted(self.zookeeper.client.get_children(path))
        except NoNodeError:
            return []

    def sandboxes(self) -> list[Path]:
        runs = self.cluster.work_dir.glob("slaves/*/frameworks/*/executors/*/runs/*")
        return sorted(p for p in runs if p.is_dir() and not p.is_symlink())


def scheduler_settings(settings: Settings) -> SchedulerSettings:
    """The scheduler's settings derived from ``settings``, with the offer hold, resync and
    reconciliation intervals shortened so that tests see their effects in seconds."""
    derived = settings.scheduler_settings()
    return replace(
        derived,
        reconcile_interval_seconds=10.0,
        core=replace(derived.core, offer_hold_seconds=5.0, resync_seconds=5.0),
    )


@contextlib.contextmanager
def running_system(
    zk_servers: str,
    work_dir: Path,
    *,
    settings: Mapping[str, object] | None = None,
    cluster_env: Mapping[str, str] | None = None,
    **cluster_flags: object,
) -> Iterator[System]:
    """Run the whole system in a fresh namespace; ``settings`` override the server's ``Settings``
    fields, ``cluster_env`` is the embedded cluster's environment, which its executors inherit
    (default: this process's), ``cluster_flags`` become flags of ``python -m server.cluster``."""
    results = work_dir / "results"
    archive = build_app(work_dir / "apps", results)
    cluster = ClusterProcess(work_dir / "cluster", env=cluster_env, **cluster_flags)
    cluster.start()
    server_settings = make_settings(
        unique_name("e2e"),
        zk_servers,
        zk_timeout_seconds=5.0,
        mesos_url=cluster.master_url,
        **dict(settings or {}),
    )
    server = build(server_settings, scheduler_settings=scheduler_settings(server_settings))
    envoy = EnvoyProxy(work_dir / "envoy", grpc_port=server.port)
    try:
        server.start(zookeeper_wait=10)
        envoy.start()
        with httpx.Client(base_url=envoy.base_url, timeout=10) as client:
            login = {"username": server_settings.auth_username, "password": server_settings.auth_password}
            token = client.post("/api/login", json=login).json()["accessToken"]
        system = System(server, envoy, cluster, results, archive, token)
        eventually(
            lambda: system.scheduler.core is not None and system.scheduler.core.framework_id is not None,
            what="subscribed",
        )
        yield system
    finally:
        envoy.stop()
        server.stop(grace=0.5)
        cluster.stop()


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``directory`` on a free loopback port; yields the base URL and the paths requested."""
    requested: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


def kill_process_group_of(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)
