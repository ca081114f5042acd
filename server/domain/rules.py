"""Field rules shared by apps and jobs: names, resources and URLs.

Messages name the field by its API (JSON) name, because that is what the user sent.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from server.domain.errors import InvalidArgument

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
MIN_CPU_COUNT = 0.001
MIN_MEMORY_MB = 1.0
# Schemes the Mesos fetcher understands; the embedded agent handles file, http and https.
URL_SCHEMES = frozenset({"http", "https", "file", "ftp", "ftps", "hdfs", "hftp", "s3", "s3n", "s3a"})


def check_name(value: str, field: str) -> None:
    """Names are 1..100 of A-Z a-z 0-9 _ . -, starting with a letter or digit."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidArgument(
            f"{field} {value!r} is invalid: "
            "use 1 to 100 of A-Z a-z 0-9 _ . - starting with a letter or digit",
            field=field,
        )


def check_minimum(value: float, minimum: float, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{field} must be a finite number", field=field)
    if value < minimum:
        raise InvalidArgument(f"{field} must be at least {minimum:g}, got {value:g}", field=field)


def check_url(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES:
        raise InvalidArgument(
            f"{field} {value!r} must be an absolute URL with one of the schemes "
            + ", ".join(sorted(URL_SCHEMES)),
            field=field,
        )
    if parts.scheme.lower() == "file":
        if not parts.path.startswith("/"):
            raise InvalidArgument(f"{field} {value!r} must name an absolute file path", field=field)
    elif not parts.netloc:
        raise InvalidArgument(f"{field} {value!r} has no host", field=field)
    if any(ch.isspace() for ch in value):
        raise InvalidArgument(f"{field} {value!r} must not contain whitespace", field=field)


def check_relative_script(value: str, field: str) -> None:
    """A bootstrap script is a path inside the app, or a command line; never an escape with '..'."""
    if not value or not value.strip():
        raise InvalidArgument(f"{field} is required", field=field)
    if "\x00" in value or "\n" in value:
        raise InvalidArgument(f"{field} must be a single line", field=field)
    program = value.strip().split()[0]
    if program.startswith("/"):
        raise InvalidArgument(f"{field} {value!r} must be a path relative to the app's root", field=field)
    if ".." in re.split(r"[/\\]", program):
        raise InvalidArgument(f"{field} {value!r} must not leave the app's folder with '..'", field=field)
