"""CronService.PreviewCron with the current time injected: the fire times are the Quartz engine's,
read on the wall clock of the zone asked for (or the scheduler's), ISO 8601 with that zone's
offset. Quartz's CronExpression documentation fixes the expressions' meaning."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest
from elasticjob.cloud.v1 import cron_pb2
from google.protobuf import struct_pb2

from server.api.cron_servicer import CronServicer
from server.domain.errors import InvalidArgument

NOON_CRON = "0 0 12 * * ?"


def at(moment: datetime) -> CronServicer:
    def now(zone: tzinfo) -> datetime:
        return moment.astimezone(zone)

    return CronServicer(ZoneInfo("Asia/Tokyo"), now=now)


def preview(servicer: CronServicer, **fields: object) -> cron_pb2.PreviewCronResponse:
    return servicer.PreviewCron(cron_pb2.PreviewCronRequest(**fields), None)  # type: ignore[arg-type]


def test_fire_times_are_read_on_the_zones_wall_clock() -> None:
    servicer = at(datetime(2026, 1, 1, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    answer = preview(
        servicer, cron=NOON_CRON, time_zone="Europe/Berlin", count=struct_pb2.Value(number_value=2)
    )
    assert list(answer.fire_times) == ["2026-01-01T12:00:00+01:00", "2026-01-02T12:00:00+01:00"]
    assert answer.time_zone == "Europe/Berlin"


def test_without_a_zone_the_schedulers_is_used_and_five_times_are_returned() -> None:
    servicer = at(datetime(2026, 7, 1, 0, 0, tzinfo=ZoneInfo("UTC")))  # 09:00 in Tokyo
    answer = preview(servicer, cron=NOON_CRON)
    assert answer.time_zone == "Asia/Tokyo"
    assert list(answer.fire_times)[:2] == ["2026-07-01T12:00:00+09:00", "2026-07-02T12:00:00+09:00"]
    assert len(answer.fire_times) == 5


def test_a_schedule_that_ends_returns_fewer_times() -> None:
    """Quartz's optional seventh field is the year: this fires once, at noon on 1 January 2027."""
    servicer = at(datetime(2026, 6, 1, tzinfo=ZoneInfo("UTC")))
    answer = preview(
        servicer, cron="0 0 12 1 1 ? 2027", time_zone="UTC", count=struct_pb2.Value(number_value=5)
    )
    assert list(answer.fire_times) == ["2027-01-01T12:00:00+00:00"]


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"cron": "0 0 12 * *"}, "cron"),
        ({"cron": "   "}, "cron"),
        ({"cron": NOON_CRON, "time_zone": "Nowhere/City"}, "timeZone"),
        ({"cron": NOON_CRON, "time_zone": "../../etc/passwd"}, "timeZone"),
        ({"cron": NOON_CRON, "count": struct_pb2.Value(number_value=1.5)}, "count"),
        ({"cron": NOON_CRON, "count": struct_pb2.Value(string_value="0")}, "count"),
        ({"cron": NOON_CRON, "count": struct_pb2.Value(bool_value=True)}, "count"),
    ],
)
def test_a_bad_field_is_refused_by_name(fields: dict[str, object], field_name: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        preview(at(datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))), **fields)
    assert refused.value.field == field_name
