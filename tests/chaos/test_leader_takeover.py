"""``kill -9`` of the leading server process while a ``0/2 * * * * ?`` job with misfire on runs:
the standby takes over within the ZooKeeper session timeout (4 s by default) plus its election and
subscription, and runs the fires of the gap from the dead leader's fire checkpoint, so a 20 s
window still has a run for (nearly) every one of its ten fire times.

ZooKeeper deletes a dead client's ephemeral nodes (its election node) only when its session
expires (ZooKeeper Programmer's Guide, "Ephemeral Nodes"); a re-subscription with the same
framework id fails the framework over to the new scheduler (Mesos Scheduler HTTP API, SUBSCRIBE).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from kazoo.client import KazooClient

from devstack.stack import ChildProcess, ZooKeeperServer, free_port
from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.registry.apps import AppRepository
from server.registry.disabled import DisabledFlags
from server.registry.jobs import JobRepository
from server.registry.ready import ReadyQueue
from server.usecases.apps import AppManager
from server.usecases.jobs import JobManager
from server.wiring import build
from testkit.e2e import ClusterProcess, build_app, runs
from testkit.harness import TOKEN_SECRET, make_settings, unique_name
from testkit.polling import eventually

WINDOW = 20.0


def test_a_standby_takes_over_a_killed_leader_quickly_and_runs_the_fires_of_the_gap(
    zk_server: ZooKeeperServer, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    archive = build_app(tmp_path / "apps", results)
    cluster = ClusterProcess(tmp_path / "cluster")
    cluster.start()
    namespace = unique_name("takeover")
    env = {
        **os.environ,
        "ELASTICJOB_MODE": "development",
        "ELASTICJOB_TOKEN_SECRET": TOKEN_SECRET,
        "ELASTICJOB_ZK_SERVERS": zk_server.connect_string,
        "ELASTICJOB_ZK_NAMESPACE": namespace,
        "ELASTICJOB_MESOS_URL": cluster.master_url,
        "ELASTICJOB_GRPC_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    leader = ChildProcess(
        "leader", [sys.executable, "-m", "server"], env=env, log_path=tmp_path / "leader.log"
    )
    standby = build(make_settings(namespace, zk_server.connect_string, mesos_url=cluster.master_url))
    zk = KazooClient(hosts=zk_server.connect_string)
    zk.start(timeout=10)
    try:
        eventually(
            lambda: zk.exists(f"/{namespace}/ha/framework_id"), timeout=20, what="the leader subscribed"
        )
        standby.start(zookeeper_wait=10)
        assert standby.scheduler is not None
        app = AppManager(AppRepository(standby.zookeeper)).publish(
            AppConfig(
                app_name=unique_name("app"),
                app_url=archive.as_uri(),
                bootstrap_script="bin/run.sh",
                cpu_count=0.1,
                memory_mb=32.0,
            )
        )
        jobs = JobManager(
            JobRepository(standby.zookeeper), ReadyQueue(standby.zookeeper), DisabledFlags(standby.zookeeper)
        )
        job = jobs.register(
            JobConfig(
                job_name=unique_name("job"),
                app_name=app.app_name,
                cpu_count=0.1,
                memory_mb=16.0,
                job_execution_type=JobExecutionType.TRANSIENT,
                sharding_total_count=1,
                cron="0/2 * * * * ?",
                misfire=True,
            )
        )
        eventually(
            lambda: len(runs(results, job.job_name)) >= 2, timeout=20, what="the leader running the job"
        )
        assert not standby.scheduler.leading.is_set()

        os.killpg(leader.process.pid, signal.SIGKILL)
        killed = time.time()
        scheduler = standby.scheduler
        eventually(
            lambda: scheduler.core is not None and scheduler.core.framework_id is not None,
            timeout=15,
            what="the standby leading and subscribed",
        )
        takeover = time.time() - killed
        time.sleep(max(0.0, killed + WINDOW - time.time()))
        eventually(
            lambda: not ReadyQueue(standby.zookeeper).count(job.job_name), timeout=10, what="the backlog run"
        )
        in_window = [run for run in runs(results, job.job_name) if killed <= run.at <= time.time()]
        fire_times = int(WINDOW // 2)
        print(f"takeover {takeover:.1f} s; runs after the kill: {len(in_window)} for {fire_times} fire times")
        assert takeover < standby.settings.zk_session_timeout_seconds + 3.0
        assert len(in_window) >= fire_times - 1
    finally:
        zk.stop()
        zk.close()
        leader.stop(grace=2)
        standby.stop(grace=0.5)
        cluster.stop()
