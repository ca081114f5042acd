"""CronService: next fire times of a Quartz cron expression, by the scheduler's own engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from elasticjob.cloud.v1 import cron_pb2, cron_pb2_grpc

from server.api import values
from server.base.cron import CronExpression, InvalidCronExpression, fire_times
from server.domain.errors import InvalidArgument
from server.domain.rules import quoted

MAX_CRON_LENGTH = 256
MAX_ZONE_LENGTH = 100
DEFAULT_COUNT = 5
MAX_COUNT = 100


class CronServicer(cron_pb2_grpc.CronServiceServicer):
    """Previews in ``default_zone`` (the scheduler's) unless the request names a zone; ``now``
    gives the current time in a zone."""

    def __init__(self, default_zone: tzinfo, *, now: Callable[[tzinfo], datetime] = datetime.now) -> None:
        self._default_zone = default_zone
        self._now = now

    def PreviewCron(
        self, request: cron_pb2.PreviewCronRequest, context: grpc.ServicerContext
    ) -> cron_pb2.PreviewCronResponse:
        expression = _expression(request.cron)
        zone = self._zone(request.time_zone)
        count = DEFAULT_COUNT
        if values.is_sent(request.count):
            count = values.integer(request.count, "count")
            if not 1 <= count <= MAX_COUNT:
                raise InvalidArgument(f"count must be between 1 and {MAX_COUNT}, got {count}", field="count")
        fires = fire_times(expression, self._now(zone), count)
        return cron_pb2.PreviewCronResponse(
            fire_times=[fire.isoformat() for fire in fires], time_zone=_zone_name(zone)
        )

    def _zone(self, name: str) -> tzinfo:
        if not name:
            return self._default_zone
        if len(name) > MAX_ZONE_LENGTH:
            raise InvalidArgument(f"timeZone must be at most {MAX_ZONE_LENGTH} characters", field="timeZone")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidArgument(
                f"timeZone {quoted(name)} is not a known IANA time zone", field="timeZone"
            ) from exc


def _expression(text: str) -> CronExpression:
    if not text.strip():
        raise InvalidArgument("cron is required", field="cron")
    if len(text) > MAX_CRON_LENGTH:
        raise InvalidArgument(f"cron must be at most {MAX_CRON_LENGTH} characters", field="cron")
    try:
        return CronExpression.parse(text)
    except InvalidCronExpression as exc:
        raise InvalidArgument(f"cron {quoted(text)} is invalid: {exc}", field="cron") from exc


def _zone_name(zone: tzinfo) -> str:
    return zone.key if isinstance(zone, ZoneInfo) else str(zone)
