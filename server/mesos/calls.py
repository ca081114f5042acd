"""The calls of the Mesos v1 scheduler and executor APIs: their types and what is refused.

A call is ``POST``ed as a JSON ``Call`` object. Before acting on one, a master (or an agent) answers
malformed calls with an HTTP error and a plain-text reason; the functions here decide that from
the call alone and return the :class:`Refusal` (status and text), or ``None`` when the call may
proceed. The order of the checks is the master's (``src/master/http.cpp``, ``Master::Http::scheduler``;
``src/slave/http.cpp``, ``Http::executor``):

1. :func:`envelope_refusal`: ``405`` for a method other than ``POST``, ``400`` without
   ``Content-Type``, ``415`` for anything but exactly ``application/json`` (Mesos compares the
   string; protobuf bodies are not supported here).
2. :func:`decode_call`: ``400`` for a body that is not a JSON object.
3. :func:`scheduler_call_refusal` / :func:`executor_call_refusal`: ``400`` for a missing or unknown
   ``type``, ``501`` for ``UNKNOWN``; then what converting the JSON to the ``Call`` proto
   (required fields) and ``validation::scheduler::call::validate`` refuse, ``400``
   "Failed to validate scheduler::Call: ...".

What depends on the receiver's state (unknown framework, stream ids, subscription) comes after.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import orjson

from server.mesos.launch import operation_tasks
from server.mesos.states import ALL_STATES
from server.mesos.values import JsonObject, id_problem, id_value, is_base64, is_id

__all__ = [
    "APPLICATION_JSON",
    "EXECUTOR_CALL_TYPES",
    "PAYLOAD_REQUIRED",
    "SCHEDULER_CALL_TYPES",
    "UUID_BYTES",
    "Refusal",
    "accepts_json",
    "decode_call",
    "envelope_refusal",
    "executor_call_refusal",
    "executor_message_refusal",
    "executor_update_status",
    "framework_info_problem",
    "refuse_seconds",
    "scheduler_call_refusal",
]

APPLICATION_JSON = "application/json"

#: ``mesos.v1.scheduler.Call.Type`` names.
SCHEDULER_CALL_TYPES = frozenset(
    {
        "UNKNOWN",
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
    }
)

#: Scheduler calls whose payload (the field named after the type in lower case) is required
#: (``validation::scheduler::call::validate`` in Mesos' ``src/master/validation.cpp``).
PAYLOAD_REQUIRED = frozenset(
    {
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "UPDATE_FRAMEWORK",
    }
)

#: Bytes in a status update uuid (``id::UUID::fromBytes`` refuses any other length).
UUID_BYTES = 16

#: ``mesos.v1.executor.Call.Type`` names.
EXECUTOR_CALL_TYPES = frozenset({"UNKNOWN", "SUBSCRIBE", "UPDATE", "MESSAGE", "HEARTBEAT"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call answered with an HTTP error instead of being accepted: status, plain-text reason,
    and headers the answer carries (``Allow`` with a ``405``)."""

    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)


def envelope_refusal(method: str, content_type: str | None) -> Refusal | None:
    """What the request line and ``Content-Type`` header alone refuse."""
    if method != "POST":
        return Refusal(405, f"Expecting one of {{ 'POST' }}, but received '{method}'", {"Allow": "POST"})
    if content_type is None:
        return Refusal(400, "Expecting 'Content-Type' to be present")
    if content_type != APPLICATION_JSON:
        return Refusal(
            415, f"Expecting 'Content-Type' of {APPLICATION_JSON} (this cluster does not speak protobuf)"
        )
    return None


def decode_call(raw: bytes) -> JsonObject | Refusal:
    """The body as a JSON object, or the ``400`` for one that is not."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Refusal(400, f"Failed to parse body into JSON: {exc}")
    if not isinstance(body, dict):
        return Refusal(400, "Failed to convert JSON into Call protobuf: expecting a JSON object")
    return body


def accepts_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header admits a JSON stream (absent means anything)."""
    accept = "*/*" if accept is None else accept
    return any(kind in accept for kind in (APPLICATION_JSON, "*/*", "application/*"))


def _type_refusal(call: JsonObject, call_types: Collection[str]) -> Refusal | None:
    call_type = call.get("type")
    if not isinstance(call_type, str) or call_type not in call_types:
        return Refusal(
            400, f"Failed to convert JSON into Call protobuf: unknown or missing type {call_type!r}"
        )
    if call_type == "UNKNOWN":
        return Refusal(501, "Received 'UNKNOWN' call")
    return None


