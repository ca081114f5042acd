"""The Mesos scheduler client against the master double: subscription, RecordIO however chunked,
calls on their own connections, acknowledgements, reconciliation, and survival of lost streams.

Also: the double's own strictness (so later scheduler tests can trust it) and the leader
detector's pure parts (election child selection, master URLs, redirect locations); the ZooKeeper
lookup itself is tested in test_mesos_master_detection.py."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import logging
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from server.mesos.client import (
    Backoff,
    ClientState,
    FrameworkInfo,
    JsonObject,
    MesosSchedulerClient,
)
from server.mesos.detector import detect_http_leader, leader_from_children, normalize_master_url
from server.mesos.errors import CallRejected, MesosError, NoLeader, SubscriptionLost
from server.mesos.subscription import resolve_location
from testkit.mesos_double import (
    Chunker,
    MesosMasterDouble,
    byte_chunks,
    random_chunks,
    whole_chunks,
)

HEARTBEAT = 0.05  # seconds; with 5 misses the watchdog fires after 0.25 s of silence
FAST_BACKOFF = Backoff(initial=0.01, maximum=0.05, jitter=0.0)
FRAMEWORK = FrameworkInfo(user="root", name="elasticjob-cloud-test", hostname="scheduler.test")


# -- a handler that records everything -----------------------------------------------------------


class RecordingHandler:
    """Records every callback as (name, args); tests await callbacks instead of sleeping."""

    def __init__(self, reconcile: list[tuple[str, str | None]] | None = None) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.reconcile = reconcile or []
        self.update_hook: Callable[[JsonObject], Awaitable[None]] | None = None
        self._changed = asyncio.Event()

    def _add(self, name: str, *args: Any) -> None:
        self.events.append((name, args))
        self._changed.set()
        self._changed = asyncio.Event()

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for event, args in self.events if event == name]

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0) -> tuple[Any, ...]:
        async with asyncio.timeout(timeout):
            while len(self.named(name)) < count:
                await self._changed.wait()
        return self.named(name)[count - 1]

    async def on_subscribed(self, framework_id: str, heartbeat_interval: float) -> None:
        self._add("on_subscribed", framework_id, heartbeat_interval)

    async def on_offers(self, offers: list[JsonObject]) -> None:
        self._add("on_offers", offers)

    async def on_rescind(self, offer_id: str) -> None:
        self._add("on_rescind", offer_id)

    async def on_update(self, status: JsonObject) -> None:
        if self.update_hook is not None:
            await self.update_hook(status)
        self._add("on_update", status)

    async def on_message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        self._add("on_message", agent_id, executor_id, data)

    async def on_failure(self, agent_id: str | None, executor_id: str | None, status: int | None) -> None:
        self._add("on_failure", agent_id, executor_id, status)

    async def on_error(self, message: str) -> None:
        self._add("on_error", message)

    async def on_disconnected(self) -> None:
        self._add("on_disconnected")

    async def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        return list(self.reconcile)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
async def master() -> AsyncIterator[MesosMasterDouble]:
    async with MesosMasterDouble(heartbeat_interval=HEARTBEAT) as double:
        yield double


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@contextlib.asynccontextmanager
async def running(
    master_url: str,
    handler: RecordingHandler,
    *,
    framework: FrameworkInfo = FRAMEWORK,
    **options: Any,
) -> AsyncIterator[tuple[MesosSchedulerClient, asyncio.Task[None]]]:
    """A client running in a task; closed (and its run() awaited) on exit."""
    options.setdefault("backoff", FAST_BACKOFF)
    client = MesosSchedulerClient(master_url, framework, handler, **options)
    task = asyncio.create_task(client.run())
    try:
        yield client, task
    finally:
        await client.close()
        await task


def client_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("mesos-client")]


# -- subscription ---------------------------------------------------------------------------------


async def test_subscribe_sends_framework_info_and_reports_subscribed(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler) as (client, _):
        framework_id, heartbeat = await handler.wait_for("on_subscribed")

        subscribe = master.calls_of("SUBSCRIBE")[0]
        assert subscribe.status == 200
        assert subscribe.headers["content-type"] == "application/json"
        assert subscribe.headers["accept"] == "application/json"
        assert "mesos-stream-id" not in subscribe.headers
        assert subscribe.body is not None
        assert "framework_id" not in subscribe.body
        info = subscribe.body["subscribe"]["framework_info"]
        assert info == {
            "user": "root",
            "name": "elasticjob-cloud-test",
            "hostname": "scheduler.test",
            "failover_timeout": 604800.0,
            "checkpoint": True,
            "capabilities": [{"type": "PARTITION_AWARE"}],
        }
        assert framework_id == master.framework_id
        assert heartbeat == HEARTBEAT
        assert client.state is ClientState.SUBSCRIBED
        assert client.framework_id == framework_id
        assert client.stream_id == master.stream_id


def test_framework_role_is_sent_as_roles_with_the_multi_role_capability() -> None:
    info = FrameworkInfo(user="u", name="n", hostname="h", role="elasticjob").to_json("fw-1")
    assert info["roles"] == ["elasticjob"]
    assert [c["type"] for c in info["capabilities"]] == ["MULTI_ROLE", "PARTITION_AWARE"]
    assert info["id"] == {"value": "fw-1"}
    assert "role" not in info


def test_framework_info_requires_user_and_name() -> None:
    with pytest.raises(ValueError, match="user"):
        FrameworkInfo(user="", name="n")
    with pytest.raises(ValueError, match="name"):
        FrameworkInfo(user="u", name="")


async def test_stored_framework_id_resubscribes_as_the_same_framework(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler, framework_id="fw-from-zookeeper"):
        framework_id, _ = await handler.wait_for("on_subscribed")
    assert framework_id == "fw-from-zookeeper"
    body = master.calls_of("SUBSCRIBE")[0].body
    assert body is not None
    assert body["framework_id"] == {"value": "fw-from-zookeeper"}
    assert body["subscribe"]["framework_info"]["id"] == {"value": "fw-from-zookeeper"}


EVENT_SCRIPT_CHUNKERS = {
    "whole": whole_chunks,
    "every-byte": byte_chunks,
    "random-1-7": random_chunks(seed=7, max_size=7),
}


@pytest.mark.parametrize("chunker", EVENT_SCRIPT_CHUNKERS.values(), ids=EVENT_SCRIPT_CHUNKERS.keys())
async def test_events_arrive_intact_however_the_stream_is_chunked(chunker: Chunker) -> None:
    handler = RecordingHandler()
    async with (
        MesosMasterDouble(heartbeat_interval=10.0, chunker=chunker) as master,
        running(master.base_url, handler),
    ):
        framework_id, _ = await handler.wait_for("on_subscribed")
        offer = master.make_offer(agent_id="agent-7", cpus=2.5, mem=1024.0, attributes={"rack": "r1"})
        await master.send_offers([offer])
        await master.rescind(offer["id"]["value"])
        status = await master.send_update(
            "job@-@0@-@READY@-@agent-7@-@u1", "TASK_RUNNING", reliable=False, message="démarré ✓ 日本"
        )
        await master.send_message("agent-7", "app@-@agent-7", "données".encode())
        await master.send_failure(agent_id="agent-7", executor_id="app@-@agent-7", status=137)
        await handler.wait_for("on_failure")

    assert [name for name, _ in handler.events[:6]] == [
        "on_subscribed",
        "on_offers",
        "on_rescind",
        "on_update",
        "on_message",
        "on_failure",
    ]
    assert handler.named("on_offers") == [([offer],)]
    assert handler.named("on_rescind") == [(offer["id"]["value"],)]
    assert handler.named("on_update") == [(status,)]
    assert handler.named("on_message") == [("agent-7", "app@-@agent-7", "données".encode())]
    assert handler.named("on_failure") == [("agent-7", "app@-@agent-7", 137)]
    assert framework_id == offer["framework_id"]["value"]


# -- calls ----------------------------------------------------------------------------------------


async def test_every_call_carries_stream_id_and_framework_id_and_is_accepted(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler, reconcile_interval=None) as (client, _):
        framework_id, _ = await handler.wait_for("on_subscribed")
        await master.wait_for_call("RECONCILE")  # the implicit one after SUBSCRIBED
        task_info = {
            "name": "job-0",
            "task_id": {"value": "job@-@0@-@READY@-@agent-1@-@u1"},
            "agent_id": {"value": "agent-1"},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}}],
            "command": {"value": "true"},
        }
        offer = await master.offer()
        await client.accept(
            [offer["id"]["value"]],
            [{"type": "LAUNCH", "launch": {"task_infos": [task_info]}}],
            refuse_seconds=30,
        )
        await client.decline(["o-unknown"], refuse_seconds=3600)
        await client.revive(["elasticjob"])
        await client.suppress()
        await client.kill("job@-@0@-@READY@-@agent-1@-@u1", "agent-1")
        await client.shutdown("app@-@agent-1", "agent-1")
        await client.reconcile([("t-1", "agent-1"), ("t-2", None)])
        await client.message("agent-1", "app@-@agent-1", b"\x00\xffhello")

    sent = [c for c in master.calls if c.type not in ("SUBSCRIBE", "ACKNOWLEDGE")]
    assert [c.type for c in sent] == [
        "RECONCILE",
        "ACCEPT",
        "DECLINE",
        "REVIVE",
        "SUPPRESS",
        "KILL",
        "SHUTDOWN",
        "RECONCILE",
        "MESSAGE",
    ]
    for call in sent:
        assert call.status == 202, (call.type, call.reason)
        assert call.stream_id == master.subscriptions[0].stream_id
        assert call.framework_id == framework_id
        assert call.headers["content-type"] == "application/json"
    bodies = {c.type: c.body for c in sent}
    assert bodies["ACCEPT"] == {
        "type": "ACCEPT",
        "framework_id": {"value": framework_id},
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task_info]}}],
            "filters": {"refuse_seconds": 30},
        },
    }
    assert master.launched_tasks == [task_info]
    assert bodies["DECLINE"] == {
        "type": "DECLINE",
        "framework_id": {"value": framework_id},
        "decline": {"offer_ids": [{"value": "o-unknown"}], "filters": {"refuse_seconds": 3600}},
    }
    assert bodies["REVIVE"] is not None and bodies["REVIVE"]["revive"] == {"roles": ["elasticjob"]}
    assert bodies["SUPPRESS"] is not None and "suppress" not in bodies["SUPPRESS"]
    assert master.suppressed
    assert bodies["KILL"] is not None and bodies["KILL"]["kill"] == {
        "task_id": {"value": "job@-@0@-@READY@-@agent-1@-@u1"},
        "agent_id": {"value": "agent-1"},
    }
    assert bodies["SHUTDOWN"] is not None and bodies["SHUTDOWN"]["shutdown"] == {
        "executor_id": {"value": "app@-@agent-1"},
        "agent_id": {"value": "agent-1"},
    }
    assert bodies["RECONCILE"] is not None and bodies["RECONCILE"]["reconcile"] == {
        "tasks": [
            {"task_id": {"value": "t-1"}, "agent_id": {"value": "agent-1"}},
            {"task_id": {"value": "t-2"}},
        ]
    }
    assert bodies["MESSAGE"] is not None
    assert base64.b64decode(bodies["MESSAGE"]["message"]["data"]) == b"\x00\xffhello"


async def test_calls_before_subscription_raise_subscription_lost(handler: RecordingHandler) -> None:
    client = MesosSchedulerClient("http://127.0.0.1:9", FRAMEWORK, handler)
    with pytest.raises(SubscriptionLost):
        await client.decline(["o-1"])
    assert client.state is ClientState.UNOPENED


async def test_call_answered_with_an_error_status_raises_call_rejected(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler) as (client, _):
        await handler.wait_for("on_subscribed")
        master.fail_next_call("DECLINE", 503, "master is overloaded")
        with pytest.raises(CallRejected) as caught:
            await client.decline(["o-1"])
        assert caught.value.status == 503
        assert caught.value.body == "master is overloaded"
        assert caught.value.call_type == "DECLINE"
        assert isinstance(caught.value, MesosError)
        await client.decline(["o-1"])  # the next one goes through


# -- acknowledgements -----------------------------------------------------------------------------


async def test_update_with_uuid_is_acknowledged_only_after_on_update_returned(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler) as (client, _):
        await handler.wait_for("on_subscribed")
        acks_seen_inside_handler: list[int] = []

        async def persist_first(status: JsonObject) -> None:
            # A full round trip to the master while "persisting": an ACK sent too early would
            # have reached the double by now.
            await client.revive()
            acks_seen_inside_handler.append(len(master.calls_of("ACKNOWLEDGE")))

        handler.update_hook = persist_first
        status = await master.send_update("task-1", "TASK_RUNNING", agent_id="agent-1")
        ack = await master.wait_for_call("ACKNOWLEDGE")

    assert acks_seen_inside_handler == [0]
    assert ack.status == 202
    assert ack.body is not None
    assert ack.body["acknowledge"] == {
        "agent_id": {"value": "agent-1"},
        "task_id": {"value": "task-1"},
        "uuid": status["uuid"],  # sent back exactly as received
    }
    assert len(base64.b64decode(status["uuid"])) == 16
    assert master.pending_updates == {}
    assert master.unexpected_acknowledgements == []


async def test_update_without_uuid_is_never_acknowledged(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler):
        await handler.wait_for("on_subscribed")
        await master.send_update("task-unreliable", "TASK_RUNNING", reliable=False)
        reliable = await master.send_update("task-reliable", "TASK_RUNNING")
        await master.wait_for_call("ACKNOWLEDGE")
        await handler.wait_for("on_update", 2)

    acks = master.calls_of("ACKNOWLEDGE")
    assert len(acks) == 1
    assert acks[0].body is not None and acks[0].body["acknowledge"]["uuid"] == reliable["uuid"]


async def test_update_whose_handler_raises_is_not_acknowledged_until_resent_and_handled(
    handler: RecordingHandler,
) -> None:
    attempts: list[str] = []

    async def fail_once(status: JsonObject) -> None:
        attempts.append(status["uuid"])
        if len(attempts) == 1:
            raise RuntimeError("ZooKeeper is down")

    handler.update_hook = fail_once
    async with (
        MesosMasterDouble(heartbeat_interval=HEARTBEAT, update_resend_interval=0.05) as master,
        running(master.base_url, handler),
    ):
        await handler.wait_for("on_subscribed")
        status = await master.send_update("task-1", "TASK_FINISHED")
        ack = await master.wait_for_call("ACKNOWLEDGE")

    assert attempts[:2] == [status["uuid"], status["uuid"]]
    assert ack.body is not None and ack.body["acknowledge"]["uuid"] == status["uuid"]
    assert len(handler.named("on_update")) >= 1


async def test_launch_on_a_rescinded_offer_reports_task_dropped_without_uuid(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler) as (client, _):
        await handler.wait_for("on_subscribed")
        offer = await master.offer(agent_id="agent-2")
        await master.rescind(offer["id"]["value"])
        task = {
            "name": "t",
            "task_id": {"value": "t-1"},
            "agent_id": {"value": "agent-2"},
            "command": {"value": "true"},
        }
        await client.accept([offer["id"]["value"]], [{"type": "LAUNCH", "launch": {"task_infos": [task]}}])
        (status,) = await handler.wait_for("on_update")

    assert status["state"] == "TASK_DROPPED"  # PARTITION_AWARE framework
    assert status["reason"] == "REASON_INVALID_OFFERS"
    assert status["source"] == "SOURCE_MASTER"
    assert "uuid" not in status
    assert master.calls_of("ACKNOWLEDGE") == []
    assert master.launches == []


# -- reconciliation -------------------------------------------------------------------------------


async def test_subscribed_is_followed_by_explicit_then_implicit_reconciliation(
    master: MesosMasterDouble,
) -> None:
    handler = RecordingHandler(reconcile=[("task-a", "agent-1"), ("task-b", None)])
    async with running(master.base_url, handler, reconcile_interval=None):
        await master.wait_for_call("RECONCILE", count=2)
        await handler.wait_for("on_update", 2)  # the double answers the explicit query

    first, second = master.calls_of("RECONCILE")
    assert first.body is not None and second.body is not None
    assert [t["task_id"]["value"] for t in first.body["reconcile"]["tasks"]] == ["task-a", "task-b"]
    assert second.body["reconcile"] == {"tasks": []}
    answers = [args[0] for args in handler.named("on_update")]
    assert {a["task_id"]["value"] for a in answers} == {"task-a", "task-b"}
    assert all(a["reason"] == "REASON_RECONCILIATION" and "uuid" not in a for a in answers)
    assert master.calls_of("ACKNOWLEDGE") == []


async def test_nothing_to_reconcile_sends_only_the_implicit_reconciliation(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler, reconcile_interval=None) as (client, _):
        call = await master.wait_for_call("RECONCILE")
        await client.revive()  # a later call, so a stray second RECONCILE would have shown up
    assert call.body is not None and call.body["reconcile"] == {"tasks": []}
    assert len(master.calls_of("RECONCILE")) == 1


async def test_reconciliation_repeats_every_reconcile_interval(master: MesosMasterDouble) -> None:
    handler = RecordingHandler(reconcile=[("task-a", "agent-1")])
    async with running(master.base_url, handler, reconcile_interval=0.05):
        await master.wait_for_call("RECONCILE", count=6)
    kinds = [
        "explicit" if c.body and c.body["reconcile"]["tasks"] else "implicit"
        for c in master.calls_of("RECONCILE")
    ]
    assert kinds[:6] == ["explicit", "implicit"] * 3


# -- losing the stream ----------------------------------------------------------------------------


@pytest.mark.parametrize("clean", [False, True], ids=["connection-reset", "end-of-stream"])
async def test_dropped_stream_resubscribes_with_same_framework_id_and_reconciles(
    master: MesosMasterDouble, clean: bool
) -> None:
    handler = RecordingHandler(reconcile=[("task-a", "agent-1")])
    async with running(master.base_url, handler, reconcile_interval=None) as (client, _):
        framework_id, _ = await handler.wait_for("on_subscribed")
        await master.wait_for_call("RECONCILE", count=2)

        await master.drop_stream(clean=clean)
        await handler.wait_for("on_disconnected")
        second_id, _ = await handler.wait_for("on_subscribed", 2)
        await master.wait_for_call("RECONCILE", count=4)
        assert client.state is ClientState.SUBSCRIBED
        assert client.stream_id == master.subscriptions[1].stream_id != master.subscriptions[0].stream_id

    assert second_id == framework_id
    resubscribe = master.calls_of("SUBSCRIBE")[1].body
    assert resubscribe is not None
    assert resubscribe["framework_id"] == {"value": framework_id}
    assert resubscribe["subscribe"]["framework_info"]["id"] == {"value": framework_id}
    names = [name for name, _ in handler.events if name in ("on_subscribed", "on_disconnected")]
    assert names == ["on_subscribed", "on_disconnected", "on_subscribed"]
    reconciles = [c.body["reconcile"]["tasks"] for c in master.calls_of("RECONCILE") if c.body]
    assert [bool(tasks) for tasks in reconciles] == [True, False, True, False]
    later = master.calls_of("RECONCILE")[2:]
    assert all(c.stream_id == master.subscriptions[1].stream_id for c in later)


async def test_silent_stream_is_treated_as_broken_after_missed_heartbeats(
    master: MesosMasterDouble, handler: RecordingHandler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.mesos")
    async with running(master.base_url, handler):
        framework_id, _ = await handler.wait_for("on_subscribed")
        # Heartbeats flowing for twice the watchdog window: the stream stays up.
        await master.wait_until(lambda: master.heartbeats_sent >= 10, what="10 heartbeats")
        assert handler.named("on_disconnected") == []
        assert len(master.subscriptions) == 1

        master.pause_heartbeats()
        await handler.wait_for("on_disconnected")
        master.resume_heartbeats()
        second_id, _ = await handler.wait_for("on_subscribed", 2)

    assert second_id == framework_id
    assert "heartbeats lost" in caplog.text
    assert "resubscribing in" in caplog.text
    assert f"as framework {framework_id}" in caplog.text


async def test_malformed_recordio_breaks_the_stream_and_resubscribes(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler):
        await handler.wait_for("on_subscribed")
        await master.send_raw(b"12x\n{}")
        await handler.wait_for("on_disconnected")
        await handler.wait_for("on_subscribed", 2)


async def test_event_that_is_not_json_breaks_the_stream_and_resubscribes(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler):
        await handler.wait_for("on_subscribed")
        await master.send_raw(b"5\nhello")
        await handler.wait_for("on_disconnected")
        await handler.wait_for("on_subscribed", 2)


async def test_unreachable_master_is_retried_with_backoff_until_it_answers(handler: RecordingHandler) -> None:
    master = MesosMasterDouble(heartbeat_interval=HEARTBEAT)
    await master.start()
    master.set_no_leader()
    try:
        async with running(master.base_url, handler):
            await master.wait_for_call("SUBSCRIBE", count=3)
            assert handler.named("on_subscribed") == []
            master.set_no_leader(False)
            await handler.wait_for("on_subscribed")
    finally:
        await master.stop()
    assert [c.status for c in master.calls_of("SUBSCRIBE")][-1] == 200
    assert handler.named("on_disconnected") == []  # never subscribed before: nothing to report


async def test_master_that_never_answers_subscribe_is_given_up_on_and_retried(
    handler: RecordingHandler,
) -> None:
    connections: list[asyncio.StreamWriter] = []
    two_attempts = asyncio.Event()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # read nothing, answer nothing
        if len(connections) >= 2:
            two_attempts.set()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running(f"http://127.0.0.1:{port}", handler, subscribe_timeout=0.1):
            await asyncio.wait_for(two_attempts.wait(), 5)
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    assert handler.events == []


# -- redirects and errors -------------------------------------------------------------------------


async def test_subscribe_to_a_non_leader_follows_the_307_to_the_leader(handler: RecordingHandler) -> None:
    async with (
        MesosMasterDouble(heartbeat_interval=HEARTBEAT) as leader,
        MesosMasterDouble(heartbeat_interval=HEARTBEAT) as standby,
    ):
        standby.redirect_to(leader)
        async with running(standby.base_url, handler) as (client, _):
            await handler.wait_for("on_subscribed")
            await leader.wait_for_call("RECONCILE")
            await client.decline(["o-1"])
            assert client.endpoint == leader.endpoint

    assert [c.status for c in standby.calls] == [307]
    assert [c.type for c in leader.calls][:2] == ["SUBSCRIBE", "RECONCILE"]
    assert leader.calls_of("DECLINE")[0].status == 202


async def test_error_event_calls_on_error_and_closes_without_resubscribing(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler) as (client, task):
        await handler.wait_for("on_subscribed")
        await master.remove_framework()
        (message,) = await handler.wait_for("on_error")
        await asyncio.wait_for(task, 5)
        assert client.state is ClientState.CLOSED

    assert message == "Framework has been removed"
    assert len(master.calls_of("SUBSCRIBE")) == 1
    assert handler.named("on_disconnected") == []


async def test_removed_framework_failing_over_gets_error_instead_of_subscribed(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler):
        framework_id, _ = await handler.wait_for("on_subscribed")
        await master.remove_framework()
        await handler.wait_for("on_error")

    successor = RecordingHandler()
    client = MesosSchedulerClient(master.base_url, FRAMEWORK, successor, framework_id=framework_id)
    await asyncio.wait_for(client.run(), 5)
    assert successor.events == [("on_error", ("Framework has been removed",))]
    assert client.state is ClientState.CLOSED


async def test_subscribe_refused_with_400_makes_run_raise_call_rejected(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    master.fail_next_call("SUBSCRIBE", 400, "Role 'x' is not allowed")
    client = MesosSchedulerClient(master.base_url, FRAMEWORK, handler, backoff=FAST_BACKOFF)
    with pytest.raises(CallRejected) as caught:
        await asyncio.wait_for(client.run(), 5)
    assert caught.value.status == 400
    assert "not allowed" in caught.value.body
    assert client.state is ClientState.CLOSED


async def test_teardown_removes_the_framework_and_closes_the_client(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler) as (client, task):
        await handler.wait_for("on_subscribed")
        await client.teardown()
        assert task.done()
        assert client.state is ClientState.CLOSED
    assert master.calls_of("TEARDOWN")[0].status == 202
    assert handler.named("on_disconnected") == []
    await master.wait_for_disconnect()


# -- closing --------------------------------------------------------------------------------------


async def test_close_ends_the_stream_and_leaves_no_tasks_or_warnings(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = MesosSchedulerClient(master.base_url, FRAMEWORK, handler, backoff=FAST_BACKOFF)
        task = asyncio.create_task(client.run())
        await handler.wait_for("on_subscribed")
        await master.wait_for_call("RECONCILE")
        assert client_tasks()

        await client.close()

        assert task.done() and task.exception() is None
        assert client.state is ClientState.CLOSED
        assert client_tasks() == []
        await master.wait_for_disconnect()
        await client.close()  # idempotent
        gc.collect()
    assert handler.named("on_disconnected") == []
    with pytest.raises(SubscriptionLost):
        await client.revive()


class _LogEvent(logging.Handler):
    """Sets an asyncio event when a log message containing ``text`` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_close_while_waiting_to_resubscribe_returns_promptly(handler: RecordingHandler) -> None:
    waiting = _LogEvent("resubscribing in 30.00 s")
    mesos_logger = logging.getLogger("server.mesos")
    mesos_logger.addHandler(waiting)
    previous_level = mesos_logger.level
    mesos_logger.setLevel(logging.INFO)
    try:
        slow = Backoff(initial=30.0, maximum=30.0, jitter=0.0)
        client = MesosSchedulerClient("http://127.0.0.1:9", FRAMEWORK, handler, backoff=slow)
        task = asyncio.create_task(client.run())
        await asyncio.wait_for(waiting.seen.wait(), 5)  # nothing listens on port 9
        await asyncio.wait_for(client.close(), 1)
        assert task.done()
    finally:
        mesos_logger.removeHandler(waiting)
        mesos_logger.setLevel(previous_level)


