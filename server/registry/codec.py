"""Node values: YAML as ElasticJob-Cloud 3.0 writes it (keys sorted, doubles with a decimal point,
empty strings as ''), and 2.x's JSON on read.

Every string reads back exactly as written: one that YAML would change on reading (line breaks
such as U+0085, U+2028 and U+2029 are folded, control characters are not allowed plain) is written
double-quoted with escapes; every other string keeps 3.0's plain or single-quoted form.
``encode`` refuses a node larger than ``MAX_NODE_BYTES``, well under ZooKeeper's request buffer
(``jute.maxbuffer``, about 1 MB by default), so one oversized value never costs the session.

Reading uses libyaml's safe loader when PyYAML has it (about eight times faster than the pure-Python
one, which matters when thousands of job nodes are read at start-up); writing keeps the pure-Python
dumper, whose exact output the stored nodes are specified by."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from server.domain.errors import InvalidArgument

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_NODE_BYTES = 512 * 1024
"""Largest encoded app or job node."""


class UnreadableNode(ValueError):
    """A node's bytes are neither a YAML nor a JSON mapping."""


def _needs_escapes(text: str) -> bool:
    """Whether YAML could read ``text`` back differently unless it is double-quoted: any character
    Python does not call printable (controls, line and paragraph separators, non-ASCII spaces), a
    byte-order mark, or whitespace at either end."""
    if text.isascii() and text.isprintable():
        return False  # PyYAML's own quoting already round-trips printable ASCII
    return not text.isprintable() or "\ufeff" in text or text[0].isspace() or text[-1].isspace()


class _Dumper(yaml.SafeDumper):
    """The safe dumper, with strings YAML would not read back as written double-quoted."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if _needs_escapes(text):
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_str(text)


_Dumper.add_representer(str, _represent_str)


def encode(document: Mapping[str, Any], what: str = "node") -> bytes:
    """The node's bytes; InvalidArgument naming ``what`` and the largest field when over the limit."""
    text = yaml.dump(
        dict(document), Dumper=_Dumper, default_flow_style=False, sort_keys=True, allow_unicode=True
    )
    data = text.encode("utf-8")
    if len(data) > MAX_NODE_BYTES:
        largest = max(document, key=lambda key: len(str(document[key])), default=None)
        raise InvalidArgument(
            f"the {what} would be stored as {len(data)} bytes; the limit is {MAX_NODE_BYTES} "
            f"(its largest field is {largest})",
            field=str(largest) if largest is not None else None,
        )
    return data


def decode(data: bytes, path: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
        is_json = text.lstrip(" \t\r\n").startswith("{")
        value = json.loads(text) if is_json else yaml.load(text, Loader=_SafeLoader)
    except (ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError is a ValueError
        raise UnreadableNode(f"{path}: {exc}") from exc
    if not isinstance(value, dict):
        raise UnreadableNode(f"{path}: not a mapping")
    return value
