"""What a master and an agent refuse in a v1 API call before looking at their own state
(Scheduler HTTP API, "Calls" and "Call validation"; Executor HTTP API, "Calls"; ``src/master/http.cpp``
and ``validation::scheduler::call::validate``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from server.mesos.calls import (
    SCHEDULER_CALL_TYPES,
    Refusal,
    accepts_json,
    decode_call,
    envelope_refusal,
    executor_call_refusal,
    executor_message_refusal,
    executor_update_status,
    framework_info_problem,
    refuse_seconds,
    scheduler_call_refusal,
)

FRAMEWORK = {"value": "fw"}
SUBSCRIBE = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}


def _task(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": "t",
        "task_id": {"value": "t"},
        "agent_id": {"value": "a"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
        "command": {"value": "true"},
    }
    task.update(overrides)
    return task


def _accept(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "ACCEPT",
        "framework_id": FRAMEWORK,
        "accept": {
            "offer_ids": [{"value": "o"}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
        },
    }


def _status(call: dict[str, Any]) -> int | None:
    refusal = scheduler_call_refusal(call)
    return None if refusal is None else refusal.status


def test_only_post_is_allowed() -> None:
    assert envelope_refusal("GET", "application/json") == Refusal(
        405, "Expecting one of { 'POST' }, but received 'GET'", {"Allow": "POST"}
    )


def test_content_type_must_be_exactly_json() -> None:
    """The master compares the string: a charset parameter is refused too."""
    missing = envelope_refusal("POST", None)
    assert missing is not None and missing.status == 400
    for other in ("text/plain", "application/json; charset=utf-8", "application/x-protobuf"):
        refused = envelope_refusal("POST", other)
        assert refused is not None and refused.status == 415
    assert envelope_refusal("POST", "application/json") is None


def test_a_body_must_be_a_json_object() -> None:
    for raw in (b"{nope", b"[1, 2]", b'"SUBSCRIBE"', b""):
        refused = decode_call(raw)
        assert isinstance(refused, Refusal) and refused.status == 400
    assert decode_call(b'{"type": "TEARDOWN"}') == {"type": "TEARDOWN"}


def test_accept_header_must_admit_json() -> None:
    assert accepts_json(None)
    assert accepts_json("application/json")
    assert accepts_json("*/*")
    assert accepts_json("application/*;q=0.5")
    assert not accepts_json("application/x-protobuf")


def test_unknown_types_are_400_and_unknown_itself_is_501() -> None:
    assert _status({"type": "LAUNCH_ROCKET", "framework_id": FRAMEWORK}) == 400
    assert _status({"framework_id": FRAMEWORK}) == 400
    assert _status({"type": 7}) == 400
    assert _status({"type": "UNKNOWN"}) == 501


def test_every_known_call_type_passes_the_type_check() -> None:
    for call_type in SCHEDULER_CALL_TYPES - {"UNKNOWN", "SUBSCRIBE"}:
        refusal = scheduler_call_refusal({"type": call_type})
        assert refusal is not None and "framework_id" in refusal.text


def test_subscribe_needs_user_and_name_and_a_consistent_id() -> None:
    assert _status(SUBSCRIBE) is None
    assert _status({"type": "SUBSCRIBE"}) == 400
    assert _status({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "n"}}}) == 400
    assert _status({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u"}}}) == 400
    info = {"user": "u", "name": "n", "id": {"value": "b"}}
    mismatched = {"type": "SUBSCRIBE", "framework_id": {"value": "a"}, "subscribe": {"framework_info": info}}
    refusal = scheduler_call_refusal(mismatched)
    assert refusal == Refusal(
        400, "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"
    )
    resubscribe = {"type": "SUBSCRIBE", "framework_id": {"value": "b"}, "subscribe": {"framework_info": info}}
    assert _status(resubscribe) is None
    assert _status({**SUBSCRIBE, "framework_id": "b"}) == 400


def test_other_calls_need_the_framework_id() -> None:
    assert _status({"type": "REVIVE"}) == 400
    assert _status({"type": "REVIVE", "framework_id": "fw"}) == 400
    assert _status({"type": "REVIVE", "framework_id": FRAMEWORK}) is None
    assert _status({"type": "TEARDOWN", "framework_id": FRAMEWORK}) is None


@pytest.mark.parametrize(
    "call_type", ["ACCEPT", "DECLINE", "KILL", "SHUTDOWN", "ACKNOWLEDGE", "RECONCILE", "MESSAGE"]
)
def test_calls_with_a_required_payload_are_refused_without_it(call_type: str) -> None:
    refusal = scheduler_call_refusal({"type": call_type, "framework_id": FRAMEWORK})
    assert refusal is not None and refusal.status == 400
    assert f"'{call_type.lower()}'" in refusal.text


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    assert _status({"type": "REVIVE", "framework_id": FRAMEWORK, "revive": "all"}) == 400
    assert _status({"type": "SUPPRESS", "framework_id": FRAMEWORK, "suppress": {"roles": "*"}}) == 400
    assert _status({"type": "SUPPRESS", "framework_id": FRAMEWORK, "suppress": {"roles": ["*"]}}) is None


def test_accept_tasks_need_their_required_fields() -> None:
    """``TaskInfo.name``, ``task_id``, ``agent_id`` and ``Resource.name`` / ``type`` are required."""
    assert _status(_accept(_task())) is None
    assert _status(_accept(_task(name=None))) == 400
    assert _status(_accept(_task(task_id="t"))) == 400
    assert _status(_accept(_task(agent_id=None))) == 400
    assert _status(_accept(_task(resources=[{"name": "cpus", "scalar": {"value": 1}}]))) == 400
    assert _status(_accept(_task(resources=["cpus"]))) == 400
    no_type = _accept()
    no_type["accept"]["operations"] = [{"launch": {}}]
    assert _status(no_type) == 400
    bad_offers = _accept()
    bad_offers["accept"]["offer_ids"] = ["o"]
    assert _status(bad_offers) == 400


def test_launch_group_tasks_are_checked_too() -> None:
    call = _accept()
    call["accept"]["operations"] = [
        {"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": [_task(agent_id=None)]}}}
    ]
    assert _status(call) == 400


def test_acknowledge_and_message_need_ids_and_base64() -> None:
    ack = {
        "agent_id": {"value": "a"},
        "task_id": {"value": "t"},
        "uuid": base64.b64encode(bytes(16)).decode(),
    }
    assert _status({"type": "ACKNOWLEDGE", "framework_id": FRAMEWORK, "acknowledge": ack}) is None
    for broken in (
        {**ack, "uuid": "not base64!"},
        {**ack, "task_id": None},
        {k: v for k, v in ack.items() if k != "uuid"},
    ):
        assert _status({"type": "ACKNOWLEDGE", "framework_id": FRAMEWORK, "acknowledge": broken}) == 400
    message = {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}, "data": "ZGF0YQ=="}
    assert _status({"type": "MESSAGE", "framework_id": FRAMEWORK, "message": message}) is None
    assert _status({"type": "MESSAGE", "framework_id": FRAMEWORK, "message": {**message, "data": "?"}}) == 400


def test_kill_shutdown_and_reconcile_need_their_ids() -> None:
    fid = {"framework_id": FRAMEWORK}
    assert _status({"type": "KILL", **fid, "kill": {"task_id": {"value": "t"}}}) is None
    assert _status({"type": "KILL", **fid, "kill": {"task_id": {"value": "t"}, "agent_id": "a"}}) == 400
    assert _status({"type": "SHUTDOWN", **fid, "shutdown": {"executor_id": {"value": "e"}}}) == 400
    assert _status({"type": "RECONCILE", **fid, "reconcile": {"tasks": []}}) is None
    assert (
        _status({"type": "RECONCILE", **fid, "reconcile": {"tasks": [{"task_id": {"value": "t"}}]}}) is None
    )
    assert (
        _status({"type": "RECONCILE", **fid, "reconcile": {"tasks": [{"agent_id": {"value": "a"}}]}}) == 400
    )
    stray = {"tasks": [{"task_id": {"value": "t"}, "agent_id": "a"}]}
    assert _status({"type": "RECONCILE", **fid, "reconcile": stray}) == 400


def test_refuse_seconds_is_read_from_the_filters() -> None:
    assert refuse_seconds({"filters": {"refuse_seconds": 30}}) == 30.0
    assert refuse_seconds({"filters": {}}) is None
    assert refuse_seconds({"filters": {"refuse_seconds": True}}) is None
    assert refuse_seconds({}) is None


def test_framework_info_roles_follow_the_multi_role_capability() -> None:
    """``validation::framework::validate``: ``roles`` only with MULTI_ROLE, ``role`` only without."""
    assert framework_info_problem({"user": "u", "name": "n", "role": "jobs"}) is None
    assert framework_info_problem({"roles": ["jobs"]}) is not None
    multi = {"capabilities": [{"type": "MULTI_ROLE"}]}
    assert framework_info_problem({**multi, "roles": ["jobs"]}) is None
    assert framework_info_problem({**multi, "role": "jobs"}) is not None
    assert framework_info_problem({**multi, "roles": [""]}) is not None
    assert framework_info_problem({"id": {"value": "a/b"}}) is not None


EXECUTOR = {"framework_id": FRAMEWORK, "executor_id": {"value": "e"}}


def _update(**status: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "task_id": {"value": "t"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "uuid": "dXVpZA==",
    }
    fields.update(status)
    return {"type": "UPDATE", **EXECUTOR, "update": {"status": fields}}


def test_executor_calls_need_both_ids_but_heartbeats_need_nothing() -> None:
    assert executor_call_refusal({"type": "HEARTBEAT"}) is None
    assert executor_call_refusal({"type": "SUBSCRIBE", **EXECUTOR}) is None
    missing_executor = executor_call_refusal({"type": "SUBSCRIBE", "framework_id": FRAMEWORK})
    assert missing_executor is not None and "executor_id" in missing_executor.text
    missing_framework = executor_call_refusal({"type": "SUBSCRIBE", "executor_id": {"value": "e"}})
    assert missing_framework is not None and "framework_id" in missing_framework.text
    assert executor_call_refusal({"type": "ACCEPT", **EXECUTOR}) == Refusal(
        400, "Failed to convert JSON into Call protobuf: unknown or missing type 'ACCEPT'"
    )
    unknown = executor_call_refusal({"type": "UNKNOWN"})
    assert unknown is not None and unknown.status == 501


def test_an_executor_update_is_its_status_when_valid() -> None:
    call = _update()
    assert executor_update_status(call) == call["update"]["status"]
    assert not isinstance(executor_update_status(_update(executor_id={"value": "e"})), Refusal)


@pytest.mark.parametrize(
    "broken",
    [
        {"task_id": None},
        {"state": "TASK_BORED"},
        {"uuid": None},
        {"uuid": "not base64!"},
        {"executor_id": {"value": "someone-else"}},
        {"source": "SOURCE_AGENT"},
        {"state": "TASK_STAGING"},
    ],
)
def test_an_executor_update_that_validation_refuses_is_400(broken: dict[str, Any]) -> None:
    """``validation::executor::call::validate``: a task id, a task state, a uuid, the caller's own
    executor id, ``SOURCE_EXECUTOR``, and never ``TASK_STAGING``."""
    refused = executor_update_status(_update(**broken))
    assert isinstance(refused, Refusal) and refused.status == 400


def test_an_update_without_status_is_400() -> None:
    refused = executor_update_status({"type": "UPDATE", **EXECUTOR})
    assert isinstance(refused, Refusal) and refused.status == 400


def test_an_executor_message_needs_base64_data() -> None:
    assert executor_message_refusal({"type": "MESSAGE", **EXECUTOR, "message": {"data": "ZGF0YQ=="}}) is None
    for message in ({"data": "?"}, {}, None):
        refused = executor_message_refusal({"type": "MESSAGE", **EXECUTOR, "message": message})
        assert refused is not None and refused.status == 400


def test_acknowledge_uuid_must_be_sixteen_bytes() -> None:
    """``validation::scheduler::call::validate`` (Mesos ``src/master/validation.cpp``) parses
    ``acknowledge.uuid`` with ``id::UUID::fromBytes``, which refuses anything but 16 bytes."""
    ack = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}}
    for size, expected in ((3, 400), (15, 400), (17, 400), (16, None)):
        uuid = base64.b64encode(bytes(size)).decode()
        call = {"type": "ACKNOWLEDGE", "framework_id": FRAMEWORK, "acknowledge": {**ack, "uuid": uuid}}
        assert _status(call) == expected, size
    refusal = scheduler_call_refusal(
        {"type": "ACKNOWLEDGE", "framework_id": FRAMEWORK, "acknowledge": {**ack, "uuid": "dXVpZA=="}}
    )
    assert refusal is not None and "acknowledge.uuid" in refusal.text


@pytest.mark.parametrize(
    "call_type",
    [
        "REQUEST",
        "UPDATE_FRAMEWORK",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE_OPERATIONS",
    ],
)
def test_calls_whose_payload_mesos_requires_are_refused_without_it(call_type: str) -> None:
    """Mesos ``src/master/validation.cpp``: each of these call types needs its payload field (the
    type in lower case); without it the master answers 400 naming the field."""
    refusal = scheduler_call_refusal({"type": call_type, "framework_id": FRAMEWORK})
    assert refusal is not None and refusal.status == 400
    assert f"'{call_type.lower()}'" in refusal.text


def test_request_with_requests_at_the_top_level_is_refused() -> None:
    """The ``requests`` list belongs inside ``request`` (``scheduler.proto`` Call.Request); at the
    top level it is an unknown field, so ``request`` is missing: 400."""
    call = {"type": "REQUEST", "framework_id": FRAMEWORK, "requests": [{"resources": []}]}
    assert _status(call) == 400
    assert _status({"type": "REQUEST", "framework_id": FRAMEWORK, "request": {"requests": []}}) is None


def test_update_framework_needs_its_framework_info() -> None:
    """Mesos ``src/master/validation.cpp``: UPDATE_FRAMEWORK carries ``update_framework.framework_info``."""
    call = {"type": "UPDATE_FRAMEWORK", "framework_id": FRAMEWORK, "update_framework": {}}
    assert _status(call) == 400
    call["update_framework"] = {"framework_info": {"user": "u", "name": "n", "id": FRAMEWORK}}
    assert _status(call) is None
