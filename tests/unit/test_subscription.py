"""The one subscription loop, against ``httpx.MockTransport``: redirects, RecordIO however chunked,
the heartbeat watchdog, typed errors for every way a stream ends, resubscription and close."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from server.mesos.errors import (
    CallRejected,
    MesosError,
    NoLeader,
    ProtocolError,
    SubscriptionLost,
    TransportError,
)
from server.mesos.recordio import encode_record
from server.mesos.subscription import (
    JsonObject,
    OpenedStream,
    SubscribeRequest,
    SubscriptionLoop,
    SubscriptionState,
    resolve_location,
)

ENDPOINT = "http://master-1:5050/api/v1/scheduler"
SUBSCRIBED = {"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": "fw"}}}


def record(event: JsonObject) -> bytes:
    return encode_record(json.dumps(event).encode())


async def body(chunks: Iterable[bytes], *, then: Awaitable[None] | None = None) -> AsyncIterator[bytes]:
    """A response body sent chunk by chunk; ``then`` keeps it open after the last chunk."""
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)
    if then is not None:
        await then


def stream(
    chunks: Iterable[bytes], *, stream_id: str | None = "stream-1", then: Awaitable[None] | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if stream_id is not None:
        headers["Mesos-Stream-Id"] = stream_id
    return httpx.Response(200, headers=headers, content=body(chunks, then=then))


@dataclass
class Owner:
    """The loop's hooks, recording what they are told; ``retry`` decides ``on_lost``."""

    retry: Callable[[int], float | None] = lambda losses: None
    stop_on: str | None = None
    refuse: str | None = None
    subscribes: int = 0
    opened: list[OpenedStream] = field(default_factory=list)
    events: list[JsonObject] = field(default_factory=list)
    states: list[SubscriptionState] = field(default_factory=list)
    stream_ends: int = 0
    losses: list[tuple[bool, MesosError]] = field(default_factory=list)
    loop: SubscriptionLoop | None = None
    seen: asyncio.Event = field(default_factory=asyncio.Event)

    def make_loop(self, transport: httpx.AsyncBaseTransport, **options: Any) -> SubscriptionLoop:
        self.loop = SubscriptionLoop(
            subscribe=self.subscribe,
            on_open=self.on_open,
            on_event=self.on_event,
            on_stream_end=self.on_stream_end,
            on_lost=self.on_lost,
            transport=transport,
            **options,
        )
        return self.loop

    async def subscribe(self) -> SubscribeRequest:
        self.subscribes += 1
        return SubscribeRequest(endpoint=ENDPOINT, body=b'{"type":"SUBSCRIBE"}')

    async def on_open(self, opened: OpenedStream) -> None:
        self.opened.append(opened)

    async def on_event(self, event: JsonObject) -> bool:
        assert self.loop is not None
        self.states.append(self.loop.state)
        self.events.append(event)
        self.seen.set()
        if event["type"] == self.refuse:
            raise ProtocolError(f"refused {self.refuse}")
        return event["type"] != self.stop_on

    async def on_stream_end(self) -> None:
        self.stream_ends += 1

    async def on_lost(self, subscribed: bool, error: MesosError) -> float | None:
        self.losses.append((subscribed, error))
        return self.retry(len(self.losses))


async def run_until_given_up(
    owner: Owner, handler: Callable[[httpx.Request], Any], **options: Any
) -> MesosError:
    loop = owner.make_loop(httpx.MockTransport(handler), **options)
    with pytest.raises(MesosError) as caught:
        await asyncio.wait_for(loop.run(), 5)
    assert loop.state is SubscriptionState.CLOSED
    return caught.value


# -- one stream ----------------------------------------------------------------------------------


async def test_a_redirect_is_followed_and_the_subscribe_body_and_headers_are_sent() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.host == "master-1":
            return httpx.Response(307, headers={"Location": "//master-2:5050/api/v1/scheduler"})
        return stream([record(SUBSCRIBED)])

    owner = Owner()
    error = await run_until_given_up(owner, handler, headers={"Authorization": "Bearer t"})

    assert [str(r.url) for r in requests] == [ENDPOINT, "http://master-2:5050/api/v1/scheduler"]
    for request in requests:
        assert request.method == "POST"
        assert request.content == b'{"type":"SUBSCRIBE"}'
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["Authorization"] == "Bearer t"
    assert owner.opened == [
        OpenedStream(endpoint="http://master-2:5050/api/v1/scheduler", stream_id="stream-1")
    ]
    assert owner.events == [SUBSCRIBED]
    assert isinstance(error, SubscriptionLost) and "ended the subscription stream" in str(error)
    assert owner.losses == [(True, error)]


