"""AppConfig, specified by the spec's Application table: which values are stored and which are refused.

Every refusal is an ``InvalidArgument`` whose ``field`` is the JSON name the user sent.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from server.domain.app import AppConfig
from server.domain.errors import InvalidArgument


def make_app(**overrides: Any) -> AppConfig:
    fields: dict[str, Any] = {
        "app_name": "test_app",
        "app_url": "http://localhost/app.jar",
        "bootstrap_script": "bin/start.sh",
    }
    fields.update(overrides)
    return AppConfig(**fields)


def refusal(**overrides: Any) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        make_app(**overrides)
    return caught.value


# --- defaults ------------------------------------------------------------------------------------


def test_unsent_optional_fields_take_the_documented_defaults() -> None:
    app = make_app()

    assert app.cpu_count == 1.0
    assert app.memory_mb == 128.0
    assert app.app_cache_enable is True
    assert app.event_trace_sampling_count == 0
    assert app.extra == {}


def test_an_app_is_frozen() -> None:
    app = make_app()

    with pytest.raises(AttributeError):
        app.cpu_count = 2.0  # type: ignore[misc]


# --- appName -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "A", "7", "test_app", "My.App-2_x", "a" * 100, "9lives", "a..b"])
def test_app_names_of_1_to_100_allowed_characters_starting_alphanumeric_are_accepted(name: str) -> None:
    assert make_app(app_name=name).app_name == name


def test_an_app_name_of_101_characters_is_refused() -> None:
    assert refusal(app_name="a" * 101).field == "appName"


@pytest.mark.parametrize("name", ["_app", ".app", "-app"])
def test_an_app_name_must_start_with_a_letter_or_digit(name: str) -> None:
    error = refusal(app_name=name)

    assert error.field == "appName"
    assert name in str(error)


@pytest.mark.parametrize("name", ["my app", "my/app", "app@1", "äpp", "app\n", "app:1", "app*"])
def test_an_app_name_with_characters_outside_the_pattern_is_refused(name: str) -> None:
    assert refusal(app_name=name).field == "appName"


def test_an_empty_app_name_is_refused_as_required() -> None:
    error = refusal(app_name="")

    assert error.field == "appName"
    assert "required" in str(error)


# --- appURL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/app.jar",
        "https://repo.example.com:8443/apps/app.tar.gz",
        "file:///opt/apps/app.jar",
        "HTTP://LOCALHOST/app.jar",
    ],
)
def test_http_https_and_file_urls_are_accepted(url: str) -> None:
    assert make_app(app_url=url).app_url == url


@pytest.mark.parametrize("url", ["hdfs://namenode/apps/app.jar", "s3://bucket/app.jar", "ftp://host/app.jar"])
def test_other_mesos_fetcher_schemes_are_stored_as_given(url: str) -> None:
    assert make_app(app_url=url).app_url == url


@pytest.mark.parametrize("url", ["http:///app.jar", "https://", "http:app.jar"])
def test_a_network_url_without_a_host_is_refused(url: str) -> None:
    error = refusal(app_url=url)

    assert error.field == "appURL"
    assert "no host" in str(error)


@pytest.mark.parametrize("url", ["file:app.jar", "file:apps/app.jar", "file://app.jar"])
def test_a_file_url_with_a_relative_path_is_refused(url: str) -> None:
    error = refusal(app_url=url)

    assert error.field == "appURL"
    assert "absolute file path" in str(error)


@pytest.mark.parametrize(
    "url", ["localhost/app.jar", "/opt/apps/app.jar", "gopher://host/app.jar", "app.jar"]
)
def test_a_url_without_a_known_scheme_is_refused(url: str) -> None:
    assert refusal(app_url=url).field == "appURL"


def test_a_url_containing_whitespace_is_refused() -> None:
    assert refusal(app_url="http://localhost/my app.jar").field == "appURL"


def test_an_empty_url_is_refused_as_required() -> None:
    error = refusal(app_url="")

    assert error.field == "appURL"
    assert "required" in str(error)


# --- cpuCount and memoryMB -----------------------------------------------------------------------


@pytest.mark.parametrize("cpu_count", [0.001, 0.5, 1, 64.0])
def test_a_cpu_count_of_at_least_one_thousandth_is_accepted(cpu_count: float) -> None:
    assert make_app(cpu_count=cpu_count).cpu_count == cpu_count


@pytest.mark.parametrize("cpu_count", [0.0009, 0.0, -1.0])
def test_a_cpu_count_below_one_thousandth_is_refused(cpu_count: float) -> None:
    error = refusal(cpu_count=cpu_count)

    assert error.field == "cpuCount"
    assert "at least 0.001" in str(error)


@pytest.mark.parametrize("memory_mb", [1, 1.0, 128.0, 65536.0])
def test_a_memory_of_at_least_one_mb_is_accepted(memory_mb: float) -> None:
    assert make_app(memory_mb=memory_mb).memory_mb == memory_mb


@pytest.mark.parametrize("memory_mb", [0.999, 0.0, -128.0])
def test_a_memory_below_one_mb_is_refused(memory_mb: float) -> None:
    error = refusal(memory_mb=memory_mb)

    assert error.field == "memoryMB"
    assert "at least 1" in str(error)


@pytest.mark.parametrize("field_name, json_name", [("cpu_count", "cpuCount"), ("memory_mb", "memoryMB")])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_resources_are_refused(field_name: str, json_name: str, value: float) -> None:
    error = refusal(**{field_name: value})

    assert error.field == json_name
    assert "finite" in str(error)


@pytest.mark.parametrize("field_name, json_name", [("cpu_count", "cpuCount"), ("memory_mb", "memoryMB")])
@pytest.mark.parametrize("value", [True, "1", None])
def test_resources_that_are_not_numbers_are_refused(field_name: str, json_name: str, value: object) -> None:
    assert refusal(**{field_name: value}).field == json_name


# --- bootstrapScript -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "bin/start.sh",
        "start.sh",
        "./bin/start.sh",
        "java -jar app.jar --port 8080",
        "bin/start.sh --verbose",
        "bin/..hidden/start.sh",
    ],
)
def test_a_relative_script_or_a_command_with_arguments_is_accepted(script: str) -> None:
    assert make_app(bootstrap_script=script).bootstrap_script == script


@pytest.mark.parametrize("script", ["", "   "])
def test_a_missing_bootstrap_script_is_refused_as_required(script: str) -> None:
    error = refusal(bootstrap_script=script)

    assert error.field == "bootstrapScript"
    assert "required" in str(error)


@pytest.mark.parametrize("script", ["/bin/start.sh", "/usr/bin/java -jar app.jar", "  /bin/start.sh"])
def test_an_absolute_bootstrap_script_is_refused(script: str) -> None:
    error = refusal(bootstrap_script=script)

    assert error.field == "bootstrapScript"
    assert "relative" in str(error)


@pytest.mark.parametrize(
    "script",
    ["../start.sh", "bin/../../start.sh", "..", "bin/..", "bin\\..\\..\\start.bat", "../start.sh -x"],
)
def test_a_bootstrap_script_escaping_the_app_with_dot_dot_is_refused(script: str) -> None:
    error = refusal(bootstrap_script=script)

    assert error.field == "bootstrapScript"
    assert "'..'" in str(error)


@pytest.mark.parametrize("script", ["bin/start.sh\nrm -rf /", "bin/start.sh\x00"])
def test_a_bootstrap_script_of_more_than_one_line_is_refused(script: str) -> None:
    assert refusal(bootstrap_script=script).field == "bootstrapScript"


# --- appCacheEnable and eventTraceSamplingCount --------------------------------------------------


def test_the_app_cache_can_be_disabled() -> None:
    assert make_app(app_cache_enable=False).app_cache_enable is False


@pytest.mark.parametrize("value", [1, "true", None])
def test_an_app_cache_flag_that_is_not_a_boolean_is_refused(value: object) -> None:
    assert refusal(app_cache_enable=value).field == "appCacheEnable"


@pytest.mark.parametrize("count", [0, 1, 1000])
def test_an_event_trace_sampling_count_of_zero_or_more_is_accepted(count: int) -> None:
    assert make_app(event_trace_sampling_count=count).event_trace_sampling_count == count


def test_a_negative_event_trace_sampling_count_is_refused() -> None:
    error = refusal(event_trace_sampling_count=-1)

    assert error.field == "eventTraceSamplingCount"
    assert "at least 0" in str(error)


@pytest.mark.parametrize("count", [True, 1.5, "3"])
def test_an_event_trace_sampling_count_that_is_not_an_integer_is_refused(count: object) -> None:
    assert refusal(event_trace_sampling_count=count).field == "eventTraceSamplingCount"


# --- with_changes --------------------------------------------------------------------------------


def test_with_changes_returns_a_copy_with_only_the_given_fields_changed() -> None:
    app = make_app(cpu_count=2.0, extra={"kept": "value"})

    changed = app.with_changes({"app_cache_enable": False, "event_trace_sampling_count": 5})

    assert changed == make_app(
        cpu_count=2.0, extra={"kept": "value"}, app_cache_enable=False, event_trace_sampling_count=5
    )
    assert app.app_cache_enable is True
    assert app.event_trace_sampling_count == 0


def test_with_no_changes_the_app_is_unchanged() -> None:
    app = make_app()

    assert app.with_changes({}) == app


@pytest.mark.parametrize(
    "changes, json_name",
    [
        ({"app_url": "ftp:"}, "appURL"),
        ({"cpu_count": 0.0}, "cpuCount"),
        ({"memory_mb": 0.5}, "memoryMB"),
        ({"bootstrap_script": "../escape.sh"}, "bootstrapScript"),
        ({"event_trace_sampling_count": -3}, "eventTraceSamplingCount"),
        ({"app_name": "bad name"}, "appName"),
    ],
)
def test_with_changes_validates_the_result_again(changes: dict[str, Any], json_name: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        make_app().with_changes(changes)

    assert caught.value.field == json_name
