"""The history routes' parameters as ``History`` reads them (no database: tracing off, so only the
checks run). ElasticJob-Cloud 3.0's ``CloudJobRestfulApi`` named them; its times were
``yyyy-MM-dd HH:mm:ss`` read in the server's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.domain.errors import InvalidArgument
from server.usecases.history import History, parse_time

BERLIN = ZoneInfo("Europe/Berlin")


def history() -> History:
    return History(None, zone=BERLIN, execution_types=lambda: (0, 0))


def test_times_are_read_in_the_servers_zone() -> None:
    moment = parse_time("startTime", "2026-07-01 12:00:00", BERLIN)
    assert moment.astimezone(UTC) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_a_form_encoded_space_and_iso_8601_with_an_offset_are_taken() -> None:
    assert parse_time("startTime", "2026-07-01+12:00:00", UTC) == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert parse_time("endTime", "2026-07-01T12:00:00Z", BERLIN) == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert parse_time("endTime", "2026-07-01T14:00:00+02:00", UTC).utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "raw", ["yesterday", "2026-07-01", "2026-07-01T12:00:00", "2026-02-30 00:00:00", "12:00:00"]
)
def test_a_time_without_date_and_clock_or_zone_is_refused_naming_the_parameter(raw: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_time("startTime", raw, UTC)
    assert refused.value.field == "startTime"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": "1001"}, "per_page"),
        ({"per_page": "1.5"}, "per_page"),
        ({"page": "0"}, "page"),
        ({"sort": "password"}, "sort"),
        ({"isSuccess": "yes"}, "isSuccess"),
        ({"startTime": "2026-07-02 00:00:00", "endTime": "2026-07-01 00:00:00"}, "endTime"),
    ],
)
def test_bad_execution_parameters_name_themselves(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        history().executions(params)
    assert refused.value.field == field


@pytest.mark.parametrize(
    "sort", ["startTime", "start_time", "START_TIME", "completeTime", "success", "isSuccess", "source"]
)
def test_sort_takes_row_fields_and_column_names_in_any_case(sort: str) -> None:
    assert history().executions({"sort": sort}).total == 0


def test_status_trace_filters_are_checked_against_their_values() -> None:
    assert (
        history()
        .status_traces({"state": "TASK_RUNNING", "source": "CLOUD_EXECUTOR", "executionType": "READY"})
        .total
        == 0
    )
    with pytest.raises(InvalidArgument) as refused:
        history().status_traces({"state": "RUNNING"})
    assert refused.value.field == "state"


def test_without_a_store_statistics_are_empty_and_results_zero() -> None:
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    quiet = History(None, zone=UTC, execution_types=lambda: (3, 1), now=lambda: now)
    assert quiet.task_results_since("last24hours") == []
    zero = quiet.task_results_of("online")
    assert (zero.id, zero.success_count, zero.failed_count, zero.interval, zero.statistics_time) == (
        0,
        0,
        0,
        "DAY",
        now,
    )
    assert quiet.execution_type_counts() == (3, 1)
    assert quiet.last_runs("job") == {}
