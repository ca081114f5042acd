"""Mesos RecordIO framing, without IO.

The SUBSCRIBE response of the Mesos v1 HTTP APIs is a stream of records::

    records     = *record
    record      = record-size LF record-data
    record-size = 1*DIGIT                  ; decimal, ASCII
    record-data = record-size(OCTET)

There is no separator after ``record-data``; the next record's size follows immediately. HTTP chunk
boundaries carry no meaning: proxies may re-chunk the stream, so a record can arrive split at any
byte, and one chunk can hold several records.

:class:`RecordIOParser` works like h11: the caller :meth:`~RecordIOParser.feed` s whatever bytes
arrived and pulls complete records with :meth:`~RecordIOParser.next_record` until it answers
``None`` (need more data). When the stream ends the caller calls :meth:`~RecordIOParser.eof`, which
raises :class:`~server.mesos.errors.ProtocolError` if the stream stopped inside a record. Malformed
framing raises as soon as it is seen, and the parser stays broken afterwards.

The parser never decodes the payload: records are ``bytes`` (JSON in UTF-8 for our client), and the
size counts bytes, not characters.
"""

from __future__ import annotations

from server.mesos.errors import ProtocolError

__all__ = ["DEFAULT_MAX_RECORD_SIZE", "RecordIOParser", "encode_record"]

#: Largest record the parser accepts by default (64 MiB). Mesos events are far smaller; a bigger
#: size means a corrupt stream, and refusing it bounds the memory a bad peer can make us hold.
DEFAULT_MAX_RECORD_SIZE = 64 * 1024 * 1024

_NEWLINE = 0x0A
_DIGITS = frozenset(b"0123456789")


def encode_record(payload: bytes) -> bytes:
    """Frame one record: its size in decimal ASCII, a newline, then the payload bytes."""
    return b"%d\n%s" % (len(payload), payload)


class RecordIOParser:
    """Incremental RecordIO decoder (no IO; feed bytes in, take records out).

    Guarantees:

    * records come out whole and in order, whatever the chunking of the input;
    * feeding a stream one byte at a time costs linear time overall;
    * a size field that is empty, holds a non-digit, has more digits than the maximum allows, or
      exceeds ``max_record_size`` raises :class:`ProtocolError` (and every later call raises too);
    * :meth:`eof` raises :class:`ProtocolError` when buffered bytes do not form a whole record.

    Zero-length records are valid framing (``b"0\\n"``) and come out as ``b""``; Mesos never sends
    them, so what they mean is the caller's decision.
    """

    def __init__(self, max_record_size: int = DEFAULT_MAX_RECORD_SIZE) -> None:
        if max_record_size < 0:
            raise ValueError("max_record_size must not be negative")
        self._max_record_size = max_record_size
        self._max_size_digits = len(str(max_record_size))
        self._buffer = bytearray()
        # Size of the record whose header was already parsed; None while reading a header.
        self._pending_size: int | None = None
        # How far the current header was already checked for digits (avoids rescanning).
        self._header_scanned = 0
        self._error: ProtocolError | None = None
        self._ended = False

    @property
    def buffered(self) -> int:
        """Number of bytes received but not yet returned as part of a record."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Add bytes received from the stream. Raises :class:`ProtocolError` after :meth:`eof`."""
        self._raise_if_broken()
        if self._ended:
            raise ProtocolError("RecordIO data fed after end of stream")
        self._buffer += data

    def next_record(self) -> bytes | None:
        """Return the next complete record, or ``None`` if more bytes are needed."""
        self._raise_if_broken()
        if self._pending_size is None:
            size = self._parse_header()
            if size is None:
                return None
            self._pending_size = size
        size = self._pending_size
        if len(self._buffer) < size:
            return None
        record = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._pending_size = None
        return record

    def eof(self) -> None:
        """Declare the end of the stream.

        Raises :class:`ProtocolError` if the stream ended inside a record (a partial size line or
        fewer payload bytes than announced). Call :meth:`next_record` until it returns ``None``
        before calling this: complete records still buffered are not an error, but leftover bytes
        that are not a complete record are.
        """
        self._raise_if_broken()
        self._ended = True
        if self._pending_size is not None:
            raise self._fail(
                f"stream ended inside a record: {len(self._buffer)} of {self._pending_size} bytes received"
            )
        if self._buffer:
            raise self._fail(f"stream ended inside a record size line: {bytes(self._buffer[:32])!r}")

    close = eof

    def _parse_header(self) -> int | None:
        buffer = self._buffer
        end = buffer.find(_NEWLINE, self._header_scanned)
        scan_to = len(buffer) if end < 0 else end
        for index in range(self._header_scanned, scan_to):
            if buffer[index] not in _DIGITS:
                raise self._fail(f"malformed RecordIO size: byte {bytes(buffer[index : index + 1])!r}")
        if scan_to > self._max_size_digits:
            raise self._fail(f"RecordIO size has more than {self._max_size_digits} digits")
        self._header_scanned = scan_to
        if end < 0:
            return None
        if end == 0:
            raise self._fail("empty RecordIO size line")
        size = int(buffer[:end])
        if size > self._max_record_size:
            raise self._fail(f"RecordIO record of {size} bytes exceeds the limit of {self._max_record_size}")
        del buffer[: end + 1]
        self._header_scanned = 0
        return size

    def _fail(self, message: str) -> ProtocolError:
        self._error = ProtocolError(message)
        return self._error

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise ProtocolError(f"RecordIO stream is broken: {self._error}") from self._error
