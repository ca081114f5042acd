"""The JSON models the cluster's endpoints share, in the shapes a Mesos 1.x master and agent emit.

* :func:`resources_json`: a ``Resource`` list summarised as Mesos' endpoints do: scalars by name
  (``cpus``, ``gpus``, ``mem`` and ``disk`` always present), ranges as ``"[31000-32000]"``, sets as
  ``"{a, b}"``.
* :func:`task_json`: a task as the ``/state``, ``/tasks`` and agent ``/state`` endpoints show it
  (``id``, ``name``, ``framework_id``, ``executor_id`` (empty for a command task), ``slave_id``,
  ``state``, ``resources``, ``role``, ``statuses`` of ``{"state", "timestamp"}``).
* :func:`version_json`: the ``/version`` document; :func:`seconds_time`: a ``TimeInfo``.

The documents of each side are built in :mod:`server.cluster.master.endpoints` and
:mod:`server.cluster.agent.endpoints`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from server.cluster.master.core import VERSION
from server.cluster.resources import format_ranges, resource_role
from server.mesos.values import JsonObject

__all__ = [
    "BUILD_USER",
    "VERSION",
    "resource_role",
    "resources_json",
    "seconds_time",
    "task_json",
    "version_json",
]

BUILD_USER = "embedded"

#: The scalars Mesos' endpoints always show, even when nothing of them is there.
_ALWAYS_SHOWN = ("cpus", "gpus", "mem", "disk")


def version_json() -> JsonObject:
    """The ``/version`` document (``VersionInfo``'s fields; no git fields: this is not a build of
    Mesos)."""
    return {"version": VERSION, "build_date": "", "build_time": 0.0, "build_user": BUILD_USER}


def seconds_time(seconds: float) -> JsonObject:
    """``TimeInfo`` (``{"nanoseconds"}``) of a time in seconds since the epoch."""
    return {"nanoseconds": int(seconds * 1_000_000_000)}


def resources_json(resources: Iterable[Any]) -> dict[str, Any]:
    """Summarise a ``Resource`` JSON list the way Mesos' endpoints do (see the module docstring)."""
    summary: dict[str, Any] = {name: 0.0 for name in _ALWAYS_SHOWN}
    ranges: dict[str, list[tuple[int, int]]] = {}
    items: dict[str, list[str]] = {}
    for resource in resources:
        if not isinstance(resource, Mapping):
            continue
        name = str(resource.get("name", ""))
        kind = resource.get("type", "SCALAR")
        if kind == "SCALAR":
            value = (resource.get("scalar") or {}).get("value", 0.0)
            summary[name] = round(float(summary.get(name, 0.0)) + float(value), 3)
        elif kind == "RANGES":
            for item in (resource.get("ranges") or {}).get("range") or []:
                ranges.setdefault(name, []).append((int(item["begin"]), int(item["end"])))
        elif kind == "SET":
            items.setdefault(name, []).extend(
                str(item) for item in (resource.get("set") or {}).get("item") or []
            )
    for name, spans in ranges.items():
        summary[name] = format_ranges(tuple(sorted(spans)))
    for name, values in items.items():
        summary[name] = "{" + ", ".join(values) + "}"
    return summary


def task_json(
    *,
    task_id: str,
    name: str,
    framework_id: str,
    executor_id: str | None,
    agent_id: str,
    state: str,
    resources: Sequence[Any],
    statuses: Iterable[Mapping[str, Any]],
    role: str,
) -> JsonObject:
    """A task in the endpoints' shape (see the module docstring); ``resources`` is the
    ``TaskInfo``'s ``Resource`` list and ``statuses`` the states it went through, oldest first."""
    return {
        "id": task_id,
        "name": name,
        "framework_id": framework_id,
        "executor_id": executor_id or "",
        "slave_id": agent_id,
        "state": state,
        "resources": resources_json(resources),
        "role": resource_role(resources, role),
        "statuses": [
            {"state": status["state"], "timestamp": float(status.get("timestamp") or 0.0)}
            for status in statuses
        ],
    }
