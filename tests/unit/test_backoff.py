"""The one reconnection backoff: exponential, capped, jittered downwards only."""

from __future__ import annotations

import pytest

from server.base.backoff import Backoff


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=15.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert backoff.delay(10_000) == 15.0
    jittered = Backoff(initial=1.0, maximum=1.0, jitter=0.2)
    assert all(0.8 <= jittered.delay(3) <= 1.0 for _ in range(50))


def test_the_default_starts_at_half_a_second_and_caps_at_fifteen() -> None:
    assert Backoff() == Backoff(initial=0.5, maximum=15.0, multiplier=2.0, jitter=0.2)


def test_the_multiplier_sets_the_growth() -> None:
    backoff = Backoff(initial=1.0, maximum=100.0, multiplier=3.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(4)] == [1.0, 3.0, 9.0, 27.0]


def test_jitter_only_shortens_the_delay_by_at_most_its_fraction() -> None:
    backoff = Backoff(initial=1.0, maximum=1.0, jitter=0.5)
    delays = [backoff.delay(3) for _ in range(200)]
    assert all(0.5 <= delay <= 1.0 for delay in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"initial": -1.0}, id="negative-initial"),
        pytest.param({"initial": 2.0, "maximum": 1.0}, id="cap-below-initial"),
        pytest.param({"multiplier": 0.5}, id="shrinking"),
        pytest.param({"jitter": 1.0}, id="jitter-of-one"),
        pytest.param({"jitter": -0.1}, id="negative-jitter"),
    ],
)
def test_impossible_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**options)
