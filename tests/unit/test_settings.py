"""Settings, specified by what the server accepts from its environment and what it refuses to start with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server import cron
from server.base.cron import CronExpression, fire_times
from server.domain.errors import ConfigurationError
from server.executor.settings import ExecutorSettings
from server.settings import DEFAULT_EXECUTOR_COMMAND, Settings, iana_name
from server.wiring import build

A_SECRET = "a-token-secret-of-32-characters!"
PRODUCTION = {"ELASTICJOB_AUTH_PASSWORD": "s3cret-password", "ELASTICJOB_TOKEN_SECRET": A_SECRET}
DEVELOPMENT = {"ELASTICJOB_MODE": "development"}
SCHEDULING = DEVELOPMENT | {"ELASTICJOB_MESOS_URL": "http://mesos-master:5050"}
AGENT_ENV = {
    "MESOS_FRAMEWORK_ID": "fw-1",
    "MESOS_EXECUTOR_ID": "app@-@agent-1",
    "MESOS_AGENT_ENDPOINT": "127.0.0.1:5051",
}
NOON = "0 0 12 * * ?"


# --- production (the default) --------------------------------------------------------------------


def test_production_is_the_default_mode() -> None:
    settings = Settings.from_environment(PRODUCTION)

    assert settings.development is False


def test_production_mode_refuses_the_development_password() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_AUTH_PASSWORD"):
        Settings.from_environment({**PRODUCTION, "ELASTICJOB_AUTH_PASSWORD": "pwd"})


def test_production_mode_refuses_an_unset_password_because_it_defaults_to_the_development_one() -> None:
    with pytest.raises(ConfigurationError, match="development password"):
        Settings.from_environment({"ELASTICJOB_TOKEN_SECRET": A_SECRET})


def test_production_mode_refuses_a_missing_token_secret() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_TOKEN_SECRET"):
        Settings.from_environment({"ELASTICJOB_AUTH_PASSWORD": "s3cret-password"})


def test_production_mode_refuses_a_token_secret_shorter_than_16_characters() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_TOKEN_SECRET"):
        Settings.from_environment({**PRODUCTION, "ELASTICJOB_TOKEN_SECRET": "x" * 15})


def test_production_mode_accepts_a_token_secret_of_16_characters() -> None:
    settings = Settings.from_environment({**PRODUCTION, "ELASTICJOB_TOKEN_SECRET": "x" * 16})

    assert settings.token_secret == "x" * 16


def test_production_mode_is_chosen_explicitly_in_any_case_and_with_spaces() -> None:
    settings = Settings.from_environment({**PRODUCTION, "ELASTICJOB_MODE": " Production "})

    assert settings.development is False


def test_an_unknown_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_MODE"):
        Settings.from_environment({**PRODUCTION, "ELASTICJOB_MODE": "staging"})


# --- development ---------------------------------------------------------------------------------


def test_development_mode_uses_the_documents_credentials_root_and_pwd() -> None:
    settings = Settings.from_environment(DEVELOPMENT)

    assert settings.development is True
    assert (settings.auth_username, settings.auth_password) == ("root", "pwd")


def test_development_mode_fills_in_a_random_token_secret() -> None:
    first = Settings.from_environment(DEVELOPMENT)
    second = Settings.from_environment(DEVELOPMENT)

    assert len(first.token_secret) >= 16
    assert first.token_secret != second.token_secret


def test_development_mode_keeps_a_token_secret_that_is_given() -> None:
    settings = Settings.from_environment({**DEVELOPMENT, "ELASTICJOB_TOKEN_SECRET": "short"})

    assert settings.token_secret == "short"


def test_development_mode_is_case_insensitive() -> None:
    assert Settings.from_environment({"ELASTICJOB_MODE": "DEVELOPMENT"}).development is True


# --- every variable is read ----------------------------------------------------------------------


def test_every_elasticjob_variable_is_read() -> None:
    settings = Settings.from_environment(
        {
            "ELASTICJOB_MODE": "production",
            "ELASTICJOB_ZK_SERVERS": "zk1:2181,zk2:2181",
            "ELASTICJOB_ZK_NAMESPACE": "my-namespace",
            "ELASTICJOB_ZK_DIGEST": "user:secret",
            "ELASTICJOB_ZK_TIMEOUT_SECONDS": "2.5",
            "ELASTICJOB_GRPC_ADDRESS": "0.0.0.0:6000",
            "ELASTICJOB_AUTH_USERNAME": "admin",
            "ELASTICJOB_AUTH_PASSWORD": "s3cret-password",
            "ELASTICJOB_TOKEN_SECRET": A_SECRET,
            "ELASTICJOB_TOKEN_TTL_SECONDS": "600",
        }
    )

    assert settings == Settings(
        development=False,
        zk_servers="zk1:2181,zk2:2181",
        zk_namespace="my-namespace",
        zk_digest="user:secret",
        zk_timeout_seconds=2.5,
        grpc_address="0.0.0.0:6000",
        auth_username="admin",
        auth_password="s3cret-password",
        token_secret=A_SECRET,
        token_ttl_seconds=600,
    )


def test_unset_variables_take_the_documented_defaults() -> None:
    settings = Settings.from_environment(PRODUCTION)

    assert settings.zk_servers == "127.0.0.1:2181"
    assert settings.zk_namespace == "elasticjob-cloud"
    assert settings.zk_digest is None
    assert settings.zk_timeout_seconds == 5.0
    assert settings.grpc_address == "127.0.0.1:50051"
    assert settings.auth_username == "root"
    assert settings.token_ttl_seconds == 12 * 3600


def test_empty_numeric_variables_take_their_defaults() -> None:
    settings = Settings.from_environment(
        {**PRODUCTION, "ELASTICJOB_ZK_TIMEOUT_SECONDS": "", "ELASTICJOB_TOKEN_TTL_SECONDS": ""}
    )

    assert (settings.zk_timeout_seconds, settings.token_ttl_seconds) == (5.0, 12 * 3600)


def test_an_empty_zookeeper_digest_means_no_digest() -> None:
    assert Settings.from_environment({**PRODUCTION, "ELASTICJOB_ZK_DIGEST": ""}).zk_digest is None


def test_the_process_environment_is_read_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELASTICJOB_MODE", "development")
    monkeypatch.setenv("ELASTICJOB_ZK_NAMESPACE", "from-os-environ")

    assert Settings.from_environment().zk_namespace == "from-os-environ"


# --- bad values are refused naming the variable --------------------------------------------------


@pytest.mark.parametrize("variable", ["ELASTICJOB_ZK_TIMEOUT_SECONDS", "ELASTICJOB_TOKEN_TTL_SECONDS"])
@pytest.mark.parametrize("value", ["soon", "12h", "1,5"])
def test_a_number_variable_that_is_not_a_number_is_refused_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environment({**DEVELOPMENT, variable: value})


@pytest.mark.parametrize("variable", ["ELASTICJOB_ZK_TIMEOUT_SECONDS", "ELASTICJOB_TOKEN_TTL_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_duration_that_is_not_positive_is_refused_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environment({**DEVELOPMENT, variable: value})


@pytest.mark.parametrize("namespace", ["a/b", "/elasticjob-cloud", "elasticjob-cloud/"])
def test_a_namespace_with_a_slash_is_refused_naming_the_variable(namespace: str) -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_ZK_NAMESPACE"):
        Settings.from_environment({**DEVELOPMENT, "ELASTICJOB_ZK_NAMESPACE": namespace})


def test_an_empty_namespace_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_ZK_NAMESPACE"):
        Settings.from_environment({**DEVELOPMENT, "ELASTICJOB_ZK_NAMESPACE": ""})


def test_a_zookeeper_digest_without_a_colon_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_ZK_DIGEST"):
        Settings.from_environment({**DEVELOPMENT, "ELASTICJOB_ZK_DIGEST": "just-a-user"})


@pytest.mark.parametrize("variable", ["ELASTICJOB_AUTH_USERNAME", "ELASTICJOB_AUTH_PASSWORD"])
def test_empty_credentials_are_refused_naming_the_variable(variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environment({**DEVELOPMENT, variable: ""})


def test_settings_are_frozen() -> None:
    settings = Settings.from_environment(DEVELOPMENT)

    with pytest.raises(AttributeError):
        settings.auth_password = "changed"  # type: ignore[misc]


def test_scheduling_variables_are_read() -> None:
    settings = Settings.from_environment(
        {
            "ELASTICJOB_MODE": "development",
            "ELASTICJOB_MESOS_URL": "zk://127.0.0.1:2181/mesos",
            "ELASTICJOB_MESOS_USER": "jobs",
            "ELASTICJOB_MESOS_ROLE": "batch",
            "ELASTICJOB_EXECUTOR_COMMAND": "/opt/executor --fast",
            "ELASTICJOB_TIMEZONE": "Asia/Shanghai",
        }
    )
    assert settings.mesos_url == "zk://127.0.0.1:2181/mesos"
    assert (settings.mesos_user, settings.mesos_role) == ("jobs", "batch")
    assert settings.executor_command == "/opt/executor --fast"
    assert str(settings.zone()) == "Asia/Shanghai"


def test_without_a_mesos_url_nothing_is_scheduled() -> None:
    assert Settings.from_environment({"ELASTICJOB_MODE": "development"}).mesos_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ELASTICJOB_MESOS_URL", "127.0.0.1:5050"), ("ELASTICJOB_TIMEZONE", "Mars/Olympus_Mons")],
)
def test_bad_scheduling_variables_are_refused_naming_them(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environment({"ELASTICJOB_MODE": "development", variable: value})


# --- the scheduler's settings are derived ----------------------------------------------------------


def test_the_schedulers_settings_are_derived_from_the_servers() -> None:
    settings = Settings.from_environment(
        SCHEDULING
        | {
            "ELASTICJOB_MESOS_USER": "jobs",
            "ELASTICJOB_MESOS_ROLE": "batch",
            "ELASTICJOB_EXECUTOR_COMMAND": "/opt/executor --fast",
            "ELASTICJOB_TIMEZONE": "Asia/Shanghai",
        }
    )

    scheduler = settings.scheduler_settings()

    assert scheduler.mesos_url == "http://mesos-master:5050"
    assert (scheduler.mesos_user, scheduler.mesos_role) == ("jobs", "batch")
    assert scheduler.core.executor_command == "/opt/executor --fast"
    assert scheduler.core.zone == ZoneInfo("Asia/Shanghai")


def test_the_executor_command_defaults_to_this_pythons_executor_module() -> None:
    core = Settings.from_environment(SCHEDULING).scheduler_settings().core

    assert core.executor_command == DEFAULT_EXECUTOR_COMMAND
    assert DEFAULT_EXECUTOR_COMMAND.endswith(" -P -m server.executor")


def test_without_a_mesos_url_there_are_no_scheduler_settings() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_MESOS_URL"):
        Settings.from_environment(DEVELOPMENT).scheduler_settings()


# --- one wall clock for the scheduler, the executors and the cron preview ------------------------


def next_fire(expression: str, after: datetime, zone: tzinfo) -> datetime:
    return fire_times(CronExpression.parse(expression), after.astimezone(zone), 1)[0].astimezone(UTC)


def previewed_fire(expression: str, after: datetime, capsys: pytest.CaptureFixture[str]) -> datetime:
    assert cron.main([expression, "--from", after.isoformat(), "--count", "1"]) == 0
    return datetime.fromisoformat(capsys.readouterr().out.strip()).astimezone(UTC)


@pytest.mark.parametrize(
    ("after", "noon_in_berlin"),
    [
        (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 1, 10, tzinfo=UTC)),  # summer: UTC+2
        (datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 1, 15, 11, tzinfo=UTC)),  # winter: UTC+1
    ],
)
def test_without_a_configured_zone_scheduler_executor_and_preview_read_cron_on_the_machines_wall_clock(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    after: datetime,
    noon_in_berlin: datetime,
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    monkeypatch.delenv("ELASTICJOB_TIMEZONE", raising=False)
    scheduler_zone = Settings.from_environment(SCHEDULING).scheduler_settings().core.zone
    executor_zone = ExecutorSettings.from_environment(AGENT_ENV).zone()

    assert next_fire(NOON, after, scheduler_zone) == noon_in_berlin
    assert next_fire(NOON, after, executor_zone) == noon_in_berlin
    assert previewed_fire(NOON, after, capsys) == noon_in_berlin


def test_the_scheduler_names_the_machines_zone_to_its_executors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")

    core = Settings.from_environment(SCHEDULING).scheduler_settings().core

    assert core.executor_environment == {"ELASTICJOB_TIMEZONE": "Europe/Berlin"}


def test_the_scheduler_names_a_configured_zone_to_its_executors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")

    core = (
        Settings.from_environment(SCHEDULING | {"ELASTICJOB_TIMEZONE": "Asia/Shanghai"})
        .scheduler_settings()
        .core
    )

    assert core.executor_environment == {"ELASTICJOB_TIMEZONE": "Asia/Shanghai"}


def test_an_executor_on_an_agent_in_another_zone_reads_cron_in_the_schedulers_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")  # the scheduler's machine
    core = Settings.from_environment(SCHEDULING).scheduler_settings().core
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # the agent's machine

    executor = ExecutorSettings.from_environment(AGENT_ENV | core.executor_environment)

    after = datetime(2026, 7, 1, tzinfo=UTC)
    assert next_fire(NOON, after, executor.zone()) == next_fire(NOON, after, core.zone)
    assert next_fire(NOON, after, executor.zone()) == datetime(2026, 7, 1, 10, tzinfo=UTC)


def test_a_zone_without_an_iana_name_cannot_be_named() -> None:
    with Path("/usr/share/zoneinfo/Europe/Berlin").open("rb") as data:
        read_from_a_file = ZoneInfo.from_file(data, key="localtime")

    assert iana_name(ZoneInfo("Europe/Berlin")) == "Europe/Berlin"
    assert iana_name(read_from_a_file) is None
    assert iana_name(timezone(timedelta(hours=2))) is None


def test_an_executor_uri_makes_the_default_executor_command_run_the_fetched_zipapp() -> None:
    settings = Settings.from_environment(
        {"ELASTICJOB_MODE": "development", "ELASTICJOB_EXECUTOR_URI": "http://repo/elasticjob-executor.pyz"}
    )
    assert settings.executor_uri == "http://repo/elasticjob-executor.pyz"
    assert settings.executor_command == "python3 -I -S elasticjob-executor.pyz"


def test_an_explicit_executor_command_wins_over_the_one_an_executor_uri_implies() -> None:
    settings = Settings.from_environment(
        {
            "ELASTICJOB_MODE": "development",
            "ELASTICJOB_EXECUTOR_URI": "http://repo/elasticjob-executor.pyz",
            "ELASTICJOB_EXECUTOR_COMMAND": "/opt/python3.12/bin/python3 elasticjob-executor.pyz",
        }
    )
    assert settings.executor_command == "/opt/python3.12/bin/python3 elasticjob-executor.pyz"


def test_without_an_executor_uri_nothing_is_fetched_for_the_executor() -> None:
    settings = Settings.from_environment({"ELASTICJOB_MODE": "development"})
    assert settings.executor_uri is None
    assert settings.executor_command == DEFAULT_EXECUTOR_COMMAND


def test_an_executor_uri_naming_no_file_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ELASTICJOB_EXECUTOR_URI"):
        Settings.from_environment(
            {"ELASTICJOB_MODE": "development", "ELASTICJOB_EXECUTOR_URI": "http://repo/"}
        )


def test_the_zookeeper_session_timeout_defaults_well_under_ten_seconds_and_reaches_kazoo() -> None:
    """A dead leader keeps its election node until its session times out; ZooKeeper grants a
    session timeout between 2 and 20 ticks (ZooKeeper Administrator's Guide, minSessionTimeout /
    maxSessionTimeout), so 4 s is granted even by a server on the default tickTime of 2 s."""
    settings = Settings.from_environment(SCHEDULING | {"ELASTICJOB_GRPC_ADDRESS": "127.0.0.1:0"})
    assert settings.zk_session_timeout_seconds == 4.0
    assert settings.catch_up_seconds == 60.0
    assert settings.scheduler_settings().core.catch_up_seconds == 60.0
    server = build(settings)
    assert server.zookeeper.client._session_timeout == 4000  # kazoo keeps milliseconds

    tuned = Settings.from_environment(
        {**DEVELOPMENT, "ELASTICJOB_ZK_SESSION_TIMEOUT_SECONDS": "2.5", "ELASTICJOB_CATCH_UP_SECONDS": "30"}
    )
    assert (tuned.zk_session_timeout_seconds, tuned.catch_up_seconds) == (2.5, 30.0)
    with pytest.raises(ConfigurationError, match="ELASTICJOB_ZK_SESSION_TIMEOUT_SECONDS"):
        Settings.from_environment({**DEVELOPMENT, "ELASTICJOB_ZK_SESSION_TIMEOUT_SECONDS": "0.1"})


def test_the_default_mesos_user_is_the_effective_user_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``FrameworkInfo.user`` must name a user on the agents (Mesos agents switch to it); by
    default it is the user the server runs as, taken from the process's uid: ``$USER`` /
    ``$LOGNAME`` may name someone else (left by ``sudo`` or a service manager)."""
    import os
    import pwd

    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.setenv("LOGNAME", "someone-else")
    from server.settings import effective_user

    assert effective_user() == pwd.getpwuid(os.geteuid()).pw_name