async def test_too_many_redirects_mean_no_leader() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "//master-1:5050"})

    assert isinstance(await run_until_given_up(Owner(), handler), NoLeader)


@pytest.mark.parametrize("size", [1, 2, 7, 1000], ids=lambda size: f"chunks-of-{size}")
async def test_records_split_across_chunks_arrive_whole_and_in_order(size: int) -> None:
    events = [
        SUBSCRIBED,
        {"type": "HEARTBEAT"},
        {"type": "UPDATE", "update": {"status": {"message": "démarré ✓ 日本"}}},
        {"type": "MESSAGE", "message": {"data": "aGk="}},
    ]
    data = b"".join(record(event) for event in events)
    chunks = [data[i : i + size] for i in range(0, len(data), size)]

    owner = Owner()
    await run_until_given_up(owner, lambda request: stream(chunks))

    assert owner.events == events
    assert owner.states == [SubscriptionState.SUBSCRIBED] * len(events)


async def test_a_stream_silent_for_the_missed_heartbeats_is_lost() -> None:
    subscribed = {"type": "SUBSCRIBED", "subscribed": {"heartbeat_interval_seconds": 0.02}}
    never = asyncio.get_running_loop().create_future()

    owner = Owner()
    error = await run_until_given_up(
        owner, lambda request: stream([record(subscribed)], then=never), heartbeat_misses=3
    )

    assert isinstance(error, SubscriptionLost)
    assert "heartbeats lost" in str(error) and "0.06 s" in str(error)
    assert isinstance(error.__cause__, TimeoutError)
    assert owner.losses == [(True, error)]


async def test_silence_before_subscribed_is_bounded_by_the_first_event_timeout() -> None:
    never = asyncio.get_running_loop().create_future()
    owner = Owner()
    error = await run_until_given_up(owner, lambda request: stream([], then=never), first_event_timeout=0.05)
    assert isinstance(error, SubscriptionLost) and "heartbeats lost" in str(error)
    assert owner.losses == [(False, error)]


async def test_a_subscribed_event_without_an_interval_leaves_the_stream_unsupervised() -> None:
    never = asyncio.get_running_loop().create_future()
    owner = Owner()
    loop = owner.make_loop(
        httpx.MockTransport(lambda request: stream([record(SUBSCRIBED)], then=never)),
        first_event_timeout=0.05,
    )
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(owner.seen.wait(), 5)
    await asyncio.sleep(0.2)  # four first-event timeouts
    assert owner.losses == []
    assert loop.state is SubscriptionState.SUBSCRIBED
    await loop.close()
    assert task.done() and task.exception() is None


# -- how an attempt fails ------------------------------------------------------------------------


async def test_a_4xx_answer_to_subscribe_is_call_rejected_with_the_status_and_body() -> None:
    owner = Owner()
    error = await run_until_given_up(
        owner, lambda request: httpx.Response(400, text="Role 'x' is not allowed")
    )
    assert isinstance(error, CallRejected)
    assert (error.call_type, error.status, error.body) == ("SUBSCRIBE", 400, "Role 'x' is not allowed")
    assert owner.losses == [(False, error)]
    assert owner.opened == [] and owner.stream_ends == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [(503, NoLeader), (500, TransportError), (429, TransportError), (408, TransportError)],
)
async def test_other_error_statuses_are_typed_errors(status: int, expected: type[MesosError]) -> None:
    error = await run_until_given_up(Owner(), lambda request: httpx.Response(status, text="busy"))
    assert type(error) is expected


async def test_a_refused_connection_is_a_transport_error_with_its_cause() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    error = await run_until_given_up(Owner(), handler)
    assert isinstance(error, TransportError)
    assert isinstance(error.__cause__, httpx.ConnectError)


async def test_no_answer_within_the_open_timeout_is_a_transport_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        raise AssertionError("not reached")

    error = await run_until_given_up(Owner(), handler, open_timeout=0.05)
    assert isinstance(error, TransportError) and "no answer to SUBSCRIBE" in str(error)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"12x\n{}", id="malformed-framing"),
        pytest.param(b"5\nhello", id="not-json"),
        pytest.param(encode_record(b'{"subscribed": {}}'), id="no-type"),
        pytest.param(encode_record(b"[1, 2]"), id="not-an-object"),
        pytest.param(b"20\n{}", id="ends-inside-a-record"),
    ],
)
async def test_a_broken_stream_is_a_protocol_error(data: bytes) -> None:
    owner = Owner()
    error = await run_until_given_up(owner, lambda request: stream([record(SUBSCRIBED), data]))
    assert isinstance(error, ProtocolError)
    assert owner.losses == [(True, error)]


