"""503 means "ZooKeeper is down", and only that: generated requests through Envoy before, during
and after an outage of a ZooKeeper this module owns.

While ZooKeeper is up (and the server's session established) no reply is a 503 (or any 5xx). While it is stopped a reply is a refusal of
the input (400), of the token (401), or a 503 naming ZooKeeper, and nothing is written: the
namespace after the outage is the one before it. Once ZooKeeper is back the server answers again
without a 503. A stopped ZooKeeper closes its sockets, so the server sees the outage at once and
answers 503 without waiting out its ZooKeeper timeout. Each example restarts ZooKeeper once, so
``max_examples`` is small.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, SessionExpiredError

from devstack.stack import ZooKeeperServer
from testkit.harness import Stack, running_stack, snapshot, unique_name, zookeeper_server
from testkit.polling import eventually

from .models import json_values

# Generated, not shrunk or replayed: each example restarts ZooKeeper, and a replay of the same
# requests meets a server still reconnecting from the previous example.
OUTAGE = settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.generate],
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
WHILE_DOWN = {400, 401, 503}
WHILE_UP = {200, 400, 401, 404, 409, 413}

pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)


@pytest.fixture(scope="module")
def outage_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, ZooKeeperServer, KazooClient]]:
    work = tmp_path_factory.mktemp("outage")
    with (
        zookeeper_server(work / "zk") as zk_server,
        running_stack(zk_server.connect_string, work) as stack,
    ):
        client = KazooClient(hosts=zk_server.connect_string)
        client.start(timeout=10)
        try:
            yield stack, zk_server, client
        finally:
            client.stop()
            client.close()


def with_field(template: dict[str, Any], fuzzed: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The valid ``template``, or a copy with one of its fields (or a new one) generated."""
    keys = st.sampled_from([*template, "cpuCount", "memoryMB", "failover", "appCacheEnable"])
    return st.just(template) | st.builds(lambda key, value: {**template, key: value}, keys, fuzzed)


def requests(app_name: str) -> st.SearchStrategy[tuple[str, str, Any]]:
    """(method, path, JSON body or raw bytes) of every writing route, mostly valid."""
    app = {"appName": unique_name("app"), "appURL": "http://h/a.tgz", "bootstrapScript": "run.sh"}
    job = {"appName": app_name, "jobName": unique_name("job"), "cpuCount": 0.1, "memoryMB": 64,
           "jobExecutionType": "TRANSIENT", "shardingTotalCount": 2}  # fmt: skip
    raw_names = st.sampled_from([job["jobName"].encode(), b"no_such_job", b"", b"bad name"])
    return st.one_of(
        st.tuples(st.just("POST"), st.just("/api/app"), with_field(app, json_values)),
        st.tuples(st.just("PUT"), st.just("/api/app"), with_field({"appName": app_name}, json_values)),
        st.tuples(st.just("POST"), st.just("/api/job/register"), with_field(job, json_values)),
        st.tuples(st.just("PUT"), st.just("/api/job/update"), with_field(job, json_values)),
        st.tuples(st.just("POST"), st.just("/api/job/trigger"), raw_names),
        st.tuples(st.just("DELETE"), st.just("/api/job/deregister"), raw_names),
    )


def send(client: httpx.Client, request: tuple[str, str, Any]) -> httpx.Response:
    method, path, body = request
    if isinstance(body, bytes):
        return client.request(method, path, content=body, headers={"Content-type": "application/json"})
    return client.request(method, path, json=body)


def serving(stack: Stack) -> bool:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def settled_snapshot(client: KazooClient, root: str) -> dict[str, bytes] | None:
    """The namespace, or None while the looking client is still reconnecting."""
    with contextlib.suppress(ConnectionLoss, SessionExpiredError):
        return snapshot(client, root)
    return None


@OUTAGE
@given(data=st.data())
def test_a_503_is_answered_only_while_zookeeper_is_down_and_nothing_is_written_then(
    outage_stack: tuple[Stack, ZooKeeperServer, KazooClient], data: st.DataObject
) -> None:
    stack, zk_server, looking = outage_stack
    token = stack.login()
    app_name = unique_name("app")
    # Up means ZooKeeper running and the server's session established (after a restart, kazoo may
    # take a few seconds to reconnect, and then learn that its session expired meanwhile).
    eventually(lambda: serving(stack), what="the server serving")
    with stack.rest(token) as client:
        published = client.post(
            "/api/app", json={"appName": app_name, "appURL": "http://h/a", "bootstrapScript": "s"}
        )
        assert published.status_code == 200, published.text
        sent = data.draw(st.lists(requests(app_name), min_size=4, max_size=8))
        for request in sent:
            response = send(client, request)
            assert response.status_code in WHILE_UP, (request, response.status_code, response.text[:200])

        before = snapshot(looking, stack.paths.root)
        zk_server.stop()
        try:
            for request in sent:
                response = send(client, request)
                assert response.status_code in WHILE_DOWN, (
                    request,
                    response.status_code,
                    response.text[:200],
                )
                assert {"code", "message"} <= set(response.json())
                if response.status_code == 503:
                    assert response.json()["code"] == 14 and "ZooKeeper" in response.json()["message"]
        finally:
            zk_server.start()

        eventually(lambda: serving(stack), what="the server serving again after ZooKeeper restarted")
        after = eventually(lambda: settled_snapshot(looking, stack.paths.root), what="a snapshot")
        assert after == before
        for request in sent:
            response = send(client, request)
            assert response.status_code in WHILE_UP, (request, response.status_code, response.text[:200])
