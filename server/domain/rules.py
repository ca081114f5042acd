"""Field rules shared by apps and jobs: names, lengths, resources and URLs.

Messages name the field by its API (JSON) name, because that is what the user sent, and quote at
most a short prefix of a bad value (``quoted``), so an error reply stays small whatever was sent.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from server.domain.errors import InvalidArgument

MAX_NAME_LENGTH = 100
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
MIN_CPU_COUNT = 0.001
MAX_CPU_COUNT = 1024.0
MIN_MEMORY_MB = 1.0
MAX_MEMORY_MB = 4.0 * 1024 * 1024  # 4 TiB
MAX_URL_LENGTH = 4096
MAX_SCRIPT_LENGTH = 4096
QUOTED_PREFIX = 40
# Schemes the Mesos fetcher understands; the embedded agent handles file, http and https.
URL_SCHEMES = frozenset({"http", "https", "file", "ftp", "ftps", "hdfs", "hftp", "s3", "s3n", "s3a"})


def quoted(value: str) -> str:
    """``value`` quoted for a message: whole when short, else its first characters and its length."""
    if len(value) <= QUOTED_PREFIX:
        return repr(value)
    return f"{value[:QUOTED_PREFIX]!r}... ({len(value)} characters)"


def check_length(value: str, maximum: int, field: str) -> None:
    """Refuse text longer than ``maximum`` characters, before any other rule looks at it."""
    if len(value) > maximum:
        raise InvalidArgument(f"{field} is {len(value)} characters long; the limit is {maximum}", field=field)


def check_name(value: str, field: str) -> None:
    """Names are 1..100 of A-Z a-z 0-9 _ . -, starting with a letter or digit."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    check_length(value, MAX_NAME_LENGTH, field)
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidArgument(
            f"{field} {quoted(value)} is invalid: "
            "use 1 to 100 of A-Z a-z 0-9 _ . - starting with a letter or digit",
            field=field,
        )


def check_range(value: float, minimum: float, maximum: float, field: str) -> None:
    """A finite number in ``minimum..maximum``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{field} must be a finite number", field=field)
    if value < minimum:
        raise InvalidArgument(f"{field} must be at least {minimum:g}, got {value:g}", field=field)
    if value > maximum:
        raise InvalidArgument(f"{field} must be at most {maximum:g}, got {value:g}", field=field)


def check_cpu_count(value: float, field: str = "cpuCount") -> None:
    check_range(value, MIN_CPU_COUNT, MAX_CPU_COUNT, field)


def check_memory_mb(value: float, field: str = "memoryMB") -> None:
    check_range(value, MIN_MEMORY_MB, MAX_MEMORY_MB, field)


def check_url(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    check_length(value, MAX_URL_LENGTH, field)
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES:
        raise InvalidArgument(
            f"{field} {quoted(value)} must be an absolute URL with one of the schemes "
            + ", ".join(sorted(URL_SCHEMES)),
            field=field,
        )
    if parts.scheme.lower() == "file":
        if not parts.path.startswith("/"):
            raise InvalidArgument(f"{field} {quoted(value)} must name an absolute file path", field=field)
    elif not parts.netloc:
        raise InvalidArgument(f"{field} {quoted(value)} has no host", field=field)
    if any(ch.isspace() for ch in value):
        raise InvalidArgument(f"{field} {quoted(value)} must not contain whitespace", field=field)
    if not value.isprintable():
        raise InvalidArgument(f"{field} {quoted(value)} must not contain control characters", field=field)


def check_relative_script(value: str, field: str) -> None:
    """A bootstrap script is a path inside the app, or a command line; never an escape with '..'."""
    if not value or not value.strip():
        raise InvalidArgument(f"{field} is required", field=field)
    check_length(value, MAX_SCRIPT_LENGTH, field)
    if "\x00" in value or "\n" in value:
        raise InvalidArgument(f"{field} must be a single line", field=field)
    program = value.strip().split()[0]
    if program.startswith("/"):
        raise InvalidArgument(
            f"{field} {quoted(value)} must be a path relative to the app's root", field=field
        )
    if ".." in re.split(r"[/\\]", program):
        raise InvalidArgument(
            f"{field} {quoted(value)} must not leave the app's folder with '..'", field=field
        )
