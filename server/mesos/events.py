"""Building and encoding the events of the Mesos v1 scheduler and executor APIs.

Events go out on a ``SUBSCRIBE`` response as RecordIO records of compact UTF-8 JSON
(Scheduler HTTP API, "Events"; Executor HTTP API, "Events"). The builders return the decoded
JSON object; :func:`encode_event` frames one for the stream.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from server.mesos.recordio import encode_record
from server.mesos.values import JsonObject

__all__ = [
    "HEARTBEAT",
    "SHUTDOWN",
    "acknowledged_event",
    "encode_event",
    "error_event",
    "executor_message_event",
    "executor_subscribed_event",
    "failure_event",
    "kill_event",
    "launch_event",
    "master_info",
    "message_event",
    "offer_json",
    "offers_event",
    "rescind_event",
    "subscribed_event",
    "update_event",
]

#: The ``HEARTBEAT`` event (both APIs).
HEARTBEAT: Mapping[str, Any] = {"type": "HEARTBEAT"}
#: The executor API's ``SHUTDOWN`` event.
SHUTDOWN: Mapping[str, Any] = {"type": "SHUTDOWN"}


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One event as a RecordIO record of compact UTF-8 JSON."""
    return encode_record(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def master_info(*, master_id: str, host: str, port: int, version: str | None = None) -> JsonObject:
    """``MasterInfo`` of a master listening on ``host`` (an IPv4 address or a name) and ``port``.

    ``ip`` is the IPv4 address packed in network byte order and read as a little-endian ``uint32``
    (as the master fills it in), 0 when ``host`` is not an IPv4 address.
    """
    try:
        packed = struct.unpack("<I", socket.inet_aton(host))[0]
    except OSError:
        packed = 0
    info: JsonObject = {"id": master_id, "ip": packed, "port": port, "hostname": host}
    if version is not None:
        info["version"] = version
    info["address"] = {"hostname": host, "ip": host, "port": port}
    return info


def subscribed_event(framework_id: str, heartbeat_interval: float, master: JsonObject) -> JsonObject:
    """``SUBSCRIBED``: the framework's id, the heartbeat interval in seconds and ``MasterInfo``."""
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": framework_id},
            "heartbeat_interval_seconds": heartbeat_interval,
            "master_info": master,
        },
    }


def offer_json(
    *,
    offer_id: str,
    framework_id: str,
    agent_id: str,
    hostname: str,
    agent_ip: str,
    agent_port: int,
    resources: list[JsonObject],
    attributes: Mapping[str, str] | None = None,
    executor_ids: Iterable[str] = (),
    allocation_role: str | None = None,
) -> JsonObject:
    """An ``Offer`` of an agent's ``resources`` (``Resource`` JSON); ``attributes`` are TEXT
    attributes; ``allocation_role`` sets ``allocation_info`` (MULTI_ROLE frameworks)."""
    body: JsonObject = {
        "id": {"value": offer_id},
        "framework_id": {"value": framework_id},
        "agent_id": {"value": agent_id},
        "hostname": hostname,
        "url": {
            "scheme": "http",
            "address": {"hostname": hostname, "ip": agent_ip, "port": agent_port},
            "path": "/slave(1)",
        },
        "resources": resources,
        "attributes": [
            {"name": name, "type": "TEXT", "text": {"value": value}}
            for name, value in (attributes or {}).items()
        ],
        "executor_ids": [{"value": executor_id} for executor_id in executor_ids],
    }
    if allocation_role is not None:
        body["allocation_info"] = {"role": allocation_role}
    return body


def offers_event(offers: Iterable[JsonObject]) -> JsonObject:
    """``OFFERS``."""
    return {"type": "OFFERS", "offers": {"offers": list(offers)}}


def rescind_event(offer_id: str) -> JsonObject:
    """``RESCIND``: the offer is no longer valid."""
    return {"type": "RESCIND", "rescind": {"offer_id": {"value": offer_id}}}


def update_event(status: JsonObject) -> JsonObject:
    """``UPDATE`` carrying a ``TaskStatus``."""
    return {"type": "UPDATE", "update": {"status": status}}


def message_event(agent_id: str, executor_id: str, data: str) -> JsonObject:
    """``MESSAGE`` from an executor to its framework (``data`` base64)."""
    return {
        "type": "MESSAGE",
        "message": {
            "agent_id": {"value": agent_id},
            "executor_id": {"value": executor_id},
            "data": data,
        },
    }


def failure_event(
    *, agent_id: str | None = None, executor_id: str | None = None, status: int | None = None
) -> JsonObject:
    """``FAILURE``: an agent is gone, or (with ``executor_id``) an executor ended with the
    ``waitpid`` ``status``."""
    failure: JsonObject = {}
    if agent_id is not None:
        failure["agent_id"] = {"value": agent_id}
    if executor_id is not None:
        failure["executor_id"] = {"value": executor_id}
    if status is not None:
        failure["status"] = status
    return {"type": "FAILURE", "failure": failure}


def error_event(message: str) -> JsonObject:
    """``ERROR``: the master refuses the subscription (the stream ends after it)."""
    return {"type": "ERROR", "error": {"message": message}}


def executor_subscribed_event(
    *, executor_info: JsonObject, framework_info: JsonObject, agent_info: JsonObject, container_id: str
) -> JsonObject:
    """The executor API's ``SUBSCRIBED``."""
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "executor_info": executor_info,
            "framework_info": framework_info,
            "agent_info": agent_info,
            "container_id": {"value": container_id},
        },
    }


def launch_event(task: JsonObject) -> JsonObject:
    """``LAUNCH`` of one ``TaskInfo``."""
    return {"type": "LAUNCH", "launch": {"task": task}}


def kill_event(task_id: str, kill_policy: JsonObject | None = None) -> JsonObject:
    """``KILL``, with the ``KillPolicy`` of the scheduler's KILL call when it had one."""
    kill: JsonObject = {"task_id": {"value": task_id}}
    if kill_policy:
        kill["kill_policy"] = kill_policy
    return {"type": "KILL", "kill": kill}


def acknowledged_event(task_id: str, uuid: str) -> JsonObject:
    """``ACKNOWLEDGED``: the agent has recorded the update ``uuid`` of the task."""
    return {"type": "ACKNOWLEDGED", "acknowledged": {"task_id": {"value": task_id}, "uuid": uuid}}


def executor_message_event(data: str) -> JsonObject:
    """The executor API's ``MESSAGE`` from the framework (``data`` base64)."""
    return {"type": "MESSAGE", "message": {"data": data}}
