"""The ledger of status updates the executor keeps until the agent acknowledges them."""

from __future__ import annotations

import base64

from server.executor.updates import UpdateLedger
from server.mesos.status import task_status


def status(task_id: str, state: str, message: str | None = None) -> dict[str, object]:
    """A status as the executor makes it (``ExecutorConnection.send_update``)."""
    return task_status(
        task_id,
        state,
        source="SOURCE_EXECUTOR",
        executor_id="app@-@agent",
        message=message,
        reliable=True,
        timestamp=12.5,
    )


def test_a_status_carries_a_fresh_16_byte_uuid_and_names_the_executor() -> None:
    first, second = status("t1", "TASK_RUNNING", "BEGIN"), status("t1", "TASK_RUNNING")
    assert first == {
        "task_id": {"value": "t1"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "executor_id": {"value": "app@-@agent"},
        "uuid": first["uuid"],
        "timestamp": 12.5,
        "message": "BEGIN",
    }
    assert "message" not in second
    assert len(base64.b64decode(str(first["uuid"]), validate=True)) == 16
    assert first["uuid"] != second["uuid"]


def test_updates_stay_until_acknowledged_in_the_order_they_were_made() -> None:
    ledger = UpdateLedger()
    made = [ledger.add(status("t1", state)) for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")]
    assert [u.uuid for u in ledger.unacknowledged_updates()] == [u.uuid for u in made]
    assert ledger.acknowledge("t1", made[1].uuid) == made[1]
    assert [u.state for u in ledger.unacknowledged_updates()] == ["TASK_STARTING", "TASK_FINISHED"]
    assert ledger.acknowledge("t1", made[1].uuid) is None, "a repeated ACK changes nothing"
    assert ledger.acknowledge("other-task", made[0].uuid) is None, "an ACK must name the update's task"
    assert len(ledger) == 2


def test_a_task_is_unacknowledged_until_any_of_its_updates_is() -> None:
    ledger = UpdateLedger()
    for task_id in ("t1", "t2"):
        ledger.add_task({"task_id": {"value": task_id}, "name": task_id})
    starting = ledger.add(status("t1", "TASK_STARTING"))
    ledger.add(status("t1", "TASK_RUNNING"))
    ledger.add(status("t2", "TASK_STARTING"))
    assert [t["task_id"]["value"] for t in ledger.unacknowledged_tasks()] == ["t1", "t2"]
    ledger.acknowledge("t1", starting.uuid)
    assert [t["task_id"]["value"] for t in ledger.unacknowledged_tasks()] == ["t2"]


def test_the_subscribe_body_lists_tasks_and_updates_as_the_proto_says() -> None:
    ledger = UpdateLedger()
    assert ledger.subscribe_body() == {"unacknowledged_tasks": [], "unacknowledged_updates": []}
    info = {"task_id": {"value": "t1"}, "name": "t1", "data": "e30="}
    ledger.add_task(info)
    update = ledger.add(status("t1", "TASK_STARTING"))
    assert ledger.subscribe_body() == {
        "unacknowledged_tasks": [info],
        "unacknowledged_updates": [{"status": update.status}],
    }
