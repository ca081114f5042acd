"""Specification of ElasticJob's identities: ``TaskId`` (``job@-@item@-@READY|FAILOVER@-@agent@-@uuid``),
``ShardRef`` (``job@-@item``) and executor ids (``app@-@agentId``)."""

from __future__ import annotations

import pytest

from server.domain.task import ExecutionType, ExecutorRef, ShardRef, TaskId, TaskIdError, executor_id

AGENT = "b3a1c2d4-0000-4e5f-9abc-1234567890ab-S0"


@pytest.mark.parametrize("execution_type", list(ExecutionType))
def test_a_task_id_formats_in_elasticjob_form_and_parses_back(execution_type: ExecutionType) -> None:
    task_id = TaskId("my_job", 7, execution_type, AGENT, "6f1d-uuid")
    text = str(task_id)
    assert text == f"my_job@-@7@-@{execution_type.value}@-@{AGENT}@-@6f1d-uuid"
    assert TaskId.parse(text) == task_id
    assert str(TaskId.parse(text)) == text


def test_a_task_id_knows_its_shard() -> None:
    task_id = TaskId.parse(f"my_job@-@2@-@READY@-@{AGENT}@-@u")
    assert task_id.shard == ShardRef("my_job", 2)
    assert str(task_id.shard) == "my_job@-@2"


def test_new_task_ids_get_a_fresh_unique_part() -> None:
    first = TaskId("job", 0, ExecutionType.READY, AGENT)
    second = TaskId("job", 0, ExecutionType.READY, AGENT)
    assert first.unique and second.unique and first.unique != second.unique
    assert TaskId.parse(str(first)) == first


def test_a_shard_reference_round_trips() -> None:
    shard = ShardRef("job.with-dots_and_dashes", 0)
    assert str(shard) == "job.with-dots_and_dashes@-@0"
    assert ShardRef.parse(str(shard)) == shard


def test_shard_references_order_by_job_then_item() -> None:
    shards = [ShardRef("b", 0), ShardRef("a", 10), ShardRef("a", 2)]
    assert sorted(shards) == [ShardRef("a", 2), ShardRef("a", 10), ShardRef("b", 0)]


def test_the_executor_id_is_app_and_agent() -> None:
    assert executor_id("my_app", AGENT) == f"my_app@-@{AGENT}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "job",
        "job@-@0@-@READY@-@agent",  # no uuid
        "job@-@0@-@READY@-@agent@-@uuid@-@extra",
        "job@-@x@-@READY@-@agent@-@uuid",  # item not a number
        "job@-@-1@-@READY@-@agent@-@uuid",  # negative item
        "job@-@0@-@DAEMON@-@agent@-@uuid",  # unknown execution type
        "job@-@0@-@ready@-@agent@-@uuid",  # types are upper case
        "@-@0@-@READY@-@agent@-@uuid",  # empty job name
        "job@-@0@-@READY@-@agent@-@",  # empty uuid
    ],
)
def test_text_that_is_not_a_task_id_is_rejected(text: str) -> None:
    with pytest.raises(TaskIdError):
        TaskId.parse(text)


@pytest.mark.parametrize(
    "text", ["", "job", "job@-@", "@-@0", "job@-@x", "job@-@-1", "a@-@0@-@1", "job@-@1.5"]
)
def test_text_that_is_not_a_shard_reference_is_rejected(text: str) -> None:
    with pytest.raises(TaskIdError):
        ShardRef.parse(text)


# Items must read back as they were written (``str(int(text)) == text``): ``str.isdigit`` alone
# would accept Unicode digits ("٣" reads as 3) and leading zeros ("01" reads as 1), and such text
# would parse to an id that formats differently.
NOT_CANONICAL_ITEMS = ["٣", "01", "00"]


@pytest.mark.parametrize("item", NOT_CANONICAL_ITEMS)
def test_a_task_id_with_an_item_that_would_not_format_back_is_rejected(item: str) -> None:
    with pytest.raises(TaskIdError):
        TaskId.parse(f"job@-@{item}@-@READY@-@agent@-@uuid")


@pytest.mark.parametrize("item", NOT_CANONICAL_ITEMS)
def test_a_shard_reference_with_an_item_that_would_not_format_back_is_rejected(item: str) -> None:
    with pytest.raises(TaskIdError):
        ShardRef.parse(f"job@-@{item}")


def test_a_task_id_error_is_a_value_error() -> None:
    assert issubclass(TaskIdError, ValueError)


@pytest.mark.parametrize(
    ("job_name", "item", "agent_id", "unique"),
    [
        ("", 0, AGENT, "u"),
        ("a@-@b", 0, AGENT, "u"),
        ("job", -1, AGENT, "u"),
        ("job", 0, "agent@-@1", "u"),
        ("job", 0, AGENT, "u@-@v"),
        ("job", 0, AGENT, ""),
    ],
)
def test_a_task_id_that_could_not_be_parsed_back_cannot_be_built(
    job_name: str, item: int, agent_id: str, unique: str
) -> None:
    with pytest.raises(TaskIdError):
        TaskId(job_name, item, ExecutionType.READY, agent_id, unique)


def test_executor_ids_carry_the_app_version_and_read_back() -> None:
    assert executor_id("app", "S1", version="0a1b2c3d4e") == "app@-@S1@-@0a1b2c3d4e"
    assert executor_id("app", "S1", "launch-1", version="0a1b2c3d4e") == "app@-@S1@-@0a1b2c3d4e@-@launch-1"
    assert ExecutorRef.parse("app@-@S1@-@0a1b2c3d4e@-@launch-1") == ExecutorRef(
        "app", "S1", "0a1b2c3d4e", "launch-1"
    )
    assert ExecutorRef.parse("app@-@S1") == ExecutorRef("app", "S1")  # written before versions
    for text in ("app", "app@-@", "@-@S1", "a@-@b@-@c@-@d@-@e", "job@-@0@-@READY@-@S1@-@u"):
        assert ExecutorRef.parse(text) is None
