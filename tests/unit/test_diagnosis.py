"""The reasons the scheduler gives for waiting work that does not run (``server.scheduler.diagnosis``).

What a task needs follows Mesos' resource model as matching applies it: a task is launched within
one agent's offered scalar ``cpus`` and ``mem`` (Mesos docs, "Mesos Architecture" and "Scheduler
HTTP API": ACCEPT uses the offers of one agent), and the first task of an app on an agent also
starts its executor, whose ExecutorInfo resources count too (ElasticJob-Cloud 3.0 adds the app's
cpuCount / memoryMB for the executor in the same way).
"""

from __future__ import annotations

import itertools
import random

import pytest

from server.domain.app import AppConfig
from server.domain.job import JobConfig, JobExecutionType
from server.scheduler.diagnosis import (
    OfferPeak,
    OfferWindow,
    amount,
    blocked_reason,
    busy_reason,
    duration,
    need_reason,
)
from server.scheduler.matching import match
from server.scheduler.offers import Offer

WINDOW = 300.0


def app(cpus: float = 0.1, mem: float = 32.0) -> AppConfig:
    return AppConfig(
        app_name="app",
        app_url="http://repo.test/app.tar.gz",
        bootstrap_script="bin/start.sh",
        cpu_count=cpus,
        memory_mb=mem,
    )


def job(cpus: float = 1.0, mem: float = 64.0, shards: int = 1) -> JobConfig:
    return JobConfig(
        job_name="job",
        app_name="app",
        cpu_count=cpus,
        memory_mb=mem,
        job_execution_type=JobExecutionType.TRANSIENT,
        sharding_total_count=shards,
    )


def offer(cpus: float, mem: float, agent: str = "agent-1", number: int = 1) -> Offer:
    return Offer(
        offer_id=f"offer-{agent}-{number}",
        agent_id=agent,
        hostname=agent,
        cpus=cpus,
        mem=mem,
        executor_ids=frozenset(),
    )


def peak(cpus: float, mem: float) -> OfferPeak:
    return OfferPeak(cpus, mem, cpus, mem)


def test_a_shard_needing_more_cpus_than_any_offer_names_both_amounts() -> None:
    reason = need_reason(job(cpus=100), app(cpus=0.1), 1, peak(2, 4096), WINDOW)
    assert reason == "needs 100 cpus + 0.1 for the executor; the largest offer in the last 5 minutes had 2"


def test_a_shard_needing_more_memory_than_any_offer_names_the_memory() -> None:
    reason = need_reason(job(mem=8192), app(mem=128), 1, peak(8, 4096), WINDOW)
    assert reason == (
        "needs 8192 MB of memory + 128 for the executor; the largest offer in the last 5 minutes had 4096"
    )


def test_cpus_and_memory_both_short_are_both_named() -> None:
    reason = need_reason(job(cpus=100, mem=8192), app(), 1, peak(2, 1024), WINDOW)
    assert reason is not None
    assert "needs 100 cpus" in reason and "needs 8192 MB of memory" in reason


def test_no_offer_in_the_window_says_so() -> None:
    assert need_reason(job(), app(), 1, None, WINDOW) == "no offers received in the last 5 minutes"
    assert need_reason(job(), app(), 1, None, 40) == "no offers received in the last 40 seconds"


def test_a_ready_run_whose_shards_fit_one_by_one_but_not_together_says_at_once() -> None:
    reason = need_reason(job(cpus=1, shards=3), app(cpus=0.1), 3, peak(2, 4096), WINDOW)
    assert reason == (
        "needs 3 shards of 1 cpus + 0.1 for the executor at once; "
        "the most offered at once in the last 5 minutes was 2"
    )


def test_work_that_fits_the_largest_offer_has_no_need_reason() -> None:
    assert need_reason(job(cpus=1.9, mem=64), app(cpus=0.1, mem=32), 1, peak(2, 96), WINDOW) is None


def test_resources_in_use_are_named_with_what_the_run_needs() -> None:
    assert busy_reason(job(cpus=0.5, mem=64, shards=2), app(cpus=0.1, mem=32), 2) == (
        "waiting for resources in use: needs 1.1 cpus and 160 MB at once (with the executor), "
        "more than the offers on hand"
    )


