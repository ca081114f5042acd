"""Bad input through the real Envoy: refused with a small 4xx naming the field and its limit,
nothing written, and the session of the replica kept; accepted text reads back exactly.

ZooKeeper refuses a request larger than its ``jute.maxbuffer`` (1 MB less a little by default) by
closing the connection (ZooKeeper Administrator's Guide, "Unsafe Options"), so one oversized node
would cost the replica its connection; Envoy's default limit on response headers is 60 KiB
(``max_response_headers_kb``), which a gRPC status echoing a long value exceeds.
"""

from __future__ import annotations

import httpx
import pytest
import yaml
from kazoo.client import KazooClient

from server.registry.jobs import JobRepository
from testkit.harness import Stack, snapshot, unique_name

JSON = {"Content-type": "application/json"}
SMALL_REPLY = 2048  # bytes: an error body quotes a prefix of the bad value, never the value


def app_body(app_name: str, **fields: object) -> dict[str, object]:
    return {"appName": app_name, "appURL": "http://h/app.tar.gz", "bootstrapScript": "bin/start.sh", **fields}


def job_body(app_name: str, job_name: str, **fields: object) -> dict[str, object]:
    return {
        "appName": app_name,
        "jobName": job_name,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "jobExecutionType": "TRANSIENT",
        "cron": "0/5 * * * * ?",
        "shardingTotalCount": 2,
        **fields,
    }


@pytest.fixture
def app_name(stack: Stack, token: str) -> str:
    name = unique_name("app")
    with stack.rest(token) as client:
        assert client.post("/api/app", json=app_body(name)).status_code == 200
    return name


def assert_refused(response: httpx.Response, field: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert len(response.content) < SMALL_REPLY, len(response.content)
    body = response.json()
    assert set(body) >= {"code", "message"}
    assert field in body["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("appURL", "http://h/" + "\x7f" * 300_000),
        ("appURL", "http://h/" + "a" * 5000),
        ("bootstrapScript", "\x7f" * 300_000),
        ("bootstrapScript", "run.sh " + "a" * 5000),
        ("appName", "a" * 20_000),
    ],
)
def test_an_oversized_app_field_is_refused_naming_its_limit_and_costs_no_session(
    stack: Stack, token: str, zk: KazooClient, field: str, value: str
) -> None:
    session_before = stack.registry.client.client_id
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        response = client.post("/api/app", json=app_body(unique_name("app"), **{field: value}))
        assert_refused(response, field)
        assert "limit" in response.json()["message"]
        assert snapshot(zk, stack.paths.root) == before
        assert client.post("/api/app", json=app_body(unique_name("app"))).status_code == 200
    assert stack.registry.client.client_id == session_before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cron", "0/5 * * * * ? " + "x" * 10_000),
        ("jobName", "a" * 20_000),
        ("description", "d" * 500_000),
        ("jobParameter", "p" * 100_000),
        ("shardingItemParameters", "0=" + "a" * 100_000),
        ("props", {f"k{i}": "v" for i in range(1000)}),
        ("props", {"k": "v" * 100_000}),
        ("props", {"k" * 1000: "v"}),
    ],
)
def test_an_oversized_job_field_is_refused_with_a_small_reply_and_writes_nothing(
    stack: Stack, token: str, app_name: str, zk: KazooClient, field: str, value: object
) -> None:
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        response = client.post(
            "/api/job/register", json=job_body(app_name, unique_name("job"), **{field: value})
        )
    assert_refused(response, field)
    assert snapshot(zk, stack.paths.root) == before


def test_a_node_that_would_encode_too_large_is_refused_before_writing(
    stack: Stack, token: str, app_name: str, zk: KazooClient
) -> None:
    # Every field within its limit, but DEL characters are stored escaped (four bytes each).
    fields = {
        "description": "\x7f" * 16_000,
        "jobParameter": "\x7f" * 16_000,
        "props": {f"k{i}": "\x7f" * 16_000 for i in range(8)},
    }
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        response = client.post("/api/job/register", json=job_body(app_name, unique_name("job"), **fields))
    assert_refused(response, "bytes")
    assert snapshot(zk, stack.paths.root) == before


def test_a_long_bad_value_is_quoted_by_a_short_prefix_only(stack: Stack, token: str, app_name: str) -> None:
    with stack.rest(token) as client:
        bad_cron = client.post(
            "/api/job/register", json=job_body(app_name, unique_name("job"), cron="x" * 200)
        )
        bad_name = client.post("/api/job/register", json=job_body(app_name, "-" + "a" * 90))
        bad_url = client.post("/api/app", json=app_body(unique_name("app"), appURL="gopher://" + "h" * 3000))
    for response, field in ((bad_cron, "cron"), (bad_name, "jobName"), (bad_url, "appURL")):
        assert_refused(response, field)
        assert "characters" in response.json()["message"]
        assert len(response.json()["message"]) < 400