async def test_leader_is_detected_again_before_every_resubscription(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    detections: list[str] = []

    async def detect(url: str) -> str:
        detections.append(url)
        if len(detections) == 1:
            raise NoLeader("election in progress")
        return master.base_url

    async with running("zk://zk.test:2181/mesos", handler, detect=detect):
        await handler.wait_for("on_subscribed")
        await master.drop_stream()
        await handler.wait_for("on_subscribed", 2)
    assert detections == ["zk://zk.test:2181/mesos"] * 3


async def test_close_from_inside_a_handler_stops_the_client(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    client = MesosSchedulerClient(master.base_url, FRAMEWORK, handler, backoff=FAST_BACKOFF)

    async def close_on_update(status: JsonObject) -> None:
        await client.close()

    handler.update_hook = close_on_update
    task = asyncio.create_task(client.run())
    await handler.wait_for("on_subscribed")
    await master.send_update("task-1", "TASK_RUNNING")
    await asyncio.wait_for(task, 5)
    assert client.state is ClientState.CLOSED
    # the handler returned normally, so the update was acknowledged before the client stopped
    assert len(master.calls_of("ACKNOWLEDGE")) == 1


# -- the master double's own strictness ----------------------------------------------------------


async def _post(
    master: MesosMasterDouble,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    content_type: str | None = "application/json",
    raw: bytes | None = None,
) -> int:
    """POST a call to the double by hand; return the HTTP status."""
    all_headers = {"Accept": "application/json", **(headers or {})}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    content = raw if raw is not None else json.dumps(body).encode()
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(master.endpoint, content=content, headers=all_headers)
    return response.status_code


async def test_double_rejects_malformed_calls_as_the_master_does(
    master: MesosMasterDouble, handler: RecordingHandler
) -> None:
    async with running(master.base_url, handler) as (client, _):
        framework_id, _ = await handler.wait_for("on_subscribed")
        good_stream = client.stream_id
        assert good_stream is not None
        fid = {"value": framework_id}
        revive = {"type": "REVIVE", "framework_id": fid}
        stream = {"Mesos-Stream-Id": good_stream}

        assert await _post(master, revive, headers=stream) == 202
        assert await _post(master, revive) == 400  # no stream id
        assert await _post(master, revive, headers={"Mesos-Stream-Id": str(uuid.uuid4())}) == 400  # stale
        assert (
            await _post(master, revive, headers=stream, content_type="application/json; charset=utf-8") == 415
        )
        assert await _post(master, revive, headers=stream, content_type=None) == 400
        assert await _post(master, {"type": "REVIVE"}, headers=stream) == 400  # no framework_id
        other = {"type": "REVIVE", "framework_id": {"value": "someone-else"}}
        assert await _post(master, other, headers=stream) == 400
        assert await _post(master, {"type": "LAUNCH_ROCKET", "framework_id": fid}, headers=stream) == 400
        assert await _post(master, None, headers=stream, raw=b"{not json") == 400
        ack_without_uuid = {
            "type": "ACKNOWLEDGE",
            "framework_id": fid,
            "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}},
        }
        assert await _post(master, ack_without_uuid, headers=stream) == 400
        subscribe_without_user = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}}
        assert await _post(master, subscribe_without_user) == 400
        subscribe = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "x"}}}
        assert await _post(master, subscribe, headers=stream) == 400  # SUBSCRIBE with a stream id
        mismatched = {
            "type": "SUBSCRIBE",
            "framework_id": {"value": "a"},
            "subscribe": {"framework_info": {"user": "u", "name": "x", "id": {"value": "b"}}},
        }
        assert await _post(master, mismatched) == 400

    # the client is gone: the framework is known but not subscribed
    await master.wait_for_disconnect()
    assert await _post(master, revive, headers=stream) == 403
    rejected = [c for c in master.calls if not c.accepted]
    assert len(rejected) == 13
    assert all(c.reason for c in rejected)


