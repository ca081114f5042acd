"""Node values: YAML as ElasticJob-Cloud 3.0 writes it (keys sorted, doubles with a decimal point,
empty strings as ''), and 2.x's JSON on read."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml


class UnreadableNode(ValueError):
    """A node's bytes are neither a YAML nor a JSON mapping."""


def encode(document: Mapping[str, Any]) -> bytes:
    text = yaml.safe_dump(dict(document), default_flow_style=False, sort_keys=True, allow_unicode=True)
    return text.encode("utf-8")


def decode(data: bytes, path: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8").strip()
        value = json.loads(text) if text.startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError is a ValueError
        raise UnreadableNode(f"{path}: {exc}") from exc
    if not isinstance(value, dict):
        raise UnreadableNode(f"{path}: not a mapping")
    return value
