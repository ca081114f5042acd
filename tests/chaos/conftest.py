"""Fault injection against real processes: every test here is marked ``chaos`` (``make test-chaos``
runs them alone; ``make test`` runs them with the rest). Each test owns its processes, on free
loopback ports, and bounds its own time."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/chaos/" in str(item.path):
            item.add_marker(pytest.mark.chaos)