@pytest.mark.parametrize(
    ("field", "value"),
    [("cpuCount", 1e308), ("cpuCount", 5000), ("memoryMB", 1e308), ("memoryMB", 1e12)],
)
def test_resources_beyond_a_machine_are_refused(
    stack: Stack, token: str, app_name: str, field: str, value: float
) -> None:
    with stack.rest(token) as client:
        job = client.post("/api/job/register", json=job_body(app_name, unique_name("job"), **{field: value}))
        app = client.post("/api/app", json=app_body(unique_name("app"), **{field: value}))
        modified = client.put("/api/app", json={"appName": app_name, field: value})
    for response in (job, app, modified):
        assert_refused(response, field)
        assert "at most" in response.json()["message"]


def test_query_parameters_never_override_the_json_body(
    stack: Stack, token: str, app_name: str, zk: KazooClient
) -> None:
    other_app, job_name = unique_name("other"), unique_name("job")
    with stack.rest(token) as client:
        assert client.post("/api/app", json=app_body(other_app)).status_code == 200
        registered = client.post(
            f"/api/job/register?appName={other_app}&jobName=elsewhere&shardingTotalCount=9",
            json=job_body(app_name, job_name),
        )
        published = client.post(
            "/api/app?appURL=http://evil/x.tgz&app_url=http://evil/y.tgz", json=app_body(unique_name("app"))
        )
    assert registered.status_code == 200, registered.text
    assert (registered.json()["appName"], registered.json()["jobName"]) == (app_name, job_name)
    assert registered.json()["shardingTotalCount"] == 2
    stored = yaml.safe_load(zk.get(stack.paths.job(job_name))[0])
    assert stored["appName"] == app_name
    assert zk.exists(stack.paths.job("elsewhere")) is None
    assert published.json()["appURL"] == "http://h/app.tar.gz"


@pytest.mark.parametrize(
    "text",
    [
        "a\u0085b",
        "line\u2028separator",
        "para\u2029graph",
        "tab\there",
        "del\x7f",
        "\xa0nbsp\xa0",
        "bom\ufeff",
    ],
)
def test_text_reads_back_exactly_as_sent(stack: Stack, token: str, app_name: str, text: str) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        registered = client.post(
            "/api/job/register",
            json=job_body(app_name, job_name, description=text, jobParameter=text, props={text: text}),
        )
        assert registered.status_code == 200, registered.text
        # an update reads the stored node back before replacing it
        updated = client.put(
            "/api/job/update",
            json=job_body(app_name, job_name, description=text, jobParameter=text, props={text: text}),
        )
    assert updated.status_code == 200, updated.text
    stored = JobRepository(stack.registry).get(job_name)
    for body in (registered.json(), updated.json()):
        assert (body["description"], body["jobParameter"], body["props"]) == (text, text, {text: text})
    assert (stored.description, stored.job_parameter, dict(stored.props)) == (text, text, {text: text})


@pytest.mark.parametrize(
    "props", [{"a": {"b": "c"}}, {"a": ["b"]}, {"a": 1}, {"a": True}, {"a": None}, "x", [1]]
)
def test_props_that_are_not_strings_are_refused_with_400_naming_props(
    stack: Stack, token: str, app_name: str, props: object
) -> None:
    with stack.rest(token) as client:
        response = client.post("/api/job/register", json=job_body(app_name, unique_name("job"), props=props))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3
    if not isinstance(props, list):  # Envoy refuses a list for an object without naming the field
        assert "props" in response.json()["message"]


def test_a_repeated_identical_request_after_success_succeeds_and_a_different_one_conflicts(
    stack: Stack, token: str, app_name: str
) -> None:
    job_name = unique_name("job")
    body = job_body(app_name, job_name, props={"k": "v"})
    with stack.rest(token) as client:
        assert client.post("/api/job/register", json=body).status_code == 200
        assert client.post("/api/job/register", json=body).status_code == 200
        assert client.post("/api/job/register", json={**body, "props": {}}).status_code == 409
        assert client.post("/api/app", json=app_body(app_name)).status_code == 200
        assert client.post("/api/app", json=app_body(app_name, memoryMB=256)).status_code == 409


