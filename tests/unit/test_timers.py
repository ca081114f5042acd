"""Specification of ``CronTimers``: one heap of next fire times for every cron job, told the time.

2026-01-01 is a Thursday; every time here is UTC.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from server.base.cron import CronExpression
from server.scheduler.timers import CronTimers, Fire

EVERY_5_SECONDS = CronExpression.parse("0/5 * * * * ?")
EVERY_MINUTE = CronExpression.parse("0 * * * * ?")
HOURLY = CronExpression.parse("0 0 * * * ?")


def at(hour: int = 0, minute: int = 0, second: int = 0, *, day: int = 1) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


def test_a_job_is_due_at_its_next_fire_time_and_not_a_second_before() -> None:
    timers = CronTimers()
    assert timers.set("job", EVERY_5_SECONDS, at(0, 0, 1)) == at(0, 0, 5)
    assert timers.next_fire("job") == at(0, 0, 5)
    assert timers.next_deadline() == at(0, 0, 5)

    assert timers.due(at(0, 0, 4)) == []
    assert timers.due(at(0, 0, 5)) == [Fire("job", at(0, 0, 5))]
    assert timers.due(at(0, 0, 5)) == []  # a fire is reported once
    assert timers.next_fire("job") == at(0, 0, 10)


def test_due_reports_the_fires_of_several_jobs_in_time_order() -> None:
    timers = CronTimers()
    timers.set("minute", EVERY_MINUTE, at(0, 0, 0))  # 00:01:00
    timers.set("hourly", HOURLY, at(0, 0, 0))  # 01:00:00
    timers.set("five", EVERY_5_SECONDS, at(0, 0, 53))  # 00:00:55
    first = CronExpression.parse("59 0 0 * * ?")  # 00:00:59
    timers.set("first", first, at(0, 0, 0))

    fires = timers.due(at(0, 1, 0))
    assert fires == [
        Fire("five", at(0, 0, 55), count=2),  # 00:00:55 and 00:01:00
        Fire("first", at(0, 0, 59)),
        Fire("minute", at(0, 1, 0)),
    ]
    assert timers.next_deadline() == at(0, 1, 5)  # "five" again


def test_missed_fires_are_one_fire_counting_them_and_the_schedule_continues_after_now() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))

    fires = timers.due(at(0, 0, 32))  # six fire times passed while the scheduler was away
    assert fires == [Fire("job", at(0, 0, 5), count=6)]  # one fire, stamped with the first missed time
    assert timers.next_fire("job") == at(0, 0, 35)  # the next one after now, not a backlog


def test_missed_fires_older_than_the_catch_up_window_or_beyond_its_cap_are_skipped() -> None:
    timers = CronTimers(catch_up_seconds=60, catch_up_runs=10)
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))

    fires = timers.due(at(0, 1, 2))  # :05 .. :60 passed: :05 before 00:00:02 is outside the window
    assert fires == [Fire("job", at(0, 0, 5), count=10, skipped=2, skipped_since=at(0, 0, 55))]
    assert timers.next_fire("job") == at(0, 1, 5)

    timers = CronTimers(catch_up_seconds=60, catch_up_runs=10)
    timers.set("daily", CronExpression.parse("0 0 3 * * ?"), at(1), since=at(0, day=1))
    fires = timers.due(at(0, 0, 1, day=9))  # eight days without a scheduler
    assert fires == [Fire("daily", at(3), count=0, skipped=8, skipped_since=at(3))]
    assert timers.next_fire("daily") == at(3, day=9)


def test_a_job_scheduled_since_an_earlier_time_has_the_fire_times_since_then_due_at_once() -> None:
    timers = CronTimers()
    assert timers.set("job", EVERY_5_SECONDS, at(0, 0, 21), since=at(0, 0, 8)) == at(0, 0, 10)

    assert timers.due(at(0, 0, 21)) == [Fire("job", at(0, 0, 10), count=3)]  # :10, :15, :20
    assert timers.next_fire("job") == at(0, 0, 25)
    assert timers.set("other", EVERY_5_SECONDS, at(0, 0, 21), since=at(0, 0, 30)) == at(0, 0, 25)


def test_a_missed_fire_due_exactly_now_is_counted_in_the_fire() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))

    assert timers.due(at(0, 0, 10)) == [Fire("job", at(0, 0, 5), count=2)]
    assert timers.next_fire("job") == at(0, 0, 15)
    assert timers.due(at(0, 0, 10)) == []


def test_a_removed_job_never_fires_again() -> None:
    timers = CronTimers()
    timers.set("gone", EVERY_5_SECONDS, at(0, 0, 1))
    timers.set("kept", EVERY_MINUTE, at(0, 0, 1))

    timers.remove("gone")
    assert "gone" not in timers and "kept" in timers
    assert len(timers) == 1
    assert timers.job_names() == ["kept"]
    assert timers.next_fire("gone") is None
    assert timers.next_deadline() == at(0, 1, 0)  # the removed job's stale entry is skipped
    assert timers.due(at(0, 2, 0)) == [Fire("kept", at(0, 1, 0), count=2)]


def test_removing_an_unknown_job_is_harmless() -> None:
    timers = CronTimers()
    timers.remove("never-scheduled")
    assert len(timers) == 0
    assert timers.next_deadline() is None
    assert timers.due(at(1)) == []


def test_rescheduling_a_job_replaces_its_fire_time() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))
    assert timers.set("job", HOURLY, at(0, 0, 2)) == at(1)

    assert len(timers) == 1
    assert timers.next_deadline() == at(1)
    assert timers.due(at(0, 59, 59)) == []  # the old 5-second schedule is gone
    assert timers.due(at(1)) == [Fire("job", at(1))]


def test_a_job_removed_and_added_again_fires_once_per_fire_time() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))
    timers.remove("job")
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 2))

    assert timers.due(at(0, 0, 5)) == [Fire("job", at(0, 0, 5))]


def test_a_schedule_that_runs_out_fires_its_last_time_and_then_never() -> None:
    timers = CronTimers()
    once = CronExpression.parse("0 0 12 1 1 ? 2026")
    assert timers.set("once", once, at(0)) == at(12)

    assert timers.due(at(12, 0, 30)) == [Fire("once", at(12))]
    assert timers.next_fire("once") is None
    assert timers.next_deadline() is None
    assert timers.due(at(0, day=2)) == []


def test_a_schedule_already_over_has_no_fire_time() -> None:
    timers = CronTimers()
    assert timers.set("past", CronExpression.parse("0 0 0 1 1 ? 2025"), at(0)) is None
    assert timers.next_deadline() is None


def test_ten_thousand_jobs_fire_once_each_in_time_order() -> None:
    every_second_of_a_minute = [CronExpression.parse(f"{second} * * * * ?") for second in range(60)]
    rng = random.Random(7)
    timers = CronTimers()
    expected: dict[str, datetime] = {}
    for index in range(10_000):
        second = rng.randrange(60)
        name = f"job-{index:05d}"
        timers.set(name, every_second_of_a_minute[second], at(0, 0, 0))
        expected[name] = at(0, 0, second) if second else at(0, 1, 0)
    assert len(timers) == 10_000

    fires: list[Fire] = []
    moment = at(0, 0, 0)
    while moment < at(0, 1, 0):
        moment += timedelta(milliseconds=700)  # the producer wakes at uneven times
        fires += timers.due(moment)

    assert len(fires) == 10_000
    assert {fire.job_name: fire.scheduled_at for fire in fires} == expected
    times = [fire.scheduled_at for fire in fires]
    assert times == sorted(times)
    assert timers.next_deadline() == at(0, 1, 1)


def test_a_job_that_fired_is_scheduled_again_before_anything_is_answered() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))

    assert timers.due(at(0, 0, 5)) == [Fire("job", at(0, 0, 5))]  # its next fire is computed later
    assert timers.next_deadline() == at(0, 0, 10)
    assert timers.next_fire("job") == at(0, 0, 10)
    assert timers.due(at(0, 0, 10)) == [Fire("job", at(0, 0, 10))]


def test_fires_missed_while_late_are_counted_and_the_next_fire_is_after_now() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))

    assert timers.due(at(0, 0, 22)) == [Fire("job", at(0, 0, 5), count=4)]  # 10, 15 and 20 were missed
    assert timers.due(at(0, 0, 22)) == []
    assert timers.next_fire("job") == at(0, 0, 25)


def test_a_job_rescheduled_after_it_fired_keeps_its_new_schedule() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))
    assert timers.due(at(0, 0, 5)) == [Fire("job", at(0, 0, 5))]

    timers.set("job", EVERY_MINUTE, at(0, 0, 5))

    assert timers.next_fire("job") == at(0, 1, 0)
    assert timers.due(at(0, 0, 30)) == []
    assert timers.due(at(0, 1, 0)) == [Fire("job", at(0, 1, 0))]


def test_a_job_removed_after_it_fired_is_not_scheduled_again() -> None:
    timers = CronTimers()
    timers.set("job", EVERY_5_SECONDS, at(0, 0, 1))
    assert timers.due(at(0, 0, 5)) == [Fire("job", at(0, 0, 5))]

    timers.remove("job")

    assert timers.next_deadline() is None
    assert timers.next_fire("job") is None
    assert timers.due(at(0, 1, 0)) == []
