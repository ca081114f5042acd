"""Launches and fires too large for one ZooKeeper transaction (ZooKeeper drops the connection of a
request over 1 MiB) are split into transactions within ``transaction_budget``; each commits on its
own, and a transaction that fails costs the others nothing: every shard launches exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from devstack.stack import ZooKeeperServer
from server.domain.app import AppConfig
from server.domain.errors import RegistryUnavailable
from server.domain.job import JobConfig, JobExecutionType
from server.registry import codec
from server.registry.apps import AppRepository
from server.registry.transaction_ops import TransactionOps
from server.registry.zookeeper import ZooKeeper
from server.scheduler import launch as launch_module
from server.usecases.apps import AppManager
from testkit.harness import unique_name
from testkit.scheduling import SchedulerRig, launched_tasks, scheduler_rig, shards

SHARD_CPU, SHARD_MEM = 0.1, 32.0
EXECUTOR_CPU, EXECUTOR_MEM = 0.5, 64.0


class TransactionLog:
    """Wraps ``acommit``: records each transaction's operation count and size; can fail one."""

    def __init__(self, zookeeper: ZooKeeper) -> None:
        self.zookeeper = zookeeper
        self.commit = zookeeper.acommit
        self.transactions: list[tuple[int, int]] = []  # (operations, bytes)
        self.fail_at: int | None = None  # the index of the transaction to fail with ZooKeeper away
        zookeeper.acommit = self.acommit  # type: ignore[method-assign]

    async def acommit(self, build: Callable[[TransactionOps], None]) -> list[Any]:
        measured = self.zookeeper.transaction_ops()
        build(measured)
        index = len(self.transactions)
        self.transactions.append((len(measured), measured.size))
        if index == self.fail_at:
            raise RegistryUnavailable("ZooKeeper is away for a moment")
        return await self.commit(build)


def offer_for(tasks: int, agent_id: str, master: Any) -> dict[str, Any]:
    return master.make_offer(  # type: ignore[no-any-return]
        agent_id=agent_id,
        cpus=tasks * SHARD_CPU + EXECUTOR_CPU + SHARD_CPU / 2,
        mem=tasks * SHARD_MEM + EXECUTOR_MEM + SHARD_MEM / 2,
    )


async def send_offers(rig: SchedulerRig, offers: Sequence[dict[str, Any]]) -> None:
    held = len(rig.core.offers)
    await rig.master.send_offers(offers)
    await rig.wait_until(lambda: len(rig.core.offers) == held + len(offers), what="offers held")


def launched_shards(rig: SchedulerRig) -> Counter[str]:
    """``job@-@item`` of every task of every ACCEPT answered 202, counted."""
    return Counter(
        "@-@".join(task["task_id"]["value"].split("@-@")[:2])
        for call in rig.accepts()
        for task in launched_tasks(call)
    )


async def children_of_each(zookeeper: ZooKeeper, parent: str, names: Sequence[str]) -> dict[str, list[str]]:
    children = await zookeeper.achildren_many([f"{parent}/{name}" for name in names])
    return {name: sorted(found or []) for name, found in zip(names, children, strict=True)}


def create_jobs(zk_servers: str, namespace: str, count: int) -> list[str]:
    """Publish an app and ``count`` single-shard jobs firing every 5 s, written directly in batches."""
    zookeeper = ZooKeeper(zk_servers, namespace=namespace, timeout=10.0)
    assert zookeeper.start(wait=10)
    try:
        app = AppManager(AppRepository(zookeeper)).publish(
            AppConfig(
                app_name=unique_name("app"),
                app_url="http://repo.test/app.tar.gz",
                bootstrap_script="bin/start.sh",
                cpu_count=EXECUTOR_CPU,
                memory_mb=EXECUTOR_MEM,
            )
        )
        names = [f"burst_job_{index:05d}" for index in range(count)]
        for start in range(0, count, 500):

            def build(transaction: TransactionOps, batch: Sequence[str] = names[start : start + 500]) -> None:
                for name in batch:
                    job = JobConfig(
                        job_name=name,
                        app_name=app.app_name,
                        cpu_count=SHARD_CPU,
                        memory_mb=SHARD_MEM,
                        job_execution_type=JobExecutionType.TRANSIENT,
                        sharding_total_count=1,
                        cron="0/5 * * * * ?",
                    )
                    transaction.create(zookeeper.paths.job(name), codec.encode(job.to_document()))

            assert not any(isinstance(result, Exception) for result in zookeeper.commit(build))
        return names
    finally:
        zookeeper.stop()


async def test_3000_jobs_firing_together_launch_each_shard_once_over_several_transactions(
    zk_server: ZooKeeperServer,
) -> None:
    namespace = unique_name("burst")
    names = await asyncio.to_thread(create_jobs, zk_server.connect_string, namespace, 3000)
    async with scheduler_rig(zk_server.connect_string, namespace=namespace) as rig:
        assert len(rig.core.jobs) == 3000
        transactions = TransactionLog(rig.zookeeper)
        # Twelve agents of 250 tasks each (the double refuses an ACCEPT body over 1 MiB).
        await send_offers(rig, [offer_for(250, f"agent-{index}", rig.master) for index in range(12)])

        await rig.fire(4)  # 00:00:05: all 3000 fire

        assert len(rig.accepts()) == 12
        launched = launched_shards(rig)
        assert set(launched) == {f"{name}@-@0" for name in names}
        assert set(launched.values()) == {1}
        # Several transactions, each within the budget (3000 launches need about 1 MB).
        assert len(transactions.transactions) >= 2
        assert all(size <= rig.zookeeper.transaction_budget for _, size in transactions.transactions)
        # ZooKeeper holds exactly what was launched, and memory mirrors it.
        running = await children_of_each(rig.zookeeper, rig.zookeeper.paths.running, names)
        assert running == {name: [f"{name}@-@0"] for name in names}
        assert await rig.zookeeper.achildren(rig.zookeeper.paths.ready) == []
        assert sorted(str(shard) for shard in rig.core.running) == sorted(launched)
        assert rig.core.ready == {}


