"""RecordIO framing: the parser yields the same records however the stream is chunked, and
refuses malformed framing or a stream that ends inside a record."""

from __future__ import annotations

import json

import pytest

from server.mesos.errors import MesosError, ProtocolError
from server.mesos.recordio import DEFAULT_MAX_RECORD_SIZE, RecordIOParser, encode_record

SUBSCRIBED = json.dumps(
    {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": "12220-3440-12532-2345"},
            "heartbeat_interval_seconds": 15.0,
        },
    },
    separators=(",", ":"),
).encode()
HEARTBEAT = b'{"type":"HEARTBEAT"}'
# Multi-byte UTF-8: the size counts bytes (é = 2, 日本 = 6, emoji = 4), not characters.
UTF8_UPDATE = json.dumps(
    {"type": "UPDATE", "update": {"status": {"message": "tâche échouée: 日本語 🚀"}}},
    ensure_ascii=False,
).encode("utf-8")
RECORDS = [SUBSCRIBED, HEARTBEAT, UTF8_UPDATE, b"", HEARTBEAT]
STREAM = b"".join(encode_record(record) for record in RECORDS)


def drain(parser: RecordIOParser) -> list[bytes]:
    records = []
    while (record := parser.next_record()) is not None:
        records.append(record)
    return records


def parse_chunks(chunks: list[bytes]) -> list[bytes]:
    parser = RecordIOParser()
    records: list[bytes] = []
    for chunk in chunks:
        parser.feed(chunk)
        records.extend(drain(parser))
    parser.eof()
    return records


def test_encode_record_prefixes_byte_length_and_newline() -> None:
    assert encode_record(b"hello") == b"5\nhello"
    assert encode_record("é".encode()) == b"2\n\xc3\xa9"
    assert encode_record(b"") == b"0\n"


def test_stream_fed_whole_yields_every_record_in_order() -> None:
    assert parse_chunks([STREAM]) == RECORDS


def test_stream_fed_one_byte_at_a_time_yields_the_same_records() -> None:
    assert parse_chunks([STREAM[i : i + 1] for i in range(len(STREAM))]) == RECORDS


def test_stream_split_at_every_point_yields_the_same_records() -> None:
    for split in range(1, len(STREAM)):
        assert parse_chunks([STREAM[:split], STREAM[split:]]) == RECORDS, f"split at byte {split}"


def test_stream_split_at_every_pair_of_points_yields_the_same_records() -> None:
    for first in range(1, len(STREAM)):
        for second in range(first, len(STREAM), 7):
            chunks = [STREAM[:first], STREAM[first:second], STREAM[second:]]
            assert parse_chunks(chunks) == RECORDS, f"split at bytes {first} and {second}"


def test_multi_byte_utf8_payload_split_inside_a_character_is_reassembled() -> None:
    stream = encode_record(UTF8_UPDATE)
    first_multibyte = stream.index("â".encode())
    chunks = [stream[: first_multibyte + 1], stream[first_multibyte + 1 :]]
    (record,) = parse_chunks(chunks)
    assert record.decode("utf-8") == UTF8_UPDATE.decode("utf-8")
    assert len(record) > len(UTF8_UPDATE.decode("utf-8"))  # sizes are bytes, not characters


def test_several_records_in_one_chunk_come_out_one_per_call() -> None:
    parser = RecordIOParser()
    parser.feed(encode_record(HEARTBEAT) * 3)
    assert parser.next_record() == HEARTBEAT
    assert parser.next_record() == HEARTBEAT
    assert parser.next_record() == HEARTBEAT
    assert parser.next_record() is None
    parser.eof()


def test_next_record_needs_more_data_for_partial_header_and_partial_body() -> None:
    parser = RecordIOParser()
    assert parser.next_record() is None
    parser.feed(b"2")
    assert parser.next_record() is None
    parser.feed(b'0\n{"type"')
    assert parser.next_record() is None
    assert parser.buffered == len(b'{"type"')
    parser.feed(b':"HEARTBEAT"}')
    assert parser.next_record() == HEARTBEAT
    assert parser.buffered == 0


