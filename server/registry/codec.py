"""Node values: YAML as ElasticJob-Cloud 3.0 writes it (keys sorted, doubles with a decimal point,
empty strings as ''), and 2.x's JSON on read.

Reading uses libyaml's safe loader when PyYAML has it (about eight times faster than the pure-Python
one, which matters when thousands of job nodes are read at start-up); writing keeps the pure-Python
dumper, whose exact output the stored nodes are specified by."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UnreadableNode(ValueError):
    """A node's bytes are neither a YAML nor a JSON mapping."""


def encode(document: Mapping[str, Any]) -> bytes:
    text = yaml.safe_dump(dict(document), default_flow_style=False, sort_keys=True, allow_unicode=True)
    return text.encode("utf-8")


def decode(data: bytes, path: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8").strip()
        value = json.loads(text) if text.startswith("{") else yaml.load(text, Loader=_SafeLoader)
    except (ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError is a ValueError
        raise UnreadableNode(f"{path}: {exc}") from exc
    if not isinstance(value, dict):
        raise UnreadableNode(f"{path}: not a mapping")
    return value