def scheduler_call_refusal(call: JsonObject) -> Refusal | None:
    """What a master refuses in a decoded scheduler call before looking at its own state."""
    refusal = _type_refusal(call, SCHEDULER_CALL_TYPES)
    if refusal is not None:
        return refusal
    problem = _scheduler_call_problem(call)
    if problem is not None:
        return Refusal(400, f"Failed to validate scheduler::Call: {problem}")
    return None


def _scheduler_call_problem(call: JsonObject) -> str | None:
    call_type = call["type"]
    if call_type == "SUBSCRIBE":
        return _subscribe_problem(call)
    if not is_id(call.get("framework_id")):
        return "Expecting 'framework_id' to be present"
    name = call_type.lower()
    payload = call.get(name)
    if payload is None:
        return f"Expecting '{name}' to be present" if call_type in PAYLOAD_REQUIRED else None
    if not isinstance(payload, dict):
        return f"'{name}' must be an object"
    if call_type in ("ACCEPT", "DECLINE"):
        offer_ids = payload.get("offer_ids", [])
        if not isinstance(offer_ids, list) or not all(is_id(item) for item in offer_ids):
            return f"'{name}.offer_ids' must be a list of ids"
    if call_type == "ACCEPT":
        return _accept_problem(payload)
    if call_type == "KILL":
        if not is_id(payload.get("task_id")) or ("agent_id" in payload and not is_id(payload["agent_id"])):
            return "Expecting 'kill.task_id' to be present"
    elif call_type == "SHUTDOWN":
        if not (is_id(payload.get("executor_id")) and is_id(payload.get("agent_id"))):
            return "Expecting 'shutdown.executor_id' and 'shutdown.agent_id' to be present"
    elif call_type == "ACKNOWLEDGE":
        if not (is_id(payload.get("agent_id")) and is_id(payload.get("task_id"))):
            return "Expecting 'acknowledge.agent_id' and 'acknowledge.task_id' to be present"
        if not is_base64(payload.get("uuid")):
            return "Expecting 'acknowledge.uuid' to be present (base64 bytes)"
        if not _is_uuid(payload["uuid"]):
            return f"'acknowledge.uuid' is not a valid UUID: expecting {UUID_BYTES} bytes"
    elif call_type == "ACKNOWLEDGE_OPERATION_STATUS":
        if not (is_base64(payload.get("uuid")) and _is_uuid(payload["uuid"])):
            return f"'acknowledge_operation_status.uuid' is not a valid UUID: expecting {UUID_BYTES} bytes"
    elif call_type == "UPDATE_FRAMEWORK":
        if not isinstance(payload.get("framework_info"), dict):
            return "Expecting 'update_framework.framework_info' to be present"
    elif call_type == "RECONCILE":
        tasks = payload.get("tasks", [])
        if not isinstance(tasks, list) or not all(
            isinstance(task, dict)
            and is_id(task.get("task_id"))
            and ("agent_id" not in task or is_id(task["agent_id"]))
            for task in tasks
        ):
            return "Expecting 'reconcile.tasks.task_id' to be present"
    elif call_type == "MESSAGE":
        if not (is_id(payload.get("agent_id")) and is_id(payload.get("executor_id"))):
            return "Expecting 'message.agent_id' and 'message.executor_id' to be present"
        if not is_base64(payload.get("data")):
            return "Expecting 'message.data' to be present (base64 bytes)"
    elif call_type in ("REVIVE", "SUPPRESS"):
        roles = payload.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            return f"'{name}.roles' must be a list of strings"
    return None


def _is_uuid(text: str) -> bool:
    return len(base64.b64decode(text, validate=True)) == UUID_BYTES


def _subscribe_problem(call: JsonObject) -> str | None:
    subscribe = call.get("subscribe")
    info = subscribe.get("framework_info") if isinstance(subscribe, dict) else None
    if not isinstance(info, dict):
        return "Expecting 'subscribe.framework_info' to be present"
    for required in ("user", "name"):
        if not isinstance(info.get(required), str):
            return f"Expecting 'subscribe.framework_info.{required}' to be present"
    if "id" in info and not is_id(info["id"]):
        return "'subscribe.framework_info.id' must be {\"value\": ...}"
    if "framework_id" in call and not is_id(call["framework_id"]):
        return "'framework_id' must be {\"value\": ...}"
    if id_value(info.get("id")) != id_value(call.get("framework_id")):
        return "'framework_id' differs from 'subscribe.framework_info.id'"
    return None


