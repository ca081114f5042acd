"""The application value object and its rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from server.domain.errors import InvalidArgument
from server.domain.rules import (
    check_cpu_count,
    check_memory_mb,
    check_name,
    check_relative_script,
    check_url,
)

DEFAULT_APP_CPU_COUNT = 1.0
DEFAULT_APP_MEMORY_MB = 128.0

# ElasticJob-Cloud 3.0's YAML keys for an app node, which are also the REST field names.
APP_KEYS = (
    "appCacheEnable",
    "appName",
    "appURL",
    "bootstrapScript",
    "cpuCount",
    "eventTraceSamplingCount",
    "memoryMB",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class AppConfig:
    """A published application. Construction validates every field."""

    app_name: str
    app_url: str
    bootstrap_script: str
    cpu_count: float = DEFAULT_APP_CPU_COUNT
    memory_mb: float = DEFAULT_APP_MEMORY_MB
    app_cache_enable: bool = True
    event_trace_sampling_count: int = 0
    # Keys found in a stored node that we do not model; written back unchanged.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.app_name, "appName")
        check_url(self.app_url, "appURL")
        check_relative_script(self.bootstrap_script, "bootstrapScript")
        check_cpu_count(self.cpu_count)
        check_memory_mb(self.memory_mb)
        if not isinstance(self.app_cache_enable, bool):
            raise InvalidArgument("appCacheEnable must be a boolean", field="appCacheEnable")
        if isinstance(self.event_trace_sampling_count, bool) or not isinstance(
            self.event_trace_sampling_count, int
        ):
            raise InvalidArgument(
                "eventTraceSamplingCount must be an integer", field="eventTraceSamplingCount"
            )
        if self.event_trace_sampling_count < 0:
            raise InvalidArgument(
                f"eventTraceSamplingCount must be at least 0, got {self.event_trace_sampling_count}",
                field="eventTraceSamplingCount",
            )

    def with_changes(self, changes: Mapping[str, Any]) -> AppConfig:
        """A copy with the given attributes changed (validated again)."""
        return replace(self, **dict(changes))

    def to_document(self) -> dict[str, Any]:
        """The registry document: 3.0's keys, plus any unmodelled keys kept from the stored node."""
        document = dict(self.extra)
        document.update(
            appCacheEnable=self.app_cache_enable,
            appName=self.app_name,
            appURL=self.app_url,
            bootstrapScript=self.bootstrap_script,
            cpuCount=float(self.cpu_count),
            eventTraceSamplingCount=self.event_trace_sampling_count,
            memoryMB=float(self.memory_mb),
        )
        return document

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> AppConfig:
        """Read a stored node (3.0 YAML or 2.x JSON keys); missing optional keys take defaults."""
        try:
            return cls(
                app_name=str(document["appName"]),
                app_url=str(document["appURL"]),
                bootstrap_script=str(document["bootstrapScript"]),
                cpu_count=float(document.get("cpuCount", DEFAULT_APP_CPU_COUNT)),
                memory_mb=float(document.get("memoryMB", DEFAULT_APP_MEMORY_MB)),
                app_cache_enable=bool(document.get("appCacheEnable", True)),
                event_trace_sampling_count=int(document.get("eventTraceSamplingCount", 0)),
                extra={k: v for k, v in document.items() if k not in APP_KEYS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"stored app document is unreadable: {exc}") from exc
