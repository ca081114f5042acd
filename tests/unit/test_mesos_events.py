"""TaskStatus and event building, and the RecordIO encoding of events (Scheduler HTTP API,
"Events" and "RecordIO response format"; Executor HTTP API, "Events"; ``TaskStatus`` in
``include/mesos/v1/mesos.proto``)."""

from __future__ import annotations

import base64
import json

from server.mesos.events import (
    HEARTBEAT,
    acknowledged_event,
    encode_event,
    error_event,
    failure_event,
    kill_event,
    master_info,
    message_event,
    offer_json,
    subscribed_event,
    update_event,
)
from server.mesos.recordio import RecordIOParser
from server.mesos.status import task_status


def test_a_reliable_status_carries_a_fresh_uuid_and_an_unreliable_one_none() -> None:
    """An update with a uuid is resent until acknowledged; one without must not be acknowledged."""
    reliable = task_status("t", "TASK_RUNNING", source="SOURCE_AGENT", reliable=True)
    again = task_status("t", "TASK_RUNNING", source="SOURCE_AGENT", reliable=True)
    unreliable = task_status("t", "TASK_LOST", source="SOURCE_MASTER")
    assert len(base64.b64decode(reliable["uuid"], validate=True)) == 16
    assert reliable["uuid"] != again["uuid"]
    assert "uuid" not in unreliable


def test_a_status_has_only_the_fields_given() -> None:
    status = task_status(
        "t",
        "TASK_FAILED",
        source="SOURCE_EXECUTOR",
        agent_id="a",
        executor_id="e",
        reason="REASON_COMMAND_EXECUTOR_FAILED",
        message="exited with status 1",
        data=b"\x00\x01",
        timestamp=12.5,
    )
    assert status == {
        "task_id": {"value": "t"},
        "state": "TASK_FAILED",
        "source": "SOURCE_EXECUTOR",
        "timestamp": 12.5,
        "agent_id": {"value": "a"},
        "executor_id": {"value": "e"},
        "reason": "REASON_COMMAND_EXECUTOR_FAILED",
        "message": "exited with status 1",
        "data": "AAE=",
    }
    bare = task_status("t", "TASK_STAGING", source="SOURCE_MASTER")
    assert set(bare) == {"task_id", "state", "source", "timestamp"}
    assert isinstance(bare["timestamp"], float)


def test_an_event_is_one_record_of_compact_utf8_json() -> None:
    """RecordIO: the size in bytes (not characters), a newline, the JSON, no separator after."""
    event = error_event("Fehler: Überlauf")
    encoded = encode_event(event)
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert encoded == b"%d\n%s" % (len(payload), payload)
    parser = RecordIOParser()
    parser.feed(encoded + encode_event(HEARTBEAT))
    assert json.loads(parser.next_record() or b"") == event
    assert json.loads(parser.next_record() or b"") == {"type": "HEARTBEAT"}
    assert parser.next_record() is None


def test_subscribed_names_the_framework_the_interval_and_the_master() -> None:
    info = master_info(master_id="m", host="127.0.0.1", port=5050, version="1.11.0")
    assert info == {
        "id": "m",
        "ip": 16777343,  # 127.0.0.1 in network byte order, read as a little-endian uint32
        "port": 5050,
        "hostname": "127.0.0.1",
        "version": "1.11.0",
        "address": {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": 5050},
    }
    assert master_info(master_id="m", host="master.example", port=1)["ip"] == 0
    assert subscribed_event("fw", 15.0, info) == {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": "fw"},
            "heartbeat_interval_seconds": 15.0,
            "master_info": info,
        },
    }


def test_an_offer_carries_allocation_info_only_for_a_role() -> None:
    fields = {
        "offer_id": "o",
        "framework_id": "fw",
        "agent_id": "a",
        "hostname": "h",
        "agent_ip": "127.0.0.1",
        "agent_port": 5051,
        "resources": [],
    }
    plain = offer_json(**fields)
    assert "allocation_info" not in plain
    assert plain["url"] == {
        "scheme": "http",
        "address": {"hostname": "h", "ip": "127.0.0.1", "port": 5051},
        "path": "/slave(1)",
    }
    multi_role = offer_json(**fields, allocation_role="jobs", attributes={"rack": "r1"}, executor_ids=["e"])
    assert multi_role["allocation_info"] == {"role": "jobs"}
    assert multi_role["attributes"] == [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}]
    assert multi_role["executor_ids"] == [{"value": "e"}]


def test_event_shapes_follow_the_protos() -> None:
    status = task_status("t", "TASK_RUNNING", source="SOURCE_EXECUTOR")
    assert update_event(status) == {"type": "UPDATE", "update": {"status": status}}
    assert failure_event(agent_id="a", executor_id="e", status=256) == {
        "type": "FAILURE",
        "failure": {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}, "status": 256},
    }
    assert failure_event(agent_id="a") == {"type": "FAILURE", "failure": {"agent_id": {"value": "a"}}}
    assert message_event("a", "e", "ZGF0YQ==")["message"]["data"] == "ZGF0YQ=="
    assert kill_event("t") == {"type": "KILL", "kill": {"task_id": {"value": "t"}}}
    policy = {"grace_period": {"nanoseconds": 1}}
    assert kill_event("t", policy)["kill"]["kill_policy"] == policy
    assert acknowledged_event("t", "dXVpZA==") == {
        "type": "ACKNOWLEDGED",
        "acknowledged": {"task_id": {"value": "t"}, "uuid": "dXVpZA=="},
    }
