"""Polling for state that no event announces (files, other processes, a server seen from outside).

``eventually`` blocks the calling thread; ``until`` sleeps on the running event loop. Both return
the condition's first truthy value and raise ``AssertionError`` naming ``what`` on time-out. Waits
that a test double can answer from its own records (``wait_for_call`` and the like) belong to the
double, not here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["eventually", "until"]

T = TypeVar("T")


def eventually(
    condition: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(timeout, what, condition))
        time.sleep(interval)


async def until(
    condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """``eventually`` for a coroutine: the event loop keeps running between two calls."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(_timed_out(timeout, what, condition))
        await asyncio.sleep(interval)


def _timed_out(timeout: float, what: str, condition: Callable[[], object]) -> str:
    return f"timed out after {timeout:g} s waiting for {what or condition}"