async def test_a_transaction_that_loses_a_race_costs_the_other_transactions_nothing(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        jobs = [await rig.register_job(app) for _ in range(6)]  # 3 shards each, every 5 s
        rig.zookeeper.transaction_budget = 1500  # about one run per transaction
        transactions = TransactionLog(rig.zookeeper)
        await rig.offer(cpus=8, mem=8192)
        gone = jobs[2].job_name
        # Removed behind the core's back: its run's transaction fails on the job node's check.
        await asyncio.to_thread(rig.zookeeper.client.delete, rig.zookeeper.paths.job(gone))

        await rig.fire(4)

        # The runs of the other transactions launched; a run that shared the failed transaction
        # was queued again (the agent's offer went to the others' ACCEPT) and launches next.
        kept = [job.job_name for job in jobs if job.job_name != gone]
        assert len(rig.accepts()) == 1
        assert len(transactions.transactions) >= 4
        assert gone not in rig.core.jobs
        queued = [name for name in kept if rig.ready_count(name) == 1]
        assert len(queued) < len(kept)
        assert set(launched_shards(rig)) == {
            f"{name}@-@{i}" for name in kept if name not in queued for i in range(3)
        }
        await rig.offer(cpus=8, mem=8192)
        if queued:
            await rig.wait_until(lambda: len(rig.accepts()) == 2, what="the queued runs' ACCEPT")

        assert launched_shards(rig) == Counter({f"{name}@-@{item}": 1 for name in kept for item in range(3)})
        for name in kept:
            assert len(rig.running_nodes(name)) == 3
            assert rig.ready_count(name) == 0
        assert rig.running_nodes(gone) == [] and rig.ready_count(gone) == 0
        assert {shard.job_name for shard in rig.core.running} == set(kept)


async def test_zookeeper_going_away_between_transactions_loses_and_repeats_no_launch(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        jobs = [await rig.register_job(app) for _ in range(6)]
        rig.zookeeper.transaction_budget = 1500
        transactions = TransactionLog(rig.zookeeper)
        transactions.fail_at = 2  # two transactions of runs are recorded, then ZooKeeper is away
        await rig.offer(cpus=8, mem=8192)

        with pytest.raises(RegistryUnavailable):
            await rig.fire(4)
        # What was recorded is launched (its ACCEPT goes out although the step failed).
        first = launched_shards(rig)
        assert len(rig.accepts()) == 1
        assert 0 < len(first) < 18 and set(first.values()) == {1}
        assert len(rig.core.running) == len(first)

        transactions.fail_at = None
        await rig.core.tick()  # the other fires are recorded now: no offer left, so queued
        await rig.offer(cpus=8, mem=8192)
        await rig.wait_until(lambda: len(rig.accepts()) == 2, what="the second ACCEPT")

        launched = launched_shards(rig)
        assert launched == Counter({f"{job.job_name}@-@{item}": 1 for job in jobs for item in range(3)})
        for job in jobs:
            assert len(rig.running_nodes(job.job_name)) == 3
            assert rig.ready_count(job.job_name) == 0


async def test_fires_over_several_transactions_are_each_recorded_once_even_when_one_fails(
    zk_server: ZooKeeperServer,
) -> None:
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        jobs = [await rig.register_job(app, misfire=True) for _ in range(10)]  # no offers: queued
        rig.zookeeper.transaction_budget = 300  # a few ready counts per transaction
        transactions = TransactionLog(rig.zookeeper)
        transactions.fail_at = 1

        with pytest.raises(RegistryUnavailable):
            await rig.fire(4)
        recorded_first = [job for job in jobs if rig.ready_count(job.job_name) == 1]
        assert 0 < len(recorded_first) < len(jobs)

        transactions.fail_at = None
        await rig.core.tick()  # the fires not recorded yet are recorded now, the others not again
        assert [rig.ready_count(job.job_name) for job in jobs] == [1] * len(jobs)
        assert len(transactions.transactions) >= 4
        await rig.core.tick()
        assert [rig.ready_count(job.job_name) for job in jobs] == [1] * len(jobs)


async def test_a_ready_run_too_large_for_any_transaction_is_not_launched_and_stays_queued(
    zk_server: ZooKeeperServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(launch_module, "TRANSACTION_LIMIT", 3000)  # a run of 20 shards needs more
    async with scheduler_rig(zk_server.connect_string) as rig:
        app = await rig.publish_app()
        big = await rig.register_job(app, sharding_total_count=20)
        small = await rig.register_job(app, sharding_total_count=1)
        await rig.offer(cpus=8, mem=8192)

        await rig.fire(4)

        tasks = await rig.wait_for_accept(1)
        assert shards(tasks) == [f"{small.job_name}@-@0@-@READY"]
        assert rig.running_nodes(big.job_name) == []
        assert rig.ready_count(big.job_name) == 1
        assert "cannot be recorded atomically" in caplog.text
        await rig.offer(cpus=8, mem=8192)
        await rig.core.tick()
        assert len(rig.accepts()) == 1  # not tried again: it waits without asking for offers
        assert rig.ready_count(big.job_name) == 1