@pytest.mark.parametrize(
    ("job_disabled", "app_disabled", "known_app", "unrecordable", "expected"),
    [
        (True, False, True, False, "job 'job' is disabled"),
        (False, True, True, False, "app 'app' is disabled"),
        (True, True, True, False, "job 'job' is disabled"),
        (False, False, False, False, "app 'app' does not exist"),
        (False, False, True, True, "too large to record in one ZooKeeper transaction"),
        (False, False, True, False, None),
    ],
)
def test_blocked_reasons_need_no_offers(
    job_disabled: bool, app_disabled: bool, known_app: bool, unrecordable: bool, expected: str | None
) -> None:
    reason = blocked_reason(
        job(),
        app() if known_app else None,
        job_disabled=job_disabled,
        app_disabled=app_disabled,
        unrecordable=unrecordable,
    )
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


@pytest.mark.parametrize(
    ("shard_cpus", "shard_mem", "shards", "offered_cpus", "offered_mem"),
    list(itertools.product([0.5, 1.0, 1.95], [16.0, 100.0], [1, 2, 3], [1.0, 2.0], [128.0, 256.0])),
)
def test_no_need_reason_exactly_when_matching_places_the_run_in_the_largest_offer(
    shard_cpus: float, shard_mem: float, shards: int, offered_cpus: float, offered_mem: float
) -> None:
    """The reason and matching agree: for a fresh agent (no executor of the app yet), the run has
    no need reason exactly when matching places all its shards in that agent's offer."""
    the_job, the_app = job(cpus=shard_cpus, mem=shard_mem, shards=shards), app(cpus=0.1, mem=32)
    the_offer = offer(offered_cpus, offered_mem)
    placed = match([the_offer], [], ["job"], {"job": the_job}, {"app": the_app}, set(), lambda: "u")
    reason = need_reason(the_job, the_app, shards, OfferPeak.of([the_offer]), WINDOW)
    assert (reason is None) == bool(placed.launched_ready), reason


def test_the_peak_pools_the_offers_of_one_agent_and_adds_up_all_agents() -> None:
    found = OfferPeak.of([offer(1, 100, "a", 1), offer(0.5, 50, "a", 2), offer(1.2, 40, "b", 1)])
    assert found == OfferPeak(cpus=1.5, mem=150, total_cpus=2.7, total_mem=190)
    assert OfferPeak.of([]) is None


def test_the_offer_window_forgets_batches_older_than_its_length() -> None:
    window = OfferWindow(300)
    window.record([offer(8, 8192)], at=0.0)
    window.record([offer(2, 1024)], at=200.0)
    assert window.peak(250.0) == peak(8, 8192)
    assert window.peak(301.0) == peak(2, 1024)
    assert window.peak(501.0) is None


def test_the_offer_window_peak_is_the_largest_of_each_amount_over_the_batches_in_it() -> None:
    """Batches covered by a later one are dropped as they come; the peak stays what every batch in
    the window gives, amount by amount."""
    rng = random.Random(7)
    window = OfferWindow(30)
    recorded: list[tuple[float, OfferPeak]] = []
    at = 0.0
    for _ in range(2000):
        at += rng.choice([0.0, 0.5, 5.0, 29.0])
        offers = [
            offer(rng.choice([1, 2, 4]), rng.choice([512, 1024]), rng.choice("ab"), n) for n in range(2)
        ]
        window.record(offers, at)
        found = OfferPeak.of(offers)
        assert found is not None
        recorded.append((at, found))
        in_window = [p for when, p in recorded if at - when <= 30]
        expected = in_window[0]
        for other in in_window[1:]:
            expected = expected.combined(other)
        assert window.peak(at) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0, "2"), (0.1, "0.1"), (100.0, "100"), (0.125, "0.125"), (4096.0, "4096"), (0.0, "0")],
)
def test_amounts_read_as_people_write_them(value: float, text: str) -> None:
    assert amount(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "5 minutes"), (60, "1 minute"), (90, "90 seconds"), (1, "1 second"), (0.2, "1 second")],
)
def test_durations_read_in_minutes_when_whole(seconds: float, text: str) -> None:
    assert duration(seconds) == text
