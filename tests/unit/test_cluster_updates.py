"""The embedded agent's status update manager resends an unacknowledged update after 10 s, then
after twice as long each time up to 10 minutes, as Mesos' agent does
(``STATUS_UPDATE_RETRY_INTERVAL_MIN`` / ``_MAX`` in ``src/slave/constants.hpp``, used by
``src/slave/task_status_update_manager.cpp``). Driven with a fake clock, no sleeping."""

from __future__ import annotations

from server.cluster.agent.updates import StatusUpdateManager
from server.cluster.settings import AgentSettings
from server.mesos.status import task_status


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _manager(clock: _Clock, sent: list[str]) -> StatusUpdateManager:
    settings = AgentSettings()
    return StatusUpdateManager(
        recorded=lambda framework_id, status: None,
        forward=lambda framework_id, status: sent.append(str(status["state"])),
        closed=lambda framework_id, task_id: None,
        retry_interval=settings.update_retry_interval,
        retry_interval_max=settings.update_retry_interval_max,
        clock=clock,
    )


def _resend_times(clock: _Clock, manager: StatusUpdateManager, sent: list[str], until: float) -> list[float]:
    """Step the clock one second at a time; the times (since the first send) of each resend."""
    start, times = clock.now, []
    while clock.now - start < until:
        clock.now += 1.0
        before = len(sent)
        manager.retry_due()
        if len(sent) > before:
            times.append(clock.now - start)
    return times


def test_defaults_are_mesos_ten_seconds_to_ten_minutes() -> None:
    settings = AgentSettings()
    assert (settings.update_retry_interval, settings.update_retry_interval_max) == (10.0, 600.0)


def test_resends_back_off_from_ten_seconds_doubling_to_ten_minutes() -> None:
    clock, sent = _Clock(), []
    manager = _manager(clock, sent)
    manager.add("fw", task_status("t", "TASK_RUNNING", source="SOURCE_EXECUTOR", reliable=True))
    assert sent == ["TASK_RUNNING"]
    times = _resend_times(clock, manager, sent, until=3000)
    gaps = [later - earlier for earlier, later in zip([0.0, *times], times, strict=False)]
    assert gaps[:7] == [10, 20, 40, 80, 160, 320, 600]
    assert set(gaps[6:]) == {600}, "capped at ten minutes"


def test_the_next_update_starts_again_at_the_minimum() -> None:
    clock, sent = _Clock(), []
    manager = _manager(clock, sent)
    first = task_status("t", "TASK_RUNNING", source="SOURCE_EXECUTOR", reliable=True)
    manager.add("fw", first)
    manager.add("fw", task_status("t", "TASK_FINISHED", source="SOURCE_EXECUTOR", reliable=True))
    _resend_times(clock, manager, sent, until=100)  # RUNNING resent at 10, 30, 70
    assert manager.acknowledge("fw", "t", str(first["uuid"]))
    assert sent[-1] == "TASK_FINISHED"
    assert _resend_times(clock, manager, sent, until=35) == [10, 30]


def test_a_resubscription_resends_at_once_without_resetting_the_backoff() -> None:
    clock, sent = _Clock(), []
    manager = _manager(clock, sent)
    manager.add("fw", task_status("t", "TASK_RUNNING", source="SOURCE_EXECUTOR", reliable=True))
    _resend_times(clock, manager, sent, until=31)  # resent at 10 and 30: next wait is 40 s
    manager.resend("fw")
    assert len(sent) == 4
    assert _resend_times(clock, manager, sent, until=45) == [40]
