"""What the API promises to make of a sent number or boolean, written from the API's rules (JSON's
own values, plus decimal numeric strings for numbers), independently of the server's code.

Each ``expected_*`` answers ``NOT_SENT`` (absent or null: the default, or no change), ``INVALID``
(the reply must be a 400), or the value that must be stored when the request is accepted. A valid
value may still be refused for its range; the fuzz tests assert only what the model decides.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import strategies as st

NOT_SENT: Any = type("NotSent", (), {"__repr__": lambda self: "NOT_SENT"})()
INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "INVALID"})()

# RFC 8259, section 6: the number grammar of JSON.
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
JSON_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
INT32 = range(-(2**31), 2**31)


def expected_boolean(sent: object) -> object:
    if sent is None:
        return NOT_SENT
    return sent if isinstance(sent, bool) else INVALID


def expected_number(sent: object) -> object:
    if sent is None:
        return NOT_SENT
    if isinstance(sent, bool):
        return INVALID
    if not isinstance(sent, int | float) and not (isinstance(sent, str) and JSON_NUMBER.fullmatch(sent)):
        return INVALID
    value = float(sent)
    return value if math.isfinite(value) else INVALID


def expected_integer(sent: object) -> object:
    if sent is None:
        return NOT_SENT
    if isinstance(sent, bool):
        return INVALID
    if isinstance(sent, int | float):
        if not math.isfinite(sent) or not float(sent).is_integer():
            return INVALID
        value = int(sent)
    elif isinstance(sent, str) and JSON_INTEGER.fullmatch(sent):
        value = int(sent)
    else:
        return INVALID
    return value if value in INT32 else INVALID


TRICKY_STRINGS = ["0x10", "0x1p-3", "yes", "y", "t", "1", "true", "false", "1e308", "16", "-1", "+1",
                  "NaN", "Infinity", "-0", " 1", "1 ", "1_0", "٣", "0.5", "64", "1E2", "3.0", "01"]  # fmt: skip

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=20_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
    st.from_regex(JSON_NUMBER, fullmatch=True),
    st.sampled_from(TRICKY_STRINGS),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)
names = st.one_of(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}\Z"), st.text(max_size=150))
urls = st.sampled_from(["http://h/a.tgz", "file:///tmp/a.tgz", "gopher://x", "http://h/a\x85b"]) | st.text()
scripts = st.sampled_from(["bin/start.sh", "../x", "/abs", "run.sh --x"]) | st.text()
crons = st.sampled_from(["0/5 * * * * ?", "* * * * * ?", "bad", ""]) | st.text()


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the given strategy, sometimes any JSON value instead."""
    return st.one_of(value, json_values)


fresh_names = st.uuids().map(lambda generated: f"fz_{generated.hex[:12]}")


@st.composite
def mutated(
    draw: st.DrawFn, template: dict[str, Any], generators: dict[str, st.SearchStrategy[Any]]
) -> dict[str, Any]:
    """A valid ``template`` with one or two of its fields (or added ones) generated: bodies that
    fail, or pass, because of that field alone."""
    body = dict(template)
    for key in draw(st.lists(st.sampled_from(sorted(generators)), min_size=1, max_size=2, unique=True)):
        body[key] = draw(generators[key])
    return body


# For number and boolean fields: often a string a lenient reader would take, else any JSON value.
value_candidates = st.sampled_from(TRICKY_STRINGS) | json_values
