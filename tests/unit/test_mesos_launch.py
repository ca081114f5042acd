"""What a master refuses in the tasks of a LAUNCH with ``TASK_ERROR`` (Mesos'
``validation::task::internal::validateTask`` and ``validateExecutor``; Scheduler HTTP API, "ACCEPT")."""

from __future__ import annotations

from typing import Any

import pytest

from server.mesos.launch import command_problem, normalized_executor, operation_tasks, task_problem


def _command_task(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": "t",
        "task_id": {"value": "t"},
        "agent_id": {"value": "a"},
        "command": {"value": "true"},
    }
    task.update(overrides)
    return task


def _executor_task(**executor: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "executor_id": {"value": "e"},
        "type": "CUSTOM",
        "command": {"value": "run-executor"},
    }
    info.update(executor)
    task = _command_task(executor=info)
    del task["command"]
    return task


def _problem(task: dict[str, Any], **context: Any) -> str | None:
    return task_problem(
        task, agent_id=context.get("agent_id", "a"), framework_id="fw", task_ids=context.get("task_ids", ())
    )


def test_valid_command_and_executor_tasks_pass() -> None:
    assert _problem(_command_task()) is None
    assert _problem(_executor_task()) is None
    assert _problem(_executor_task(framework_id={"value": "fw"})) is None


def test_task_ids_must_be_valid_and_unique() -> None:
    assert "invalid" in (_problem(_command_task(task_id={"value": "a/b"})) or "")
    assert "duplicate" in (_problem(_command_task(), task_ids={"t"}) or "")


def test_the_task_must_be_for_the_offers_agent() -> None:
    assert (
        _problem(_command_task(), agent_id="elsewhere")
        == "Task uses agent a but the offer is on agent elsewhere"
    )


def test_exactly_one_of_command_and_executor() -> None:
    both = _command_task(executor=_executor_task()["executor"])
    neither = _command_task()
    del neither["command"]
    expected = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    assert _problem(both) == expected
    assert _problem(neither) == expected


@pytest.mark.parametrize(
    ("command", "refused"),
    [
        ({"value": "true"}, False),
        ({"shell": True}, True),
        ({"value": ""}, True),
        ({"shell": False, "value": "/bin/true"}, False),
        ({"shell": False, "arguments": ["/bin/true"]}, False),
        ({"shell": False}, True),
        ({"value": "true", "uris": [{"value": "file:///x"}]}, False),
        ({"value": "true", "uris": [{"extract": True}]}, True),
        ("true", True),
    ],
)
def test_a_command_needs_something_to_run(command: Any, refused: bool) -> None:
    """``CommandInfo``: with ``shell`` (the default) ``value`` is the command; without, ``value`` or
    ``arguments`` name the program; every URI has a ``value``."""
    assert (command_problem(command, "command") is not None) is refused


def test_executors_must_be_custom_valid_and_the_frameworks_own() -> None:
    assert "executor_id is required" in (_problem(_executor_task(executor_id=None)) or "")
    assert "invalid" in (_problem(_executor_task(executor_id={"value": ".."})) or "")
    assert "invalid FrameworkID" in (_problem(_executor_task(framework_id={"value": "other"})) or "")
    assert "not supported" in (_problem(_executor_task(type="DEFAULT")) or "")
    assert "executor.command" in (_problem(_executor_task(command=None)) or "")
    not_an_object = _command_task(executor="e")
    del not_an_object["command"]
    assert _problem(not_an_object) is not None


def test_operation_tasks_reads_launch_and_launch_group() -> None:
    task = _command_task()
    assert operation_tasks({"type": "LAUNCH", "launch": {"task_infos": [task, "junk"]}}) == [task]
    group = {"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": [task]}}}
    assert operation_tasks(group) == [task]
    assert operation_tasks({"type": "RESERVE"}) == []


def test_a_stored_executor_names_its_framework() -> None:
    assert normalized_executor({"executor_id": {"value": "e"}}, "fw")["framework_id"] == {"value": "fw"}
    own = {"executor_id": {"value": "e"}, "framework_id": {"value": "x"}}
    assert normalized_executor(own, "fw")["framework_id"] == {"value": "x"}
