"""Ids, ``bytes`` fields and durations as the Mesos v1 JSON protocol carries them
(``include/mesos/v1/mesos.proto``: ``TaskID`` and the other ids, ``DurationInfo``; the protobuf
JSON mapping for ``bytes`` and ``int64``)."""

from __future__ import annotations

import base64
import math
import uuid

import pytest

from server.mesos.values import (
    b64decode,
    b64encode,
    duration_seconds,
    id_object,
    id_problem,
    id_value,
    id_values,
    is_base64,
    is_id,
    mesos_duration,
    new_stream_id,
    new_uuid,
    wait_status,
)


def test_an_id_is_an_object_with_a_string_value() -> None:
    assert id_object("t-1") == {"value": "t-1"}
    assert id_value({"value": "t-1"}) == "t-1"
    assert is_id({"value": ""})
    for not_an_id in (None, "t-1", {"value": 1}, {"id": "t-1"}, ["t-1"]):
        assert id_value(not_an_id) is None
        assert not is_id(not_an_id)


def test_id_values_skips_what_is_not_an_id() -> None:
    assert id_values([{"value": "a"}, "b", {"value": 3}, {"value": "c"}]) == ["a", "c"]
    assert id_values(None) == []


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\x00b", "tab\there", "del\x7f"])
def test_ids_that_would_break_sandbox_paths_are_refused(bad: str) -> None:
    """Mesos' ``common::validation::validateID`` refuses empty ids, ``.``, ``..``, ``/`` and NUL."""
    assert id_problem(bad) is not None


@pytest.mark.parametrize("good", ["job@-@0@-@READY@-@agent-1@-@uuid", "a.b", "...", "ünïcode"])
def test_ordinary_ids_are_accepted(good: str) -> None:
    assert id_problem(good) is None


def test_bytes_fields_are_standard_base64() -> None:
    assert b64encode(b"\x00\xffhello") == base64.b64encode(b"\x00\xffhello").decode("ascii")
    assert b64decode(b64encode(b"payload")) == b"payload"
    assert is_base64("aGVsbG8=")
    assert is_base64("")
    for not_base64 in ("not base64!", "aGVsbG8", None, 12, b"aGVsbG8="):
        assert not is_base64(not_base64)
    with pytest.raises(ValueError):
        b64decode("not base64!")


def test_a_status_uuid_is_sixteen_fresh_random_bytes() -> None:
    first, second = new_uuid(), new_uuid()
    assert first != second
    assert len(base64.b64decode(first, validate=True)) == 16


def test_a_stream_id_is_a_fresh_uuid_in_text_form() -> None:
    first = new_stream_id()
    assert first != new_stream_id()
    assert str(uuid.UUID(first)) == first


def test_duration_info_is_nanoseconds_and_may_arrive_as_a_string() -> None:
    """``DurationInfo.nanoseconds`` is an ``int64``, which protobuf JSON may write as a string."""
    assert duration_seconds({"nanoseconds": 3_000_000_000}) == 3.0
    assert duration_seconds({"nanoseconds": "1500000000"}) == 1.5
    assert duration_seconds({"nanoseconds": 2.5e9}) == 2.5
    assert duration_seconds({"nanoseconds": 0}) == 0.0


@pytest.mark.parametrize(
    "malformed",
    [
        None,
        {},
        {"nanoseconds": -1},
        {"nanoseconds": "-5"},
        {"nanoseconds": True},
        {"nanoseconds": "3s"},
        {"nanoseconds": math.inf},
        {"nanoseconds": math.nan},
        5,
    ],
)
def test_malformed_durations_are_absent(malformed: object) -> None:
    assert duration_seconds(malformed) is None


def test_durations_in_the_environment_read_as_mesos_prints_them() -> None:
    assert mesos_duration(5.0) == "5secs"
    assert mesos_duration(0.5) == "0.5secs"


def test_failure_status_is_the_waitpid_status() -> None:
    """``FAILURE.status`` is what ``waitpid`` reports: exit code << 8, or the signal number."""
    assert wait_status(0) == 0
    assert wait_status(3) == 3 << 8
    assert wait_status(-9) == 9
    assert wait_status(None) is None