async def test_double_answers_calls_of_a_never_seen_framework_with_400() -> None:
    async with MesosMasterDouble(known_framework_ids={"fw-known"}) as master:
        unknown = await _post(master, {"type": "REVIVE", "framework_id": {"value": "fw-x"}})
        known = await _post(master, {"type": "REVIVE", "framework_id": {"value": "fw-known"}})
    assert unknown == 400  # "Framework cannot be found"
    assert known == 403  # "Framework is not subscribed"


# -- leader detection -----------------------------------------------------------------------------


def _master_info(ip: str | None, port: int, hostname: str | None = None) -> bytes:
    address: JsonObject = {"port": port}
    if ip is not None:
        address["ip"] = ip
    if hostname is not None:
        address["hostname"] = hostname
    return json.dumps({"id": "m", "ip": 1, "port": port, "address": address}).encode()


def test_zookeeper_leader_is_the_lowest_json_info_sequence() -> None:
    children = {
        "json.info_0000000012": _master_info("10.0.0.12", 5050),
        "json.info_0000000003": _master_info("10.0.0.3", 5051),
        "json.info_0000000007": _master_info("10.0.0.7", 5050),
        "info_0000000001": b"\x08\x01binary-protobuf",
        "log_replicas": b"",
    }
    assert leader_from_children(children) == "http://10.0.0.3:5051"


