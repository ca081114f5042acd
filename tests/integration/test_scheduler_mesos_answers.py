"""The scheduler and the answers a real Mesos master and agent give about tasks that are gone,
with their real fields (Mesos "Reconciliation" and "High Availability / partition-aware" docs;
``Master::_reconcileTasks`` in ``src/master/master.cpp``; the agent's launch failures in
``src/slave/slave.cpp``): each ends the shard's task the way its meaning asks."""

from __future__ import annotations

import pytest

from devstack.stack import ZooKeeperServer
from testkit.scheduling import scheduler_rig
from tests.integration.test_scheduler_failover import launch_run


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("TASK_GONE", "Reconciliation: Task is unknown to the agent"),
        ("TASK_GONE_BY_OPERATOR", "Reconciliation: Task is gone"),
    ],
)
async def test_a_reconciliation_answer_that_the_task_is_gone_fails_the_shard_over(
    zk_server: ZooKeeperServer, state: str, message: str
) -> None:
    """A partition-aware framework asking about a task its (registered) agent no longer has
    gets TASK_GONE; one whose agent an operator marked gone gets TASK_GONE_BY_OPERATOR. Both are
    terminal: the shard runs again (failover on), the other shards keep running."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=True)
        await rig.update(t0, "TASK_RUNNING")
        await rig.unreliable_update(
            t0, state, reason="REASON_RECONCILIATION", source="SOURCE_MASTER", message=message
        )
        assert rig.failover_nodes(job) == [f"{job}@-@0"]
        assert rig.running_nodes(job) == [f"{job}@-@1", f"{job}@-@2"]


async def test_a_task_gone_without_failover_is_not_run_again(zk_server: ZooKeeperServer) -> None:
    """TASK_GONE is terminal (Mesos "Task state reasons" / ``mesos.proto``): a shard that ran and is
    gone is over when its job does not fail over."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=False)
        await rig.update(t0, "TASK_RUNNING")
        await rig.unreliable_update(
            t0,
            "TASK_GONE",
            reason="REASON_RECONCILIATION",
            source="SOURCE_MASTER",
            message="Reconciliation: Task is unknown to the agent",
        )
        assert rig.failover_nodes(job) == []
        assert rig.running_nodes(job) == [f"{job}@-@1", f"{job}@-@2"]


async def test_a_task_the_agent_could_not_start_for_its_user_is_queued_again(
    zk_server: ZooKeeperServer,
) -> None:
    """An agent that cannot make the sandbox for ``FrameworkInfo.user`` (no such user) sends a
    reliable TASK_DROPPED / REASON_EXECUTOR_TERMINATED from SOURCE_AGENT: the task never ran, so
    its shard is queued again (with the failover backoff) even with failover off."""
    async with scheduler_rig(zk_server.connect_string) as rig:
        job, (t0, *_) = await launch_run(rig, failover=False)
        await rig.update(
            t0,
            "TASK_DROPPED",
            reason="REASON_EXECUTOR_TERMINATED",
            source="SOURCE_AGENT",
            message="Failed to create executor directory '/x': Failed to chown directory to 'u': No such user 'u'",
        )
        assert rig.failover_nodes(job) == [f"{job}@-@0"]