def test_docs_example_stream_from_mesos_documentation_parses() -> None:
    # The RecordIO page's illustration: "6\nhello 0\n6\nworld!" style, sizes then bodies.
    assert parse_chunks([b"6\nhello 0\n6\nworld!"]) == [b"hello ", b"", b"world!"]


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"12a\n", id="letter-in-size"),
        pytest.param(b"-5\nhello", id="negative-size"),
        pytest.param(b" 5\nhello", id="leading-space"),
        pytest.param(b"5 \nhello", id="trailing-space"),
        pytest.param(b"5\r\nhello", id="crlf"),
        pytest.param(b"\n", id="empty-size-line"),
        pytest.param(b"0x10\n", id="hex-size"),
        pytest.param(b'{"type":"HEARTBEAT"}', id="json-without-framing"),
    ],
)
def test_malformed_size_line_raises_protocol_error(stream: bytes) -> None:
    parser = RecordIOParser()
    parser.feed(stream)
    with pytest.raises(ProtocolError):
        drain(parser)


def test_malformed_size_is_detected_before_the_newline_arrives() -> None:
    parser = RecordIOParser()
    parser.feed(b"1x")
    with pytest.raises(ProtocolError, match="malformed"):
        parser.next_record()


def test_size_with_too_many_digits_raises_without_waiting_for_a_newline() -> None:
    parser = RecordIOParser()
    parser.feed(b"9" * (len(str(DEFAULT_MAX_RECORD_SIZE)) + 1))
    with pytest.raises(ProtocolError, match="digits"):
        parser.next_record()


def test_size_over_the_maximum_record_size_raises() -> None:
    parser = RecordIOParser(max_record_size=100)
    parser.feed(b"101\n")
    with pytest.raises(ProtocolError, match="exceeds"):
        parser.next_record()


def test_record_of_exactly_the_maximum_size_is_accepted() -> None:
    parser = RecordIOParser(max_record_size=100)
    parser.feed(encode_record(b"x" * 100))
    assert parser.next_record() == b"x" * 100


def test_parser_stays_broken_after_a_protocol_error() -> None:
    parser = RecordIOParser()
    parser.feed(b"oops\n")
    with pytest.raises(ProtocolError):
        parser.next_record()
    with pytest.raises(ProtocolError):
        parser.feed(encode_record(HEARTBEAT))
    with pytest.raises(ProtocolError):
        parser.next_record()


def test_eof_inside_a_record_body_raises_protocol_error() -> None:
    parser = RecordIOParser()
    parser.feed(encode_record(HEARTBEAT)[:-1])
    assert parser.next_record() is None
    with pytest.raises(ProtocolError, match="inside a record"):
        parser.eof()


def test_eof_inside_a_size_line_raises_protocol_error() -> None:
    parser = RecordIOParser()
    parser.feed(encode_record(HEARTBEAT) + b"2")
    assert parser.next_record() == HEARTBEAT
    with pytest.raises(ProtocolError, match="size line"):
        parser.close()


def test_eof_anywhere_but_a_record_boundary_raises() -> None:
    boundaries = set()
    offset = 0
    for record in RECORDS:
        offset += len(encode_record(record))
        boundaries.add(offset)
    for cut in range(1, len(STREAM)):
        parser = RecordIOParser()
        parser.feed(STREAM[:cut])
        drain(parser)
        if cut in boundaries:
            parser.eof()
        else:
            with pytest.raises(ProtocolError):
                parser.eof()


def test_eof_on_an_empty_stream_is_clean() -> None:
    RecordIOParser().eof()


def test_feeding_after_eof_is_an_error() -> None:
    parser = RecordIOParser()
    parser.eof()
    with pytest.raises(ProtocolError):
        parser.feed(b"1\nx")


def test_protocol_error_is_a_mesos_error() -> None:
    assert issubclass(ProtocolError, MesosError)


def test_byte_by_byte_feeding_of_a_large_record_is_linear_enough() -> None:
    payload = b"x" * 200_000
    stream = encode_record(payload)
    parser = RecordIOParser()
    records = []
    for index in range(len(stream)):
        parser.feed(stream[index : index + 1])
        if (record := parser.next_record()) is not None:
            records.append(record)
    assert records == [payload]
