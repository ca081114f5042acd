"""Print the next fire times of a Quartz cron expression.

Usage::

    python -m server.cron EXPR [--from ISO-8601] [--count N] [--tz ZONE]

EXPR is one argument (quote it). The times are evaluated on the wall clock of ZONE: ``--tz``, else
the ``ELASTICJOB_TIMEZONE`` environment variable, else the machine's local zone. ``--from``
(default: now) is an ISO-8601 date-time; without an offset it is read in ZONE, with one it is
converted to ZONE. Prints the next N (default 10) fire times strictly after it, ISO-8601 with
offset, one per line (fewer if the schedule ends before 2100). An invalid expression prints the
reason to stderr and exits with status 2, as do usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.base.cron import CronExpression, InvalidCronExpression, fire_times
from server.base.zones import zone_named

TIMEZONE_ENV = "ELASTICJOB_TIMEZONE"
DEFAULT_COUNT = 10
EXIT_INVALID = 2


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"unknown time zone {name!r}") from exc


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date-time: {text!r}") from exc


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {count}")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m server.cron",
        description="Print the next fire times of a Quartz cron expression.",
    )
    parser.add_argument("expression", metavar="EXPR", help="the cron expression, quoted as one argument")
    parser.add_argument(
        "--from", dest="start", type=_moment, default=None, help="ISO-8601 start (default: now)"
    )
    parser.add_argument(
        "--count", type=_count, default=DEFAULT_COUNT, help=f"how many (default {DEFAULT_COUNT})"
    )
    parser.add_argument(
        "--tz", type=_zone, default=None, help=f"IANA zone (default: ${TIMEZONE_ENV}, else local)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    zone: tzinfo | None = args.tz
    if zone is None:
        configured = os.environ.get(TIMEZONE_ENV)
        try:  # the server's and the executor's rule: the named zone, else the machine's
            zone = zone_named(configured)
        except (ZoneInfoNotFoundError, ValueError):
            parser.error(f"${TIMEZONE_ENV}: unknown time zone {configured!r}")
    try:
        expression = CronExpression.parse(args.expression)
    except InvalidCronExpression as exc:
        print(f"invalid cron expression {args.expression!r}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    start: datetime | None = args.start
    if start is None:
        start = datetime.now(zone)
    elif start.tzinfo is None:
        start = start.replace(tzinfo=zone)
    else:
        start = start.astimezone(zone)
    for fire in fire_times(expression, start, args.count):
        print(fire.isoformat())
    return 0


if __name__ == "__main__":
    sys.exit(main())