async def test_an_event_the_owner_refuses_ends_the_stream_with_its_error() -> None:
    owner = Owner(refuse="SUBSCRIBED")
    error = await run_until_given_up(
        owner, lambda request: stream([record(SUBSCRIBED), record({"type": "HEARTBEAT"})])
    )
    assert str(error) == "refused SUBSCRIBED"
    assert owner.losses == [(False, error)], "a refused SUBSCRIBED does not count as subscribed"
    assert owner.events == [SUBSCRIBED]


# -- the loop ------------------------------------------------------------------------------------


async def test_every_loss_is_followed_by_a_new_subscribe_after_the_owners_delay() -> None:
    answers = [httpx.Response(503, text="no leader"), None, None]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0) if answers else httpx.Response(400)
        return answer if answer is not None else stream([record(SUBSCRIBED)])

    owner = Owner(retry=lambda losses: 0.01 if losses < 4 else None)
    error = await run_until_given_up(owner, handler)

    assert owner.subscribes == 4
    assert [(subscribed, type(error)) for subscribed, error in owner.losses] == [
        (False, NoLeader),
        (True, SubscriptionLost),
        (True, SubscriptionLost),
        (False, CallRejected),
    ]
    assert owner.stream_ends == 4
    assert isinstance(error, CallRejected)


async def test_close_drops_the_stream_without_on_lost_and_run_returns() -> None:
    never = asyncio.get_running_loop().create_future()
    owner = Owner()
    loop = owner.make_loop(httpx.MockTransport(lambda request: stream([record(SUBSCRIBED)], then=never)))
    assert loop.state is SubscriptionState.UNOPENED
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(owner.seen.wait(), 5)
    assert loop.state is SubscriptionState.SUBSCRIBED

    await loop.close()

    assert task.done() and task.exception() is None
    assert loop.state is SubscriptionState.CLOSED
    assert owner.losses == [] and owner.stream_ends == 1
    assert [t for t in asyncio.all_tasks() if t.get_name() == "mesos-subscription-reader"] == []
    await loop.close()  # idempotent
    await loop.run()  # closed: returns at once


async def test_run_can_be_called_once() -> None:
    never = asyncio.get_running_loop().create_future()
    owner = Owner()
    loop = owner.make_loop(httpx.MockTransport(lambda request: stream([record(SUBSCRIBED)], then=never)))
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(owner.seen.wait(), 5)
    with pytest.raises(RuntimeError):
        await loop.run()
    await loop.close()
    await task


async def test_on_event_returning_false_ends_the_loop_like_close() -> None:
    owner = Owner(stop_on="ERROR")
    loop = owner.make_loop(
        httpx.MockTransport(
            lambda request: stream(
                [record(SUBSCRIBED), record({"type": "ERROR"}), record({"type": "HEARTBEAT"})]
            )
        )
    )
    await asyncio.wait_for(loop.run(), 5)
    assert [event["type"] for event in owner.events] == ["SUBSCRIBED", "ERROR"]
    assert owner.losses == []
    assert loop.state is SubscriptionState.CLOSED


async def test_a_loop_closed_before_it_ran_never_subscribes() -> None:
    owner = Owner()
    loop = owner.make_loop(httpx.MockTransport(lambda request: httpx.Response(500)))
    await loop.close()
    assert loop.state is SubscriptionState.CLOSED
    await loop.run()
    assert owner.subscribes == 0


# -- redirect targets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "location", "expected"),
    [
        ("https://m1:5050/api/v1/scheduler", "//m2:5050", "https://m2:5050/api/v1/scheduler"),
        ("http://a:5051/api/v1/executor", "b:5051", "http://b:5051/api/v1/executor"),
        ("http://a:5051/api/v1/executor", "/proxy/api/v1/executor", "http://a:5051/proxy/api/v1/executor"),
    ],
)
def test_a_redirect_keeps_the_scheme_and_the_api_path_of_the_redirected_request(
    current: str, location: str, expected: str
) -> None:
    assert resolve_location(current, location) == expected


def test_an_empty_location_is_refused() -> None:
    with pytest.raises(ValueError):
        resolve_location(ENDPOINT, "  ")
