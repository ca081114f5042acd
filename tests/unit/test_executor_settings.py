"""The executor's settings, read from the environment a Mesos agent gives it."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from server.executor.settings import ExecutorConfigError, ExecutorSettings, parse_duration

AGENT_ENV = {
    "MESOS_FRAMEWORK_ID": "fw-1",
    "MESOS_EXECUTOR_ID": "app@-@agent-1",
    "MESOS_AGENT_ENDPOINT": "127.0.0.1:5051",
}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5secs", 5.0),
        ("250ms", 0.25),
        ("1.5mins", 90.0),
        ("2hrs", 7200.0),
        ("1days", 86400.0),
        ("1weeks", 604800.0),
        ("100us", 1e-4),
        ("500ns", 5e-7),
        ("3", 3.0),
        (" 7secs ", 7.0),
        (".5secs", 0.5),
        ("1e+06secs", 1e6),
        ("1e3ms", 1.0),
    ],
)
def test_mesos_durations_are_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "secs", "5 parsecs", "-1secs", "5s", "e3ms", "five"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ExecutorConfigError):
        parse_duration(text)


def test_the_agents_variables_make_the_settings(tmp_path: Path) -> None:
    settings = ExecutorSettings.from_environment(
        AGENT_ENV
        | {
            "MESOS_SANDBOX": str(tmp_path),
            "MESOS_DIRECTORY": "/elsewhere",
            "MESOS_CHECKPOINT": "1",
            "MESOS_RECOVERY_TIMEOUT": "15mins",
            "MESOS_SUBSCRIPTION_BACKOFF_MAX": "250ms",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "60secs",
            "MESOS_EXECUTOR_AUTHENTICATION_TOKEN": "token",
            "ELASTICJOB_TIMEZONE": "Asia/Shanghai",
            "ELASTICJOB_EXECUTOR_PARALLELISM": "3",
        }
    )
    assert settings.framework_id == "fw-1"
    assert settings.executor_id == "app@-@agent-1"
    assert settings.executor_url == "http://127.0.0.1:5051/api/v1/executor"
    assert settings.sandbox == tmp_path.resolve()
    assert settings.checkpoint is True
    assert settings.recovery_timeout == 900.0
    assert settings.subscription_backoff_max == 0.25
    assert settings.shutdown_grace_period == 60.0
    assert settings.authentication_token == "token"
    assert str(settings.zone()) == "Asia/Shanghai"
    assert settings.parallelism == 3


def test_defaults_follow_mesos_and_the_directory_stands_in_for_the_sandbox(tmp_path: Path) -> None:
    settings = ExecutorSettings.from_environment(AGENT_ENV | {"MESOS_DIRECTORY": str(tmp_path)})
    assert settings.sandbox == tmp_path.resolve()
    assert settings.checkpoint is False
    assert settings.recovery_timeout == 60.0  # only bounds the first subscription
    assert settings.subscription_backoff_max == 2.0
    assert settings.shutdown_grace_period == 5.0
    assert settings.authentication_token is None
    assert settings.parallelism >= 1
    checkpointing = ExecutorSettings.from_environment(AGENT_ENV | {"MESOS_CHECKPOINT": "true"})
    assert checkpointing.recovery_timeout == 900.0


@pytest.mark.parametrize("missing", sorted(AGENT_ENV))
def test_a_missing_agent_variable_is_named(missing: str) -> None:
    env = {name: value for name, value in AGENT_ENV.items() if name != missing}
    with pytest.raises(ExecutorConfigError, match=missing):
        ExecutorSettings.from_environment(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "soon"),
        ("ELASTICJOB_EXECUTOR_PARALLELISM", "many"),
        ("ELASTICJOB_EXECUTOR_PARALLELISM", "0"),
        ("ELASTICJOB_TIMEZONE", "Mars/Olympus_Mons"),
    ],
)
def test_bad_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ExecutorConfigError):
        ExecutorSettings.from_environment(AGENT_ENV | {name: value})


def test_parallelism_defaults_to_the_machines_cpu_count() -> None:
    assert ExecutorSettings.from_environment(AGENT_ENV).parallelism == (os.cpu_count() or 1)


def test_without_a_zone_the_machines_zone_is_used_with_its_dst_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")

    zone = ExecutorSettings.from_environment(AGENT_ENV).zone()

    assert datetime(2026, 7, 1, 12, tzinfo=zone).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 1, 15, 12, tzinfo=zone).utcoffset() == timedelta(hours=1)
