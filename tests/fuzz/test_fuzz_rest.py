"""Generated good and bad bodies for the REST routes, through the real Envoy on a real ZooKeeper.

Properties: a reply is 200 or a 4xx with ``{"code","message"}`` (never 5xx while ZooKeeper is up);
a refusal changes no node of the namespace; the server keeps its ZooKeeper session; an accepted
value reads back from ZooKeeper exactly as sent; a number or boolean that is not JSON's (see
``models``) is a 400, and an accepted one is stored as JSON reads it. Bounded by ``max_examples`` (deadline off), so the
module runs in well under a minute.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient

from server.domain.app import DEFAULT_APP_CPU_COUNT, DEFAULT_APP_MEMORY_MB
from server.registry.apps import AppRepository
from server.registry.jobs import JobRepository
from testkit.harness import Stack, snapshot, unique_name

from .models import (
    INVALID,
    NOT_SENT,
    crons,
    expected_boolean,
    expected_integer,
    expected_number,
    fresh_names,
    maybe,
    mutated,
    names,
    scripts,
    urls,
    value_candidates,
)

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ALLOWED = {200, 400, 401, 404, 409, 413}

APP_VALUE_FIELDS = (
    ("cpuCount", "cpu_count", expected_number, DEFAULT_APP_CPU_COUNT),
    ("memoryMB", "memory_mb", expected_number, DEFAULT_APP_MEMORY_MB),
    ("appCacheEnable", "app_cache_enable", expected_boolean, True),
    ("eventTraceSamplingCount", "event_trace_sampling_count", expected_integer, 0),
)
JOB_VALUE_FIELDS = (
    ("cpuCount", "cpu_count", expected_number, None),
    ("memoryMB", "memory_mb", expected_number, None),
    ("shardingTotalCount", "sharding_total_count", expected_integer, None),
    ("failover", "failover", expected_boolean, False),
    ("misfire", "misfire", expected_boolean, False),
)

app_value_fields = {
    "cpuCount": value_candidates,
    "memoryMB": value_candidates,
    "appCacheEnable": value_candidates,
    "eventTraceSamplingCount": value_candidates,
}
app_bodies = st.fixed_dictionaries(
    {"appName": maybe(names)},
    optional={"appURL": maybe(urls), "bootstrapScript": maybe(scripts), **app_value_fields},
) | fresh_names.flatmap(
    lambda name: mutated(
        {"appName": name, "appURL": "http://h/a.tgz", "bootstrapScript": "run.sh"},
        {"appURL": maybe(urls), "bootstrapScript": maybe(scripts), **app_value_fields},
    )
)


def modify_bodies(app_name: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"appName": st.just(app_name) | names},
        optional={"appURL": maybe(urls), "bootstrapScript": maybe(scripts), **app_value_fields},
    )


def job_bodies(app_name: str, job_name: str) -> st.SearchStrategy[dict[str, Any]]:
    generated = job_fields()
    template = {"appName": app_name, "cpuCount": 0.1, "memoryMB": 64, "jobExecutionType": "TRANSIENT",
                "shardingTotalCount": 2}  # fmt: skip
    return st.one_of(
        st.fixed_dictionaries(
            {"appName": st.just(app_name) | names, "jobName": st.just(job_name) | maybe(names)},
            optional=generated,
        ),
        (st.just(job_name) | fresh_names).flatmap(
            lambda name: mutated({**template, "jobName": name}, generated)
        ),
    )


def job_fields() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "cpuCount": value_candidates,
        "memoryMB": value_candidates,
        "jobExecutionType": maybe(st.sampled_from(["TRANSIENT", "DAEMON", "transient"])),
        "cron": maybe(crons),
        "shardingTotalCount": value_candidates,
        "shardingItemParameters": maybe(st.sampled_from(["0=a,1=b", "9=x", ""]) | st.text()),
        "jobParameter": maybe(st.text()),
        "failover": value_candidates,
        "misfire": value_candidates,
        "description": maybe(st.text()),
        "props": maybe(st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=4)),
    }


def check_values(
    body: dict[str, Any], status: int, stored: object, fields: tuple[Any, ...], previous: object = None
) -> None:
    """Against the model: a value it calls invalid was refused with 400; an accepted request stored
    each sent value as the model reads it, and the default (or, on modify, the previous value) for
    a value not sent."""
    for json_name, attribute, expected_of, default in fields:
        if json_name not in body:
            continue
        expected = expected_of(body[json_name])
        if expected is INVALID:
            assert status == 400, (json_name, body[json_name], status)
        elif status == 200:
            if expected is NOT_SENT:
                expected = getattr(previous, attribute) if previous is not None else default
            assert getattr(stored, attribute) == expected, (json_name, body[json_name])
            assert type(getattr(stored, attribute)) is type(expected), (json_name, body[json_name])


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


@pytest.fixture
def job_name(stack: Stack, token: str, app_name: str) -> str:
    """A registered job, so that generated updates can find one."""
    name = unique_name("fuzzjob")
    body = {"appName": app_name, "jobName": name, "cpuCount": 0.1, "memoryMB": 64, "jobExecutionType": "TRANSIENT",
            "shardingTotalCount": 1}  # fmt: skip
    with stack.rest(token) as client:
        assert client.post("/api/job/register", json=body).status_code == 200
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
        check_values(body, 200, stored, APP_VALUE_FIELDS)
        assert response.json()["appCacheEnable"] is stored.app_cache_enable
    else:
        check_values(body, response.status_code, None, APP_VALUE_FIELDS)
        assert snapshot(zk, stack.paths.root) == before
    assert stack.registry.client.client_id == session


@FUZZ
@given(data=st.data())
def test_modify_app_changes_only_the_fields_sent_and_writes_nothing_when_refused(
    stack: Stack, token: str, zk: KazooClient, app_name: str, data: st.DataObject
) -> None:
    body = data.draw(modify_bodies(app_name))
    session = stack.registry.client.client_id
    previous = AppRepository(stack.registry).get(app_name).app
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        response = client.put("/api/app", json=body)
    check_reply(response)
    if response.status_code == 200:
        stored = AppRepository(stack.registry).get(app_name).app
        for json_name, attribute in (("appURL", "app_url"), ("bootstrapScript", "bootstrap_script")):
            expected = body[json_name] if json_name in body else getattr(previous, attribute)
            assert getattr(stored, attribute) == expected
        check_values(body, 200, stored, APP_VALUE_FIELDS, previous=previous)
    else:
        check_values(body, response.status_code, None, APP_VALUE_FIELDS)
        assert snapshot(zk, stack.paths.root) == before
    assert stack.registry.client.client_id == session


@FUZZ
@given(data=st.data())
def test_register_and_update_job_reply_4xx_write_nothing_when_refused_and_read_back_when_accepted(
    stack: Stack, token: str, zk: KazooClient, app_name: str, job_name: str, data: st.DataObject
) -> None:
    body = data.draw(job_bodies(app_name, job_name))
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
        check_values(body, 200, stored, JOB_VALUE_FIELDS)
        reply = response.json()
        assert (reply["failover"], reply["misfire"]) == (stored.failover, stored.misfire)
        assert (reply["cpuCount"], reply["shardingTotalCount"]) == (
            stored.cpu_count,
            stored.sharding_total_count,
        )
    else:
        check_values(body, response.status_code, None, JOB_VALUE_FIELDS)
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
