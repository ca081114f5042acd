"""The recorder of third-party framework clients in the test kit (testkit/cluster.py).

Its client stands in for ``mesoshttp.client.MesosClient``: the recorder only needs the event
names, ``on`` and ``register`` that the client's README documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from testkit.cluster import ThreadedFramework


class _Client:
    SUBSCRIBED, OFFERS, UPDATE, ERROR = "SUBSCRIBED", "OFFERS", "UPDATE", "ERROR"

    def __init__(self) -> None:
        self.callbacks: dict[str, Callable[..., Any]] = {}

    def on(self, event: str, callback: Callable[..., Any]) -> None:
        self.callbacks[event] = callback

    def register(self) -> None:
        pass


def _update(task_id: str, state: str) -> dict[str, Any]:
    return {"status": {"task_id": {"value": task_id}, "state": state}}


async def test_a_timed_out_wait_names_the_states_that_arrived_while_waiting() -> None:
    """The timeout message lists what the task went through up to the timeout, so a test that
    fails says where the task got stuck."""
    client = _Client()
    framework = ThreadedFramework(client)
    asyncio.get_running_loop().call_soon(client.callbacks["UPDATE"], _update("t", "TASK_RUNNING"))
    with pytest.raises(AssertionError) as timed_out:
        await framework.wait_for_state("t", "TASK_FINISHED", timeout=0.2)
    assert "seen ['TASK_RUNNING']" in str(timed_out.value)
