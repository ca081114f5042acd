"""CronService.PreviewCron through the real Envoy: next fire times by the scheduler's Quartz engine.

Quartz's CronExpression documentation (seconds first; ``?`` for day-of-month or day-of-week; ``L``
and ``#``) fixes what the expressions below mean.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import httpx

from testkit.harness import Stack


def preview(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post("/api/cron/preview", json=body)


def test_preview_returns_the_next_fire_times_in_the_zone_asked(stack: Stack, token: str) -> None:
    """Quartz ``0 15 10 ? * 6L`` fires at 10:15 on the last Friday of each month."""
    with stack.rest(token) as client:
        response = preview(client, cron="0 15 10 ? * 6L", timeZone="Europe/Berlin", count=3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timeZone"] == "Europe/Berlin"
    fires = [datetime.fromisoformat(text) for text in body["fireTimes"]]
    assert len(fires) == 3
    for fire in fires:
        assert (fire.hour, fire.minute, fire.second) == (10, 15, 0)
        assert fire.weekday() == 4  # Friday
        assert (fire + timedelta(days=7)).month != fire.month  # the last one of its month
        assert fire.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert fires == sorted(fires)


def test_preview_defaults_to_five_fire_times_in_the_schedulers_zone(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        response = preview(client, cron="0/5 * * * * ?")
    assert response.status_code == 200, response.text
    body = response.json()
    fires = [datetime.fromisoformat(text) for text in body["fireTimes"]]
    assert len(fires) == 5
    assert all(fire.second % 5 == 0 for fire in fires)
    assert all(later - earlier == timedelta(seconds=5) for earlier, later in itertools.pairwise(fires))
    assert body["timeZone"]


def test_bad_cron_zone_or_count_is_a_400_naming_the_field(stack: Stack, token: str) -> None:
    cases = [
        ({"cron": "0 0 25 * * ?"}, "cron"),
        ({"cron": ""}, "cron"),
        ({"cron": "x" * 300}, "cron"),
        ({"cron": "0 * * * * ?", "timeZone": "Mars/Olympus"}, "timeZone"),
        ({"cron": "0 * * * * ?", "count": 0}, "count"),
        ({"cron": "0 * * * * ?", "count": 101}, "count"),
        ({"cron": "0 * * * * ?", "count": "many"}, "count"),
    ]
    with stack.rest(token) as client:
        for body, field in cases:
            response = preview(client, **body)
            assert response.status_code == 400, (body, response.text)
            assert field in response.json()["message"], (body, response.text)


def test_preview_needs_a_token(stack: Stack) -> None:
    with stack.rest() as client:
        response = preview(client, cron="0 * * * * ?")
    assert response.status_code == 401
