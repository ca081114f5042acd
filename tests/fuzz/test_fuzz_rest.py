"""Generated good and bad bodies for the REST routes, through the real Envoy on a real ZooKeeper.

Properties: a reply is 200 or a 4xx with ``{"code","message"}`` (never 5xx while ZooKeeper is up);
a refusal changes no node of the namespace; the server keeps its ZooKeeper session; an accepted
value reads back from ZooKeeper exactly as sent. Bounded by ``max_examples`` (deadline off), so the
module runs in well under a minute.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient

from server.registry.apps import AppRepository
from server.registry.jobs import JobRepository
from testkit.harness import Stack, snapshot, unique_name

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ALLOWED = {200, 400, 401, 404, 409, 413}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
    st.sampled_from(["0x10", "yes", "1e308", "16", "true", "-1", "NaN", "Infinity"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)
names = st.one_of(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}\Z"), st.text(max_size=150))


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, json_values)


app_bodies = st.fixed_dictionaries(
    {"appName": maybe(names)},
    optional={
        "appURL": maybe(st.sampled_from(["http://h/a.tgz", "file:///tmp/a.tgz", "gopher://x"]) | st.text()),
        "bootstrapScript": maybe(st.sampled_from(["bin/start.sh", "../x", "/abs"]) | st.text()),
        "cpuCount": json_values,
        "memoryMB": json_values,
        "appCacheEnable": json_values,
        "eventTraceSamplingCount": json_values,
    },
)


def job_bodies(app_name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"appName": st.just(app_name) | names, "jobName": maybe(names)},
        optional={
            "cpuCount": json_values,
            "memoryMB": json_values,
            "jobExecutionType": maybe(st.sampled_from(["TRANSIENT", "DAEMON", "transient"])),
            "cron": maybe(st.sampled_from(["0/5 * * * * ?", "* * * * * ?", "bad", ""]) | st.text()),
            "shardingTotalCount": maybe(st.integers(min_value=-3, max_value=20_000)),
            "shardingItemParameters": maybe(st.sampled_from(["0=a,1=b", "9=x", ""]) | st.text()),
            "jobParameter": maybe(st.text()),
            "failover": json_values,
            "misfire": json_values,
            "description": maybe(st.text()),
            "props": maybe(st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=4)),
        },
    )


def check_reply(response: httpx.Response) -> None:
    assert response.status_code in ALLOWED, (response.status_code, response.text[:300])
    if response.status_code != 200:
        body = response.json()
        assert {"code", "message"} <= set(body), body
        assert len(response.content) < 4096


@pytest.fixture
def app_name(stack: Stack, token: str) -> str:
    name = unique_name("fuzzapp")
    with stack.rest(token) as client:
        response = client.post(
            "/api/app", json={"appName": name, "appURL": "http://h/a", "bootstrapScript": "s"}
        )
        assert response.status_code == 200
    return name


@FUZZ
@given(body=app_bodies)
def test_publish_app_replies_4xx_writes_nothing_when_refused_and_reads_back_when_accepted(
    stack: Stack, token: str, zk: KazooClient, body: dict[str, Any]
) -> None:
    session = stack.registry.client.client_id
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        response = client.post("/api/app", json=body)
    check_reply(response)
    if response.status_code == 200:
        stored = AppRepository(stack.registry).get(response.json()["appName"]).app
        assert stored.app_name == body["appName"] and stored.app_url == body["appURL"]
        assert stored.bootstrap_script == body["bootstrapScript"]
    else:
        assert snapshot(zk, stack.paths.root) == before
    assert stack.registry.client.client_id == session


@FUZZ
@given(data=st.data())
def test_register_and_update_job_reply_4xx_write_nothing_when_refused_and_read_back_when_accepted(
    stack: Stack, token: str, zk: KazooClient, app_name: str, data: st.DataObject
) -> None:
    body = data.draw(job_bodies(app_name))
    route = data.draw(st.sampled_from([("POST", "/api/job/register"), ("PUT", "/api/job/update")]))
    session = stack.registry.client.client_id
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        response = client.request(route[0], route[1], json=body)
    check_reply(response)
    if response.status_code == 200:
        stored = JobRepository(stack.registry).get(body["jobName"])
        for key, attribute in (
            ("description", "description"),
            ("jobParameter", "job_parameter"),
            ("cron", "cron"),
        ):
            if isinstance(body.get(key), str):
                sent = body[key].strip() if key == "cron" else body[key]
                assert getattr(stored, attribute) == sent
        if isinstance(body.get("props"), dict):
            assert dict(stored.props) == body["props"]
    else:
        assert snapshot(zk, stack.paths.root) == before
    assert stack.registry.client.client_id == session


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_raw_body_routes_reply_4xx_for_any_body(
    stack: Stack, token: str, zk: KazooClient, raw: bytes
) -> None:
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        trigger = client.post("/api/job/trigger", content=raw, headers={"Content-type": "application/json"})
        deregister = client.request(
            "DELETE", "/api/job/deregister", content=raw, headers={"Content-type": "application/json"}
        )
    for response in (trigger, deregister):
        check_reply(response)
        assert response.status_code != 200 or raw.strip()
    if trigger.status_code != 200 and deregister.status_code != 200:
        assert snapshot(zk, stack.paths.root) == before
