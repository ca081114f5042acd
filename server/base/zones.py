"""Time zones with their DST rules: the machine's, and zones named by the settings.

Every process (scheduler, executor, the cron preview) asks here, so a cron expression is read on the
same wall clock everywhere: a fixed UTC offset would fire an hour off for half of the year.
"""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["local_zone", "zone_named"]


def zone_named(name: str | None) -> tzinfo:
    """The zone ``name`` (an IANA name) when given, else :func:`local_zone`.

    Raises ``ZoneInfoNotFoundError`` (a ``KeyError``) or ``ValueError`` for an unknown name.
    """
    if name:
        return ZoneInfo(name)
    return local_zone()


def local_zone() -> tzinfo:
    """The machine's zone with its DST rules: ``$TZ``, else ``/etc/localtime``, else a fixed offset."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    localtime = Path("/etc/localtime")
    target = str(localtime.resolve())
    if "/zoneinfo/" in target:
        try:
            return ZoneInfo(target.split("/zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if localtime.is_file():
        with localtime.open("rb") as data:
            return ZoneInfo.from_file(data, key="localtime")
    fixed = datetime.now().astimezone().tzinfo
    assert fixed is not None  # astimezone() always attaches a zone
    return fixed
