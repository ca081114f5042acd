"""The executor's agent connection over ``httpx.MockTransport``: what SUBSCRIBE carries, the first
event, ERROR, and giving up on the agent with and without checkpointing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.executor.agent import AgentConnection, ConnectionEnd
from server.executor.settings import ExecutorSettings
from server.executor.updates import JsonObject, StatusUpdate
from server.mesos.recordio import encode_record
from server.mesos.subscription import SubscriptionState
from testkit.polling import until

SUBSCRIBED = {"type": "SUBSCRIBED", "subscribed": {"agent_info": {"id": {"value": "agent-1"}}}}


def settings(tmp_path: Path, **overrides: Any) -> ExecutorSettings:
    options: dict[str, Any] = {
        "framework_id": "fw",
        "executor_id": "app@-@agent-1",
        "agent_endpoint": "agent.test:5051",
        "sandbox": tmp_path,
        "subscription_backoff_max": 0.01,
        "authentication_token": "secret",
    }
    options.update(overrides)
    return ExecutorSettings(**options)


class Events:
    """Records what the connection hands to the executor."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []

    def on_subscribed(self, subscribed: JsonObject) -> None:
        self.received.append(("subscribed", subscribed))

    def on_launch(self, task_info: JsonObject) -> None:
        self.received.append(("launch", task_info))

    def on_launch_group(self, task_infos: list[JsonObject]) -> None:
        self.received.append(("launch_group", task_infos))

    def on_kill(self, task_id: str, kill_policy: JsonObject | None) -> None:
        self.received.append(("kill", task_id))

    def on_acknowledged(self, update: StatusUpdate) -> None:
        self.received.append(("acknowledged", update.uuid))

    def on_message(self, data: str) -> None:
        self.received.append(("message", data))

    def on_shutdown(self) -> None:
        self.received.append(("shutdown", None))


class Agent:
    """Answers each SUBSCRIBE with the next scripted stream (a list of events; ``None`` at the
    end keeps the stream open) and every UPDATE with 202."""

    def __init__(self, *streams: list[JsonObject | None]) -> None:
        self.streams = list(streams)
        self.subscribes: list[httpx.Request] = []
        self.updates: list[JsonObject] = []
        self.hold = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        if call["type"] == "UPDATE":
            self.updates.append(call["update"]["status"])
            return httpx.Response(202)
        self.subscribes.append(request)
        if not self.streams:
            return httpx.Response(503, text="agent is recovering")
        return httpx.Response(200, content=self._body(self.streams.pop(0)))

    async def _body(self, events: list[JsonObject | None]) -> AsyncIterator[bytes]:
        for event in events:
            if event is None:
                await self.hold.wait()
                return
            yield encode_record(json.dumps(event).encode())


async def test_subscribe_carries_the_ids_the_token_and_the_unacknowledged_updates(tmp_path: Path) -> None:
    agent = Agent([SUBSCRIBED, None])
    events = Events()
    connection = AgentConnection(settings(tmp_path), events, transport=httpx.MockTransport(agent))
    pending = connection.send_update("task-1", "TASK_RUNNING")  # before any subscription
    run = asyncio.create_task(connection.run())
    await until(lambda: connection.state is SubscriptionState.SUBSCRIBED, timeout=5)

    (request,) = agent.subscribes
    call = json.loads(request.content)
    assert str(request.url) == "http://agent.test:5051/api/v1/executor"
    assert request.headers["Authorization"] == "Bearer secret"
    assert request.headers["Content-Type"] == "application/json"
    assert call["framework_id"] == {"value": "fw"} and call["executor_id"] == {"value": "app@-@agent-1"}
    assert call["subscribe"]["unacknowledged_updates"] == [{"status": pending.status}]
    assert events.received == [("subscribed", SUBSCRIBED["subscribed"])]
    assert agent.updates == []  # the pending update rode on SUBSCRIBE, it is not POSTed again

    later = connection.send_update("task-1", "TASK_FINISHED")  # while subscribed: POSTed at once
    await until(lambda: len(agent.updates) == 1, timeout=5)
    assert agent.updates == [later.status]

    connection.close()
    assert await asyncio.wait_for(run, 5) is ConnectionEnd.CLOSED
    assert connection.state is SubscriptionState.CLOSED


async def test_without_checkpointing_a_lost_stream_means_the_agent_is_lost(tmp_path: Path) -> None:
    agent = Agent([SUBSCRIBED, {"type": "HEARTBEAT"}])
    connection = AgentConnection(settings(tmp_path), Events(), transport=httpx.MockTransport(agent))
    assert await asyncio.wait_for(connection.run(), 5) is ConnectionEnd.AGENT_LOST
    assert len(agent.subscribes) == 1


async def test_with_checkpointing_an_error_event_or_a_wrong_first_event_leads_to_a_new_subscribe(
    tmp_path: Path,
) -> None:
    agent = Agent(
        [SUBSCRIBED, {"type": "ERROR", "error": {"message": "resubscribe"}}, {"type": "SHUTDOWN"}],
        [{"type": "LAUNCH", "launch": {"task": {}}}],
        [SUBSCRIBED, {"type": "SHUTDOWN"}, None],
    )
    events = Events()
    connection = AgentConnection(
        settings(tmp_path, checkpoint=True), events, transport=httpx.MockTransport(agent)
    )
    run = asyncio.create_task(connection.run())
    await until(lambda: ("shutdown", None) in events.received, timeout=5)
    connection.close()
    assert await asyncio.wait_for(run, 5) is ConnectionEnd.CLOSED
    assert len(agent.subscribes) == 3
    assert [name for name, _ in events.received] == ["subscribed", "subscribed", "shutdown"]


async def test_with_checkpointing_the_agent_is_given_up_after_the_recovery_timeout(tmp_path: Path) -> None:
    agent = Agent()  # every SUBSCRIBE is answered 503
    connection = AgentConnection(
        settings(tmp_path, checkpoint=True, recovery_timeout=0.1),
        Events(),
        transport=httpx.MockTransport(agent),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(connection.run(), 5) is ConnectionEnd.AGENT_LOST
    assert 0.1 <= loop.time() - started < 2
    assert len(agent.subscribes) > 1


async def test_run_can_be_called_once(tmp_path: Path) -> None:
    connection = AgentConnection(
        settings(tmp_path, recovery_timeout=0.05), Events(), transport=httpx.MockTransport(Agent())
    )
    assert await asyncio.wait_for(connection.run(), 5) is ConnectionEnd.AGENT_LOST
    with pytest.raises(RuntimeError):
        await connection.run()
