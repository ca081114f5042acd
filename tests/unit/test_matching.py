"""Specification of offer matching (``server.scheduler.matching``): pure, so tested with plain values.

Resources in these tests: every app's executor needs 0.5 cpu / 64 MB, every shard 0.1 cpu / 32 MB.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.domain.task import ExecutionType, ShardRef
from server.scheduler.matching import MatchResult, match
from server.scheduler.offers import Offer

APP = AppConfig(
    app_name="app",
    app_url="http://repo.test/app.tar.gz",
    bootstrap_script="bin/start.sh",
    cpu_count=0.5,
    memory_mb=64,
)
OTHER_APP = AppConfig(
    app_name="other",
    app_url="http://repo.test/other.sh",
    bootstrap_script="other.sh",
    cpu_count=0.5,
    memory_mb=64,
)
APPS = {APP.app_name: APP, OTHER_APP.app_name: OTHER_APP}
SHARD_CPU, SHARD_MEM = 0.1, 32.0
EXECUTOR_CPU, EXECUTOR_MEM = 0.5, 64.0


def job(name: str, shards: int = 3, app: AppConfig = APP) -> JobConfig:
    return JobConfig(
        job_name=name,
        app_name=app.app_name,
        cpu_count=SHARD_CPU,
        memory_mb=SHARD_MEM,
        job_execution_type=JobExecutionType.TRANSIENT,
        sharding_total_count=shards,
        cron="0/5 * * * * ?",
    )


def offer(
    offer_id: str,
    *,
    agent: str = "agent-1",
    cpus: float = 4.0,
    mem: float = 4096.0,
    executors: Sequence[str] = (),
) -> Offer:
    return Offer(
        offer_id=offer_id,
        agent_id=agent,
        hostname=f"{agent}.test",
        cpus=cpus,
        mem=mem,
        executor_ids=frozenset(executors),
    )


def run(
    offers: Sequence[Offer],
    jobs: Sequence[JobConfig],
    *,
    failover: Sequence[ShardRef] = (),
    ready: Sequence[str] = (),
    busy: set[str] | None = None,
) -> MatchResult:
    counter = itertools.count()
    return match(
        list(offers),
        list(failover),
        list(ready),
        {j.job_name: j for j in jobs},
        APPS,
        set(busy or ()),
        lambda: f"u{next(counter)}",
    )


def shards_of(result: MatchResult) -> list[tuple[str, int, ExecutionType, str]]:
    return [
        (p.task_id.job_name, p.task_id.item, p.task_id.execution_type, p.offer_id) for p in result.placements
    ]


def test_a_ready_run_places_every_shard_with_ready_task_ids_on_the_offers_agent() -> None:
    result = run([offer("o1")], [job("a")], ready=["a"])

    assert shards_of(result) == [("a", item, ExecutionType.READY, "o1") for item in range(3)]
    assert [str(p.task_id) for p in result.placements] == [
        f"a@-@{item}@-@READY@-@agent-1@-@u{item}" for item in range(3)
    ]
    assert result.launched_ready == ["a"]
    assert result.launched_failover == []
    assert result.unplaced == 0
    assert list(result.by_accept()) == [("o1",)]


def test_failover_shards_are_placed_before_any_ready_run() -> None:
    # Room for the executor plus one shard only: the failover shard of "b" wins over READY "a".
    tight = offer("o1", cpus=EXECUTOR_CPU + SHARD_CPU, mem=EXECUTOR_MEM + SHARD_MEM)
    result = run([tight], [job("a", shards=1), job("b")], failover=[ShardRef("b", 2)], ready=["a"])

    assert shards_of(result) == [("b", 2, ExecutionType.FAILOVER, "o1")]
    assert result.launched_failover == [ShardRef("b", 2)]
    assert result.launched_ready == []
    assert result.unplaced == 1


def test_failover_shards_launch_one_by_one_as_far_as_they_fit() -> None:
    room_for_two = offer("o1", cpus=EXECUTOR_CPU + 2 * SHARD_CPU, mem=4096)
    failover = [ShardRef("b", 0), ShardRef("b", 1), ShardRef("b", 2)]
    result = run([room_for_two], [job("b")], failover=failover)

    assert shards_of(result) == [
        ("b", 0, ExecutionType.FAILOVER, "o1"),
        ("b", 1, ExecutionType.FAILOVER, "o1"),
    ]
    assert result.launched_failover == failover[:2]
    assert result.unplaced == 1


def test_a_ready_run_that_does_not_fit_whole_places_nothing_and_uses_nothing() -> None:
    room_for_two = offer("o1", cpus=EXECUTOR_CPU + 2 * SHARD_CPU, mem=4096)
    result = run([room_for_two], [job("a"), job("small", shards=2)], ready=["a", "small"])

    # "a" needs three shards: none of them launches, and "small" gets the whole offer.
    assert shards_of(result) == [
        ("small", 0, ExecutionType.READY, "o1"),
        ("small", 1, ExecutionType.READY, "o1"),
    ]
    assert result.launched_ready == ["small"]
    assert result.unplaced == 1


def test_a_ready_run_may_spread_over_several_offers_but_is_still_all_or_nothing() -> None:
    two_shards_each = [
        offer("o1", agent="agent-1", cpus=EXECUTOR_CPU + 2 * SHARD_CPU),
        offer("o2", agent="agent-2", cpus=EXECUTOR_CPU + 2 * SHARD_CPU),
    ]
    result = run(two_shards_each, [job("a", shards=4)], ready=["a"])
    assert sorted(p.offer_id for p in result.placements) == ["o1", "o1", "o2", "o2"]
    assert [p.starts_executor for p in result.placements] == [True, False, True, False]

    too_big = run(two_shards_each, [job("a", shards=5)], ready=["a"])
    assert too_big.placements == []
    assert too_big.launched_ready == []
    assert too_big.unplaced == 1


def test_the_executor_is_charged_once_per_app_per_agent() -> None:
    exactly = offer("o1", cpus=EXECUTOR_CPU + 3 * SHARD_CPU, mem=EXECUTOR_MEM + 3 * SHARD_MEM)
    result = run([exactly], [job("a")], ready=["a"])
    assert [p.starts_executor for p in result.placements] == [True, False, False]

    short = offer("o1", cpus=EXECUTOR_CPU + 3 * SHARD_CPU - 0.01, mem=EXECUTOR_MEM + 3 * SHARD_MEM)
    assert run([short], [job("a")], ready=["a"]).placements == []

    short_of_memory = offer("o1", cpus=4, mem=EXECUTOR_MEM + 3 * SHARD_MEM - 1)
    assert run([short_of_memory], [job("a")], ready=["a"]).placements == []


def test_two_jobs_of_one_app_share_the_executor_charged_by_the_first() -> None:
    exactly = offer("o1", cpus=EXECUTOR_CPU + 4 * SHARD_CPU, mem=4096)
    result = run([exactly], [job("a", shards=2), job("b", shards=2)], ready=["a", "b"])
    assert [p.starts_executor for p in result.placements] == [True, False, False, False]
    assert result.launched_ready == ["a", "b"]


def test_each_app_on_an_agent_is_charged_for_its_own_executor() -> None:
    exactly = offer("o1", cpus=2 * EXECUTOR_CPU + 2 * SHARD_CPU, mem=4096)
    jobs = [job("a", shards=1), job("c", shards=1, app=OTHER_APP)]
    result = run([exactly], jobs, ready=["a", "c"])
    assert [p.starts_executor for p in result.placements] == [True, True]

    one_executor_short = offer("o1", cpus=2 * EXECUTOR_CPU + 2 * SHARD_CPU - 0.01, mem=4096)
    result = run([one_executor_short], jobs, ready=["a", "c"])
    assert result.launched_ready == ["a"]


def test_the_executor_is_not_charged_when_the_offer_says_it_already_runs_there() -> None:
    shards_only = offer("o1", cpus=3 * SHARD_CPU, mem=3 * SHARD_MEM, executors=[f"{APP.app_name}@-@agent-1"])
    result = run([shards_only], [job("a")], ready=["a"])
    assert result.launched_ready == ["a"]
    assert [p.starts_executor for p in result.placements] == [False, False, False]


def test_an_executor_running_on_another_agent_does_not_count() -> None:
    shards_only = offer(
        "o1", agent="agent-1", cpus=3 * SHARD_CPU, mem=3 * SHARD_MEM, executors=[f"{APP.app_name}@-@agent-2"]
    )
    assert run([shards_only], [job("a")], ready=["a"]).placements == []


def test_two_offers_of_one_agent_charge_the_executor_once() -> None:
    # Offers of one agent held together (say one from before a task ended and one after): the
    # executor a placement starts on the first serves the tasks placed on the second too.
    first = offer("o1", agent="agent-1", cpus=EXECUTOR_CPU + SHARD_CPU, mem=4096)
    second = offer("o2", agent="agent-1", cpus=2 * SHARD_CPU, mem=4096)
    result = run([first, second], [job("a")], ready=["a"])

    assert result.launched_ready == ["a"]
    assert sum(p.starts_executor for p in result.placements) == 1
    assert list(result.by_accept()) == [("o1", "o2")]  # one ACCEPT names both offers


def test_offers_of_different_agents_go_in_different_accepts() -> None:
    offers = [offer("o1", agent="agent-1", cpus=EXECUTOR_CPU + SHARD_CPU), offer("o2", agent="agent-2")]
    result = run(offers, [job("a", shards=2)], ready=["a"])
    assert list(result.by_accept()) == [("o1",), ("o2",)]


def test_a_busy_job_gets_no_ready_run() -> None:
    result = run([offer("o1")], [job("a"), job("b")], ready=["a", "b"], busy={"a"})
    assert result.launched_ready == ["b"]
    assert {p.task_id.job_name for p in result.placements} == {"b"}


def test_a_job_with_a_shard_waiting_for_failover_gets_no_ready_run() -> None:
    result = run([offer("o1")], [job("a")], failover=[ShardRef("a", 1)], ready=["a"])
    assert shards_of(result) == [("a", 1, ExecutionType.FAILOVER, "o1")]
    assert result.launched_ready == []

    # ... even when the failover shard itself does not fit.
    tiny = offer("o1", cpus=EXECUTOR_CPU + SHARD_CPU / 2)
    result = run([tiny], [job("a")], failover=[ShardRef("a", 1)], ready=["a"])
    assert result.placements == []
    assert result.unplaced == 1


def test_a_job_gets_one_ready_run_per_round() -> None:
    result = run([offer("o1")], [job("a")], ready=["a", "a"])
    assert result.launched_ready == ["a"]
    assert len(result.placements) == 3


def test_work_of_jobs_or_apps_that_are_gone_is_skipped() -> None:
    orphan = job(
        "orphan", app=AppConfig(app_name="gone", app_url="http://x.test/a.sh", bootstrap_script="a.sh")
    )
    result = run([offer("o1")], [orphan], failover=[ShardRef("unknown", 0)], ready=["orphan", "unknown"])
    assert result.placements == []


def test_no_offers_place_nothing_and_count_what_waits() -> None:
    result = run([], [job("a"), job("b")], failover=[ShardRef("b", 0)], ready=["a"])
    assert result.placements == []
    assert result.unplaced == 2


# -- offers as matching sees them (``Offer.from_json``) ---------------------------------------


def offer_json(*resources: dict[str, object], executors: Sequence[str] = ()) -> dict[str, object]:
    return {
        "id": {"value": "o1"},
        "framework_id": {"value": "f"},
        "agent_id": {"value": "agent-1"},
        "hostname": "agent-1.test",
        "resources": list(resources),
        "executor_ids": [{"value": e} for e in executors],
        "allocation_info": {"role": "*"},
    }


def scalar(name: str, value: float, **extra: object) -> dict[str, object]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, "role": "*", **extra}


def test_an_offer_adds_up_its_unreserved_cpus_and_memory() -> None:
    parsed = Offer.from_json(
        offer_json(
            scalar("cpus", 1.5),
            scalar("cpus", 0.5),
            scalar("mem", 1024),
            scalar("disk", 9000),
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}},
            executors=["app@-@agent-1"],
        ),
        received_at=12.5,
    )
    assert (parsed.offer_id, parsed.agent_id, parsed.hostname) == ("o1", "agent-1", "agent-1.test")
    assert (parsed.cpus, parsed.mem) == (2.0, 1024.0)
    assert parsed.executor_ids == frozenset({"app@-@agent-1"})
    assert parsed.allocation_info == {"role": "*"}
    assert parsed.received_at == 12.5


def test_reserved_and_revocable_resources_are_not_counted() -> None:
    parsed = Offer.from_json(
        offer_json(
            scalar("cpus", 1.0),
            scalar("cpus", 8.0, reservations=[{"type": "DYNAMIC", "role": "r", "principal": "p"}]),
            scalar("cpus", 4.0, reservation={"principal": "p"}),
            scalar("cpus", 2.0, revocable={}),
            scalar("mem", 512),
        )
    )
    assert (parsed.cpus, parsed.mem) == (1.0, 512.0)


def test_an_app_without_cache_gets_a_fresh_executor_per_launch_charged_each_time() -> None:
    uncached = AppConfig(
        app_name="fresh",
        app_url="http://repo.test/fresh.tar.gz",
        bootstrap_script="run.sh",
        cpu_count=EXECUTOR_CPU,
        memory_mb=EXECUTOR_MEM,
        app_cache_enable=False,
    )
    first, second = job("first", shards=2, app=uncached), job("second", shards=1, app=uncached)
    counter = itertools.count()
    result = match(
        [offer("o1", executors=["fresh@-@agent-1"])],
        [],
        ["first", "second"],
        {j.job_name: j for j in (first, second)},
        {**APPS, "fresh": uncached},
        set(),
        lambda: f"u{next(counter)}",
    )
    by_job: dict[str, set[str]] = {"first": set(), "second": set()}
    for placement in result.placements:
        by_job[placement.task_id.job_name].add(placement.executor_id)
    assert len(by_job["first"]) == 1 and len(by_job["second"]) == 1  # one executor per launch
    assert by_job["first"] != by_job["second"]
    assert all(e.startswith("fresh@-@agent-1@-@") for ids in by_job.values() for e in ids)
    starts = [p.starts_executor for p in result.placements]
    assert starts.count(True) == 2  # each launch pays for its own executor, even though one runs


def test_a_run_that_does_not_fit_leaves_the_capacity_and_executors_exactly_as_they_were() -> None:
    # Room for the executor and three shards on agent-1. "big" starts the executor and takes three
    # shards before its fourth does not fit; undone, "exact" must find the whole room (executor
    # included) again, to the last bit of the floating-point arithmetic.
    exactly = offer("o1", cpus=EXECUTOR_CPU + 3 * SHARD_CPU, mem=EXECUTOR_MEM + 3 * SHARD_MEM)
    result = run([exactly], [job("big", shards=4), job("exact", shards=3)], ready=["big", "exact"])

    assert shards_of(result) == [("exact", item, ExecutionType.READY, "o1") for item in range(3)]
    assert [p.starts_executor for p in result.placements] == [True, False, False]
    assert result.unplaced == 1


def test_shards_of_one_run_fill_agents_in_order_after_an_agent_is_full() -> None:
    agents = [
        offer("o1", agent="agent-1", cpus=EXECUTOR_CPU + 2 * SHARD_CPU),
        offer("o2", agent="agent-2", cpus=EXECUTOR_CPU + 1 * SHARD_CPU),
        offer("o3", agent="agent-3", cpus=EXECUTOR_CPU + 3 * SHARD_CPU),
    ]
    result = run(agents, [job("a", shards=6)], ready=["a"])

    assert [p.offer_id for p in result.placements] == ["o1", "o1", "o2", "o3", "o3", "o3"]


def versioned(versions: dict[str, str]) -> Callable[[AppConfig], str]:
    return lambda app: versions[app.app_name]


def test_an_executor_of_an_earlier_app_version_serves_no_new_task_and_the_new_one_is_charged_once() -> None:
    """After a change of the app, the offer lists its old executor (which holds its own resources,
    outside the offer): the new executor is charged once per agent, for all the shards placed."""
    the_job = job("a", shards=3)
    old = offer("o1", cpus=3 * SHARD_CPU, mem=3 * SHARD_MEM, executors=["app@-@agent-1@-@v1"])
    counter = itertools.count()
    args = ([the_job.job_name], {the_job.job_name: the_job}, APPS, set(), lambda: f"u{next(counter)}")
    assert match([old], [], *args, versioned({"app": "v2"})).placements == []

    roomy = offer(
        "o2",
        cpus=3 * SHARD_CPU + EXECUTOR_CPU,
        mem=3 * SHARD_MEM + EXECUTOR_MEM,
        executors=["app@-@agent-1@-@v1"],
    )
    placements = match([roomy], [], *args, versioned({"app": "v2"})).placements
    assert [p.executor_id for p in placements] == ["app@-@agent-1@-@v2"] * 3
    assert [p.starts_executor for p in placements] == [True, False, False]

    current = offer("o3", cpus=3 * SHARD_CPU, mem=3 * SHARD_MEM, executors=["app@-@agent-1@-@v2"])
    assert [p.starts_executor for p in match([current], [], *args, versioned({"app": "v2"})).placements] == [
        False
    ] * 3
