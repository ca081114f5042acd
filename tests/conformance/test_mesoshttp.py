"""``mesoshttp`` (PyPI, a threads-based Mesos v1 scheduler client we did not write) runs the whole
framework lifecycle on the embedded cluster: subscribe, launch, status updates and their
acknowledgements, kill, decline and revive (it has no suppress), explicit and implicit
reconciliation, failover and teardown (Mesos docs: "Scheduler HTTP API", "Reconciliation")."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mesoshttp.client import MesosClient

pytest.register_assert_rewrite("tests.conformance.lifecycle")

from server.cluster.cluster import EmbeddedCluster  # noqa: E402
from testkit.cluster import running_cluster  # noqa: E402
from tests.conformance import lifecycle  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmbeddedCluster]:
    async with running_cluster(tmp_path / "cluster") as running:
        yield running


async def test_subscribe_launch_acknowledge_and_teardown(cluster: EmbeddedCluster) -> None:
    await lifecycle.subscribe_launch_acknowledge_and_teardown(MesosClient, cluster)


async def test_kill_of_a_running_and_of_an_unknown_task(cluster: EmbeddedCluster) -> None:
    await lifecycle.kill(MesosClient, cluster)


async def test_decline_and_revive(cluster: EmbeddedCluster) -> None:
    await lifecycle.decline_suppress_and_revive(MesosClient, cluster)


async def test_explicit_and_implicit_reconciliation(cluster: EmbeddedCluster) -> None:
    await lifecycle.reconcile(MesosClient, cluster)


async def test_failover_resubscribes_with_the_framework_id(cluster: EmbeddedCluster) -> None:
    await lifecycle.failover(MesosClient, cluster)


@pytest.mark.skipif(os.geteuid() != 0, reason="user switching needs the agent to run as root")
async def test_tasks_run_as_the_framework_user(cluster: EmbeddedCluster) -> None:
    await lifecycle.runs_tasks_as_the_framework_user(MesosClient, cluster)
