"""Numbers and booleans of a request, read strictly from the ``google.protobuf.Value`` carrying them.

The request messages type these fields as ``Value`` so that the JSON transcoder passes the JSON
value on as sent instead of coercing it (it would take ``"yes"`` or ``"t"`` for true and ``"0x10"``
for 16). What is accepted here is JSON's own: ``true`` / ``false`` for a boolean, a finite JSON
number for a number, plus a string holding a decimal number in JSON's number syntax (``"0.5"``,
``"64"``, ``"1e2"``), as ElasticJob-Cloud 3.0's JSON reader accepted. No hex, no sign ``+``, no
``NaN`` or ``Infinity``, no surrounding blanks. JSON ``null`` and an empty ``Value`` mean "not
sent". Refusals are ``InvalidArgument`` naming the field and quoting at most a prefix of the value.
"""

from __future__ import annotations

import math
import re

from google.protobuf import struct_pb2

from server.domain.errors import InvalidArgument
from server.domain.rules import quoted

# JSON's number grammar (RFC 8259, section 6), ASCII digits only.
DECIMAL_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
DECIMAL_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
MAX_NUMBER_STRING_LENGTH = 100
# Integer fields are int32 in the replies, so a larger value could never be read back.
MIN_INTEGER = -(2**31)
MAX_INTEGER = 2**31 - 1


def is_sent(value: struct_pb2.Value) -> bool:
    """False for a field not sent, sent as JSON null, or sent as a ``Value`` with no kind."""
    kind = value.WhichOneof("kind")
    return kind is not None and kind != "null_value"


def _described(value: struct_pb2.Value) -> str:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return f"the string {quoted(value.string_value)}"
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "number_value":
        return f"the number {value.number_value:g}"
    if kind == "list_value":
        return "a list"
    return "an object"


def boolean(value: struct_pb2.Value, field: str) -> bool:
    """A JSON ``true`` or ``false``; any other sent value is refused."""
    if value.WhichOneof("kind") != "bool_value":
        raise InvalidArgument(f"{field} must be true or false, not {_described(value)}", field=field)
    return bool(value.bool_value)


def number(value: struct_pb2.Value, field: str) -> float:
    """A finite JSON number, or a string holding one in JSON's decimal syntax."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        result = float(value.number_value)
    elif kind == "string_value" and _is_decimal(value.string_value, DECIMAL_NUMBER):
        result = float(value.string_value)
    else:
        raise InvalidArgument(
            f"{field} must be a number (or a decimal number as a string), not {_described(value)}",
            field=field,
        )
    if not math.isfinite(result):
        raise InvalidArgument(f"{field} must be a finite number", field=field)
    return result


def integer(value: struct_pb2.Value, field: str) -> int:
    """A JSON number with an integral value, or a string holding a decimal integer, in int32 range."""
    kind = value.WhichOneof("kind")
    if kind == "number_value" and value.number_value.is_integer():
        result = int(value.number_value)
    elif kind == "string_value" and _is_decimal(value.string_value, DECIMAL_INTEGER):
        result = int(value.string_value)
    else:
        raise InvalidArgument(
            f"{field} must be an integer (or a decimal integer as a string), not {_described(value)}",
            field=field,
        )
    if not MIN_INTEGER <= result <= MAX_INTEGER:
        raise InvalidArgument(f"{field} must be between {MIN_INTEGER} and {MAX_INTEGER}", field=field)
    return result


def _is_decimal(text: str, pattern: re.Pattern[str]) -> bool:
    return len(text) <= MAX_NUMBER_STRING_LENGTH and pattern.fullmatch(text) is not None