def _accept_problem(accept: JsonObject) -> str | None:
    operations = accept.get("operations", [])
    if not isinstance(operations, list):
        return "'accept.operations' must be a list"
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("type"), str):
            return "Expecting 'accept.operations.type' to be present"
        for task in operation_tasks(operation):
            if not isinstance(task.get("name"), str):
                return "Expecting 'task_infos.name' to be present"
            for required in ("task_id", "agent_id"):
                if not is_id(task.get(required)):
                    return f"Expecting 'task_infos.{required}' to be present"
            for resource in task.get("resources") or []:
                if not (
                    isinstance(resource, dict)
                    and isinstance(resource.get("name"), str)
                    and "type" in resource
                ):
                    return "Expecting 'task_infos.resources.name' and 'type' to be present"
    return None


def refuse_seconds(payload: JsonObject) -> float | None:
    """``filters.refuse_seconds`` of an ACCEPT or DECLINE payload, ``None`` when not given."""
    filters = payload.get("filters")
    value = filters.get("refuse_seconds") if isinstance(filters, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def framework_info_problem(info: JsonObject) -> str | None:
    """What ``validation::framework::validate`` refuses in a ``FrameworkInfo`` (on SUBSCRIBE the
    master answers with an ``ERROR`` event, on UPDATE_FRAMEWORK with ``400``)."""
    framework_id = id_value(info.get("id"))
    if framework_id is not None:
        problem = id_problem(framework_id)
        if problem is not None:
            return f"Invalid framework id: {problem}"
    capabilities = {item.get("type") for item in info.get("capabilities") or [] if isinstance(item, dict)}
    if "MULTI_ROLE" in capabilities:
        if "role" in info:
            return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
        roles = info.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(role, str) and role for role in roles):
            return "'FrameworkInfo.roles' must be a list of role names"
    elif "roles" in info:
        return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
    return None


def executor_call_refusal(call: JsonObject) -> Refusal | None:
    """What an agent refuses in a decoded executor call before looking at its own state: the
    type, then (for anything but ``HEARTBEAT``) the ``framework_id`` and ``executor_id``."""
    refusal = _type_refusal(call, EXECUTOR_CALL_TYPES)
    if refusal is not None:
        return refusal
    if call["type"] == "HEARTBEAT":
        return None
    if id_value(call.get("framework_id")) is None:
        return Refusal(400, "Expecting 'framework_id' to be present")
    if id_value(call.get("executor_id")) is None:
        return Refusal(400, "Expecting 'executor_id' to be present")
    return None


def executor_update_status(call: JsonObject) -> JsonObject | Refusal:
    """The ``TaskStatus`` of an executor's ``UPDATE``, or the ``400`` for what
    ``validation::executor::call::validate`` refuses in it."""
    executor_id = id_value(call.get("executor_id"))
    update = call.get("update")
    status = update.get("status") if isinstance(update, dict) else None
    if not isinstance(status, dict):
        return Refusal(400, "Expecting 'update.status' to be present")
    if id_value(status.get("task_id")) is None:
        return Refusal(400, "Expecting 'update.status.task_id' to be present")
    state = status.get("state")
    if state not in ALL_STATES:
        return Refusal(400, f"Expecting 'update.status.state' to be a task state, got {state!r}")
    if not is_base64(status.get("uuid")):
        return Refusal(400, "Expecting 'uuid' to be present (base64 bytes)")
    status_executor = status.get("executor_id")
    if status_executor is not None and id_value(status_executor) != executor_id:
        return Refusal(
            400,
            f"ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus: {id_value(status_executor)}",
        )
    if status.get("source") != "SOURCE_EXECUTOR":
        return Refusal(
            400, f"Received Call from executor {executor_id} with invalid source, expecting 'SOURCE_EXECUTOR'"
        )
    if state == "TASK_STAGING":
        return Refusal(400, f"Received TASK_STAGING from executor {executor_id} which is not allowed")
    return status


def executor_message_refusal(call: JsonObject) -> Refusal | None:
    """What is refused in an executor's ``MESSAGE``: its ``data`` must be base64 bytes."""
    message = call.get("message")
    data = message.get("data") if isinstance(message, dict) else None
    if not is_base64(data):
        return Refusal(400, "Expecting 'message.data' to be present (base64 bytes)")
    return None
