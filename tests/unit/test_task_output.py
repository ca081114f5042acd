"""TaskOutputService's checks and the chunks it answers, with a reader that records its calls in
place of the Mesos agent (the reader is the servicer's seam; the real one is driven end to end in
tests/e2e and tests/browser). Mesos' ``/files/read`` takes ``offset`` and ``length`` in bytes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from elasticjob.cloud.v1 import task_output_pb2

from server.api.task_output_servicer import OutputChunk, TaskOutputServicer
from server.domain.errors import InvalidArgument


@dataclass
class RecordingReader:
    content: bytes
    calls: list[tuple[str, str, int | None, int]] = field(default_factory=list)

    def read(self, task_id: str, file: str, *, offset: int | None, length: int) -> OutputChunk:
        self.calls.append((task_id, file, offset, length))
        start = max(0, len(self.content) - length) if offset is None else offset
        data = self.content[start : start + length]
        return OutputChunk(data=data, offset=start, size=len(self.content), hostname="agent-host")


def read(reader: RecordingReader, **fields: object) -> task_output_pb2.TaskOutputChunk:
    request = task_output_pb2.ReadTaskOutputRequest(task_id="job@-@0@-@READY@-@a@-@u", **fields)  # type: ignore[arg-type]
    return TaskOutputServicer(reader).ReadTaskOutput(request, None)  # type: ignore[arg-type]


def test_without_an_offset_the_tail_is_read() -> None:
    reader = RecordingReader(b"first line\nsecond line\n")
    chunk = read(reader, length=12)
    assert reader.calls == [("job@-@0@-@READY@-@a@-@u", "stdout", None, 12)]
    assert chunk.data == "second line\n"
    assert (chunk.offset, chunk.next_offset, chunk.size, chunk.hostname) == (11, 23, 23, "agent-host")


def test_reading_on_from_next_offset_follows_the_file() -> None:
    reader = RecordingReader(b"0123456789")
    first = read(reader, file="stderr", offset=0, length=4)
    second = read(reader, file="stderr", offset=first.next_offset, length=100)
    assert first.data + second.data == "0123456789"
    assert reader.calls[1] == ("job@-@0@-@READY@-@a@-@u", "stderr", 4, 100)


def test_a_character_cut_by_the_length_is_left_for_the_next_read() -> None:
    text = "grüße €".encode()
    reader = RecordingReader(text)
    pieces, offset = [], 0
    while offset < len(text):
        chunk = read(reader, offset=offset, length=3)
        assert "\ufffd" not in chunk.data
        pieces.append(chunk.data)
        assert chunk.next_offset > offset
        offset = chunk.next_offset
    assert "".join(pieces) == "grüße €"


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"file": "passwd"}, "file"),
        ({"file": "../stdout"}, "file"),
        ({"offset": -1}, "offset"),
        ({"length": 0}, "length"),
        ({"length": (1 << 20) + 1}, "length"),
    ],
)
def test_bad_file_offset_or_length_is_refused_naming_the_field(
    fields: dict[str, object], field_name: str
) -> None:
    reader = RecordingReader(b"x")
    with pytest.raises(InvalidArgument) as refused:
        read(reader, **fields)
    assert refused.value.field == field_name
    assert reader.calls == []


def test_an_empty_task_id_is_refused() -> None:
    reader = RecordingReader(b"x")
    with pytest.raises(InvalidArgument) as refused:
        TaskOutputServicer(reader).ReadTaskOutput(task_output_pb2.ReadTaskOutputRequest(), None)  # type: ignore[arg-type]
    assert refused.value.field == "taskId"


def test_a_read_shorter_than_a_character_still_moves_on() -> None:
    reader = RecordingReader("€x".encode())
    chunk = read(reader, offset=0, length=1)
    assert chunk.next_offset == 1