# Booleans are JSON's true and false; numbers are JSON numbers or decimal numeric strings (as
# ElasticJob-Cloud 3.0's JSON reader took them). Envoy's transcoder alone takes "yes", "t", "1" for
# true and hex or signed strings for numbers, so these fields reach the server as JSON values.
NOT_BOOLEANS = ["yes", "y", "t", "1", "true", "false", 1, 0, [True], {"a": True}]
NOT_NUMBERS = ["0x10", "0x1p-3", "NaN", "Infinity", "-Infinity", "+1", " 1", "1 ", "1_0", "", "1e", ".5", True, [1]]  # fmt: skip
NOT_INTEGERS = [*NOT_NUMBERS, "1.5", 1.5, "1e1", 2**31]


def refusals(client: httpx.Client, app_name: str, field: str, value: object) -> list[httpx.Response]:
    """The requests that carry ``field`` = ``value``: register, update, publish and modify."""
    job_fields = {"failover", "misfire", "cpuCount", "memoryMB", "shardingTotalCount"}
    app_fields = {"appCacheEnable", "cpuCount", "memoryMB", "eventTraceSamplingCount"}
    sent: list[httpx.Response] = []
    if field in job_fields:
        body = job_body(app_name, unique_name("job"), **{field: value})
        sent.append(client.post("/api/job/register", json=body))
        sent.append(client.put("/api/job/update", json=body))
    if field in app_fields:
        sent.append(client.post("/api/app", json=app_body(unique_name("app"), **{field: value})))
        sent.append(client.put("/api/app", json={"appName": app_name, field: value}))
    return sent


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field in ("failover", "misfire", "appCacheEnable") for value in NOT_BOOLEANS]
    + [(field, value) for field in ("cpuCount", "memoryMB") for value in NOT_NUMBERS]
    + [
        (field, value)
        for field in ("shardingTotalCount", "eventTraceSamplingCount")
        for value in NOT_INTEGERS
    ],
)
def test_a_boolean_or_number_that_is_not_json_is_refused_naming_the_field(
    stack: Stack, token: str, app_name: str, zk: KazooClient, field: str, value: object
) -> None:
    before = snapshot(zk, stack.paths.root)
    with stack.rest(token) as client:
        responses = refusals(client, app_name, field, value)
    for response in responses:
        assert_refused(response, field)
    assert snapshot(zk, stack.paths.root) == before


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ({"cpuCount": "0.5", "memoryMB": "64", "shardingTotalCount": "3"}, (0.5, 64.0, 3)),
        ({"cpuCount": "2.5e-1", "memoryMB": "1E2", "shardingTotalCount": 3.0}, (0.25, 100.0, 3)),
        ({"cpuCount": 1, "memoryMB": 64, "shardingTotalCount": "-0"}, None),
    ],
)
def test_numbers_may_be_decimal_strings_and_read_back_as_numbers(
    stack: Stack, token: str, app_name: str, sent: dict[str, object], stored: tuple[float, float, int] | None
) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        response = client.post("/api/job/register", json=job_body(app_name, job_name, **sent))
    if stored is None:
        assert_refused(response, "shardingTotalCount")
        return
    assert response.status_code == 200, response.text
    job = JobRepository(stack.registry).get(job_name)
    assert (job.cpu_count, job.memory_mb, job.sharding_total_count) == stored
    reply = response.json()
    assert (reply["cpuCount"], reply["memoryMB"], reply["shardingTotalCount"]) == stored


@pytest.mark.parametrize("flag", [True, False])
def test_booleans_read_back_as_sent_and_null_means_not_sent(
    stack: Stack, token: str, app_name: str, zk: KazooClient, flag: bool
) -> None:
    job_name, new_app = unique_name("job"), unique_name("app")
    with stack.rest(token) as client:
        registered = client.post(
            "/api/job/register", json=job_body(app_name, job_name, failover=flag, misfire=not flag)
        )
        published = client.post(
            "/api/app",
            json=app_body(new_app, appCacheEnable=flag, eventTraceSamplingCount=None, cpuCount=None),
        )
        modified = client.put(
            "/api/app", json={"appName": new_app, "appCacheEnable": not flag, "memoryMB": None}
        )
    assert registered.status_code == published.status_code == modified.status_code == 200
    stored_job = yaml.safe_load(zk.get(stack.paths.job(job_name))[0])
    assert (stored_job["failover"], stored_job["misfire"]) == (flag, not flag)
    assert published.json()["appCacheEnable"] is flag
    stored_app = yaml.safe_load(zk.get(stack.paths.app(new_app))[0])
    assert (stored_app["appCacheEnable"], stored_app["cpuCount"], stored_app["memoryMB"]) == (
        not flag,
        1.0,
        128.0,
    )
    assert stored_app["eventTraceSamplingCount"] == 0
