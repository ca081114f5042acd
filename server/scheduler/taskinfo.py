"""Building Mesos v1 ``TaskInfo`` JSON for a placement: pure, no IO.

Every task runs under the app's executor (``app@-@agentId@-@version``), whose ``ExecutorInfo`` is the
same for every task of that app version on that agent: Mesos refuses a task whose ExecutorInfo
differs from the running executor's, so the version (:func:`executor_version`, a digest of what the
ExecutorInfo holds) changes whenever the ExecutorInfo would, and a changed app starts new executors. The executor fetches the app (``cache`` = appCacheEnable; archives extracted,
a single script made executable). With an executor URI the fetcher also brings the executor
itself (a zipapp) into the sandbox, and the executor command runs it (:func:`fetched_executor_command`).
``data`` is the JSON sharding context, which also carries the environment variables the executor
sets for the shard.

``launch_operations`` builds each executor's ExecutorInfo, and parses each job's sharding item
parameters, once for all the tasks of one ACCEPT.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import shlex
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from server.domain.app import AppConfig
from server.domain.task import ShardingContext, executor_id
from server.scheduler.matching import Placement
from server.scheduler.offers import Offer
from server.scheduler.settings import CoreSettings

# Compact, sorted JSON (orjson: the data of every task of a launch goes over the wire in its ACCEPT,
# and encoding it is a visible share of a launch burst).
_DATA_OPTIONS = orjson.OPT_SORT_KEYS
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip", ".gz")


def is_archive(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return path.endswith(ARCHIVE_SUFFIXES)


def executor_file_name(executor_uri: str) -> str:
    """The file ``executor_uri`` is fetched to in the sandbox: the last segment of its path.

    Raises ValueError when the URI names no file (``http://host/``)."""
    path = urlsplit(executor_uri).path if "://" in executor_uri else executor_uri
    name = posixpath.basename(unquote(path))
    if name in ("", ".", "..") or "\x00" in name:
        raise ValueError(f"executor URI {executor_uri!r} names no file")
    return name


def fetched_executor_command(executor_uri: str) -> str:
    """The shell command that runs the executor zipapp fetched from ``executor_uri``.

    ``-I -S``: the agent's ``PYTHON*`` variables and installed packages (site-packages, ``.pth``
    hooks such as editable installs) stay out, so everything but the standard library comes from
    the archive. The shards' processes still get the executor's whole environment."""
    name = executor_file_name(executor_uri)
    return f"python3 -I -S {shlex.quote(f'./{name}' if name.startswith('-') else name)}"


def _executor_uri(executor_uri: str) -> dict[str, Any]:
    # output_file pins the name the command runs, whatever a fetcher makes of a query string.
    return {
        "value": executor_uri,
        "cache": True,
        "extract": False,
        "executable": False,
        "output_file": executor_file_name(executor_uri),
    }


def _scalar(name: str, value: float, offer: Offer) -> dict[str, Any]:
    resource: dict[str, Any] = {"name": name, "type": "SCALAR", "scalar": {"value": round(value, 6)}}
    if offer.allocation_info is not None:
        resource["allocation_info"] = dict(offer.allocation_info)
    else:
        resource["role"] = offer.role
    return resource


def sharding_context(placement: Placement, parameters: Mapping[int, str] | None = None) -> ShardingContext:
    """The shard's context; ``parameters``: the job's parsed sharding item parameters, if at hand."""
    job, app, task_id = placement.job, placement.app, placement.task_id
    if parameters is None:
        parameters = job.sharding_parameters
    return ShardingContext(
        task_id=str(task_id),
        job_name=job.job_name,
        sharding_item=task_id.item,
        sharding_total_count=job.sharding_total_count,
        sharding_item_parameter=parameters.get(task_id.item, ""),
        job_parameter=job.job_parameter,
        execution_type=task_id.execution_type.value,
        job_execution_type=job.job_execution_type.value,
        cron=job.cron,
        misfire=job.misfire,
        failover=job.failover,
        job_executor_service_handler_type=job.job_executor_service_handler_type.value,
        job_error_handler_type=job.job_error_handler_type.value,
        props=job.props,
        bootstrap_script=app.bootstrap_script,
        event_trace_sampling_count=app.event_trace_sampling_count,
    )


def _executor_command(
    app: AppConfig, executor_command: str, extra_env: Mapping[str, str], executor_uri: str | None
) -> dict[str, Any]:
    archive = is_archive(app.app_url)
    variables = [{"name": "ELASTICJOB_APP_NAME", "value": app.app_name}]
    if not app.app_cache_enable:
        variables.append({"name": "ELASTICJOB_EXECUTOR_EXIT_WHEN_IDLE", "value": "true"})
    variables += [{"name": name, "value": value} for name, value in sorted(extra_env.items())]
    uris: list[dict[str, Any]] = [
        {
            "value": app.app_url,
            "cache": app.app_cache_enable,
            "extract": archive,
            "executable": not archive,
        }
    ]
    if executor_uri is not None:
        uris.append(_executor_uri(executor_uri))
    return {
        "value": executor_command,
        "shell": True,
        "uris": uris,
        "environment": {"variables": variables},
    }


VERSION_LENGTH = 10
"""Hex digits of an executor version (40 bits: a collision between two versions of one app is
not a practical concern)."""


def executor_version(
    app: AppConfig,
    executor_command: str,
    extra_env: Mapping[str, str],
    executor_uri: str | None = None,
) -> str:
    """A digest of everything :func:`executor_info` puts in the app's ExecutorInfo that does not
    depend on the offer (its command, fetched URIs, environment, resources): equal for equal
    ExecutorInfos, the same on every scheduler with the same settings."""
    document = {
        "name": _executor_name(app),
        "command": _executor_command(app, executor_command, extra_env, executor_uri),
        "resources": [round(app.cpu_count, 6), round(app.memory_mb, 6)],
    }
    digest = hashlib.sha256(orjson.dumps(document, option=_DATA_OPTIONS)).hexdigest()
    return digest[:VERSION_LENGTH]


class ExecutorVersions:
    """The executor version of each app under these settings, computed once per app value."""

    __slots__ = ("_settings", "_versions")

    def __init__(self, settings: CoreSettings) -> None:
        self._settings = settings
        self._versions: dict[str, tuple[AppConfig, str]] = {}

    def of(self, app: AppConfig) -> str:
        known = self._versions.get(app.app_name)
        if known is not None and (known[0] is app or known[0] == app):
            return known[1]
        settings = self._settings
        version = executor_version(
            app, settings.executor_command, settings.executor_environment, settings.executor_uri
        )
        self._versions[app.app_name] = (app, version)
        return version


def _executor_name(app: AppConfig) -> str:
    return f"elasticjob executor for {app.app_name}"


def executor_info(
    app: AppConfig,
    offer: Offer,
    framework_id: str,
    executor_command: str,
    extra_env: Mapping[str, str],
    executor: str | None = None,
    executor_uri: str | None = None,
) -> dict[str, Any]:
    """The app's ExecutorInfo on the offer's agent (``executor``: its id; by default the app's
    unversioned id there).

    ``executor_uri``: where the agent's fetcher gets the executor from (cached, neither extracted
    nor made executable), listed after the app's URI; ``executor_command`` is expected to run it."""
    return {
        "executor_id": {"value": executor or executor_id(app.app_name, offer.agent_id)},
        "framework_id": {"value": framework_id},
        "type": "CUSTOM",
        "name": _executor_name(app),
        "command": _executor_command(app, executor_command, extra_env, executor_uri),
        "resources": [_scalar("cpus", app.cpu_count, offer), _scalar("mem", app.memory_mb, offer)],
    }


def task_info(
    placement: Placement,
    offer: Offer,
    framework_id: str,
    executor_command: str,
    extra_env: Mapping[str, str] | None = None,
    *,
    executor: dict[str, Any] | None = None,
    parameters: Mapping[int, str] | None = None,
    executor_uri: str | None = None,
) -> dict[str, Any]:
    """The TaskInfo of one placement. ``executor``: its ExecutorInfo when already built (the same
    for every task of the executor); ``parameters``: the job's parsed sharding item parameters;
    ``executor_uri``: as for :func:`executor_info`."""
    if executor is None:
        executor = executor_info(
            placement.app,
            offer,
            framework_id,
            executor_command,
            extra_env or {},
            placement.executor_id,
            executor_uri,
        )
    context = sharding_context(placement, parameters)
    document = context.to_json_document()
    document["environment"] = context.environment()
    return {
        "name": str(placement.task_id.shard),
        "task_id": {"value": str(placement.task_id)},
        "agent_id": {"value": offer.agent_id},
        "resources": [
            _scalar("cpus", placement.job.cpu_count, offer),
            _scalar("mem", placement.job.memory_mb, offer),
        ],
        "executor": executor,
        "data": base64.b64encode(orjson.dumps(document, option=_DATA_OPTIONS)).decode("ascii"),
        "labels": {
            "labels": [
                {"key": "elasticjob.job", "value": placement.job.job_name},
                {"key": "elasticjob.item", "value": str(placement.task_id.item)},
            ]
        },
    }


def launch_operations(
    placements: list[Placement],
    offer: Offer,
    framework_id: str,
    executor_command: str,
    extra_env: Mapping[str, str] | None = None,
    *,
    executor_uri: str | None = None,
) -> list[dict[str, Any]]:
    """One LAUNCH operation per shard, each executor's ExecutorInfo built once."""
    executors: dict[str, dict[str, Any]] = {}
    parameters: dict[str, Mapping[int, str]] = {}
    operations: list[dict[str, Any]] = []
    for placement in placements:
        executor = executors.get(placement.executor_id)
        if executor is None:
            executor = executors[placement.executor_id] = executor_info(
                placement.app,
                offer,
                framework_id,
                executor_command,
                extra_env or {},
                placement.executor_id,
                executor_uri,
            )
        job_parameters = parameters.get(placement.job.job_name)
        if job_parameters is None:
            job_parameters = parameters[placement.job.job_name] = placement.job.sharding_parameters
        task = task_info(
            placement,
            offer,
            framework_id,
            executor_command,
            extra_env,
            executor=executor,
            parameters=job_parameters,
        )
        operations.append({"type": "LAUNCH", "launch": {"task_infos": [task]}})
    return operations