def test_zookeeper_leader_falls_back_to_hostname_and_brackets_ipv6() -> None:
    assert (
        leader_from_children({"json.info_1": _master_info(None, 5050, "master-a")}) == "http://master-a:5050"
    )
    assert leader_from_children({"json.info_1": _master_info("fd00::1", 5050)}) == "http://[fd00::1]:5050"


@pytest.mark.parametrize(
    "children",
    [
        pytest.param({}, id="empty"),
        pytest.param({"info_0000000001": b"x", "log_replicas": b""}, id="no-json-children"),
        pytest.param({"json.info_1": b"{not json"}, id="malformed-json"),
        pytest.param({"json.info_1": b'{"address": {"ip": "10.0.0.1"}}'}, id="no-port"),
    ],
)
def test_zookeeper_without_a_readable_leader_raises_no_leader(children: dict[str, bytes]) -> None:
    with pytest.raises(NoLeader):
        leader_from_children(children)


async def test_http_master_url_is_used_as_is() -> None:
    assert await detect_http_leader("http://master:5050/") == "http://master:5050"
    with pytest.raises(ValueError):
        await detect_http_leader("zk://zk:2181/mesos")
    assert normalize_master_url("master:5050") == "http://master:5050"
    assert normalize_master_url("https://m:5050/api/v1/scheduler") == "https://m:5050"
    with pytest.raises(ValueError):
        normalize_master_url("ftp://m:21")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("//10.0.0.2:5050/api/v1/scheduler", "https://10.0.0.2:5050/api/v1/scheduler"),
        ("//10.0.0.2:5050", "https://10.0.0.2:5050/api/v1/scheduler"),
        ("10.0.0.2:5050", "https://10.0.0.2:5050/api/v1/scheduler"),
        ("http://10.0.0.2:5050/api/v1/scheduler", "http://10.0.0.2:5050/api/v1/scheduler"),
        ("/master/api/v1/scheduler", "https://m1:5050/master/api/v1/scheduler"),
    ],
)
def test_redirect_location_is_resolved_against_the_redirected_request(location: str, expected: str) -> None:
    assert resolve_location("https://m1:5050/api/v1/scheduler", location) == expected
