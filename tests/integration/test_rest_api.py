"""The API document's requests, through a real Envoy to the real server on a real ZooKeeper."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc
import httpx
import pytest
import yaml
from elasticjob.cloud.v1 import auth_pb2, auth_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kazoo.client import KazooClient

from testkit.clock import ManualClock
from testkit.harness import Stack, snapshot, unique_name

JSON = {"Content-type": "application/json"}


def publish_app(client: httpx.Client, app_name: str, **fields: object) -> httpx.Response:
    body = {
        "appName": app_name,
        "appURL": "http://app_host:8080/my-job.tar.gz",
        "bootstrapScript": "bin/start.sh",
        **fields,
    }
    return client.post("/api/app", json=body)


def job_body(app_name: str, job_name: str, **fields: object) -> dict[str, object]:
    return {
        "appName": app_name,
        "jobName": job_name,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "jobExecutionType": "TRANSIENT",
        "cron": "0/5 * * * * ?",
        "shardingTotalCount": 5,
        **fields,
    }


def stored(zk: KazooClient, path: str) -> dict[str, object]:
    data, _ = zk.get(path)
    value = yaml.safe_load(data)
    assert isinstance(value, dict)
    return value


@pytest.fixture
def app_name(stack: Stack, token: str) -> str:
    name = unique_name("app")
    with stack.rest(token) as client:
        assert publish_app(client, name).status_code == 200
    return name


def test_the_documents_example_requests_work_as_written(stack: Stack, zk: KazooClient) -> None:
    base = stack.envoy.base_url
    with httpx.Client(base_url=base, timeout=10) as client:
        login = client.post(
            "/api/login",
            content='{"username": "root", "password": "pwd"}',
            headers={"Content-Type": "application/json"},
        )
        assert login.status_code == 200
        token = login.json()["accessToken"]
        headers = {**JSON, "accessToken": token}

        published = client.post(
            "/api/app",
            headers=headers,
            content='{"appName":"my_app","appURL":"http://app_host:8080/my-job.tar.gz","cpuCount":0.1,'
            '"memoryMB":64.0,"bootstrapScript":"bin/start.sh","appCacheEnable":true,"eventTraceSamplingCount":0}',
        )
        assert published.status_code == 200, published.text
        assert published.json() == {
            "appName": "my_app",
            "appURL": "http://app_host:8080/my-job.tar.gz",
            "cpuCount": 0.1,
            "memoryMB": 64,
            "bootstrapScript": "bin/start.sh",
            "appCacheEnable": True,
            "eventTraceSamplingCount": 0,
        }

        modified = client.put(
            "/api/app", headers=headers, content='{"appName":"my_app","appCacheEnable":true}'
        )
        assert modified.status_code == 200, modified.text
        assert modified.json()["appURL"] == "http://app_host:8080/my-job.tar.gz"

        registered = client.post(
            "/api/job/register",
            headers=headers,
            content='{"appName":"my_app","cpuCount":0.1,"memoryMB":64.0,"jobExecutionType":"TRANSIENT",'
            '"jobName":"my_job","cron":"0/5 * * * * ?","shardingTotalCount":5,"failover":true,"misfire":true}',
        )
        assert registered.status_code == 200, registered.text
        assert registered.json()["jobErrorHandlerType"] == "LOG"
        assert registered.json()["jobExecutorServiceHandlerType"] == "CPU"

        updated = client.put(
            "/api/job/update",
            headers=headers,
            content='{"appName":"my_app","jobName":"my_job","cpuCount":0.1,"memoryMB":64.0,'
            '"jobExecutionType":"TRANSIENT","cron":"0/5 * * * * ?","shardingTotalCount":5,'
            '"failover":true,"misfire":true}',
        )
        assert updated.status_code == 200, updated.text

        triggered = client.post("/api/job/trigger", headers=headers, content="my_job")
        assert triggered.status_code == 200, triggered.text
        assert zk.get(stack.paths.ready_job("my_job"))[0] == b"1"

        job_node = stored(zk, stack.paths.job("my_job"))
        assert job_node["cron"] == "0/5 * * * * ?"
        assert job_node["shardingTotalCount"] == 5
        assert job_node["misfire"] is True

        deregistered = client.request("DELETE", "/api/job/deregister", headers=headers, content="my_job")
        assert deregistered.status_code == 200, deregistered.text
        assert zk.exists(stack.paths.job("my_job")) is None
        assert zk.exists(stack.paths.ready_job("my_job")) is None

        app_node = stored(zk, stack.paths.app("my_app"))
        assert app_node == {
            "appCacheEnable": True,
            "appName": "my_app",
            "appURL": "http://app_host:8080/my-job.tar.gz",
            "bootstrapScript": "bin/start.sh",
            "cpuCount": 0.1,
            "eventTraceSamplingCount": 0,
            "memoryMB": 64.0,
        }


def test_rest_responses_do_not_leak_grpc_headers(stack: Stack, token: str, app_name: str) -> None:
    with stack.rest(token) as client:
        ok = client.put("/api/app", json={"appName": app_name})
        refused = client.put("/api/app", json={"appName": unique_name("missing")})
    for response in (ok, refused):
        assert not [name for name in response.headers if name.lower().startswith("grpc-")]
    assert refused.status_code == 404


def test_raw_body_routes_accept_a_json_string_too(
    stack: Stack, token: str, app_name: str, zk: KazooClient
) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        assert client.post("/api/job/register", json=job_body(app_name, job_name)).status_code == 200
        assert client.post("/api/job/trigger", content=f'"{job_name}"', headers=JSON).status_code == 200
        response = client.request("DELETE", "/api/job/deregister", content=f'"{job_name}"', headers=JSON)
    assert response.status_code == 200, response.text
    assert zk.exists(stack.paths.job(job_name)) is None


def test_modify_app_changes_only_the_fields_sent(stack: Stack, token: str, zk: KazooClient) -> None:
    name = unique_name("app")
    with stack.rest(token) as client:
        publish_app(
            client, name, cpuCount=0.5, memoryMB=256.0, appCacheEnable=True, eventTraceSamplingCount=3
        )
        response = client.put("/api/app", json={"appName": name, "appCacheEnable": False})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "appName": name,
        "appURL": "http://app_host:8080/my-job.tar.gz",
        "cpuCount": 0.5,
        "memoryMB": 256,
        "bootstrapScript": "bin/start.sh",
        "appCacheEnable": False,
        "eventTraceSamplingCount": 3,
    }
    node = stored(zk, stack.paths.app(name))
    assert node["appCacheEnable"] is False
    assert node["cpuCount"] == 0.5
    assert node["eventTraceSamplingCount"] == 3


def test_publish_app_fills_in_the_documented_defaults(stack: Stack, token: str) -> None:
    name = unique_name("app")
    with stack.rest(token) as client:
        response = publish_app(client, name)
    assert response.status_code == 200
    body = response.json()
    assert (body["cpuCount"], body["memoryMB"], body["appCacheEnable"], body["eventTraceSamplingCount"]) == (
        1,
        128,
        True,
        0,
    )


def test_handler_types_typed_boolean_by_the_document_accept_false_and_names(
    stack: Stack, token: str, app_name: str
) -> None:
    with stack.rest(token) as client:
        defaulted = client.post(
            "/api/job/register",
            json=job_body(
                app_name, unique_name("job"), jobExecutorServiceHandlerType=False, jobErrorHandlerType=False
            ),
        )
        named = client.post(
            "/api/job/register",
            json=job_body(
                app_name,
                unique_name("job"),
                jobExecutorServiceHandlerType="SINGLE_THREAD",
                jobErrorHandlerType="THROW",
            ),
        )
    assert defaulted.status_code == 200, defaulted.text
    assert defaulted.json()["jobExecutorServiceHandlerType"] == "CPU"
    assert defaulted.json()["jobErrorHandlerType"] == "LOG"
    assert named.status_code == 200, named.text
    assert named.json()["jobExecutorServiceHandlerType"] == "SINGLE_THREAD"
    assert named.json()["jobErrorHandlerType"] == "THROW"


# The spec's error table, row by row (ZooKeeper unreachable is tested in test_registry_outage.py).
def test_an_invalid_field_is_refused_with_400_naming_it(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        response = publish_app(client, unique_name("app"), cpuCount=0.0001)
    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert "cpuCount" in response.json()["message"]


def test_a_missing_required_field_is_refused_with_400(stack: Stack, token: str, app_name: str) -> None:
    body = job_body(app_name, unique_name("job"))
    del body["shardingTotalCount"]
    with stack.rest(token) as client:
        response = client.post("/api/job/register", json=body)
    assert response.status_code == 400
    assert "shardingTotalCount is required" in response.json()["message"]


def test_a_misspelled_required_field_is_refused_not_silently_dropped(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        response = client.post(
            "/api/app",
            json={"appName": unique_name("app"), "appUrl": "http://h/a.tgz", "bootstrapScript": "run.sh"},
        )
    assert response.status_code == 400
    assert "appURL is required" in response.json()["message"]


def test_a_bad_cron_is_refused_before_anything_is_written(
    stack: Stack, token: str, app_name: str, zk: KazooClient
) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        response = client.post("/api/job/register", json=job_body(app_name, job_name, cron="0/5 * * * *"))
    assert response.status_code == 400
    assert "cron" in response.json()["message"]
    assert zk.exists(stack.paths.job(job_name)) is None


def test_an_empty_raw_body_is_refused_with_400(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        trigger = client.post("/api/job/trigger", content="", headers=JSON)
        deregister = client.request("DELETE", "/api/job/deregister", content="  ", headers=JSON)
    assert trigger.status_code == 400
    assert deregister.status_code == 400
    assert "body" in trigger.json()["message"]


def test_wrong_login_is_refused_with_401(stack: Stack) -> None:
    with stack.rest() as client:
        response = client.post("/api/login", json={"username": "root", "password": "wrong"})
    assert response.status_code == 401
    assert response.json()["code"] == 16


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"accessToken": "not-a-token"},
        {"accessToken": "eyJzdWIiOiJyb290In0.forged-signature"},
        {"Authorization": "Bearer forged.token"},
    ],
    ids=["no-token", "garbage", "forged", "forged-bearer"],
)
def test_calls_without_a_valid_token_are_refused_with_401(stack: Stack, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=stack.envoy.base_url, headers=headers, timeout=10) as client:
        response = publish_app(client, unique_name("app"))
    assert response.status_code == 401
    assert response.json()["code"] == 16


def test_an_expired_token_is_refused_with_401(stack: Stack) -> None:
    from server.api.tokens import TokenSigner

    long_ago = ManualClock(datetime.fromtimestamp(1_000_000.0, UTC))
    expired = TokenSigner(stack.settings.token_secret, 60, clock=long_ago).issue("root")
    with stack.rest(expired) as client:
        response = publish_app(client, unique_name("app"))
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_a_bearer_token_is_accepted_like_the_access_token_header(stack: Stack, token: str) -> None:
    with httpx.Client(
        base_url=stack.envoy.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        response = publish_app(client, unique_name("app"))
    assert response.status_code == 200, response.text


def test_register_job_for_a_missing_app_is_refused_with_404(
    stack: Stack, token: str, zk: KazooClient
) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        response = client.post("/api/job/register", json=job_body(unique_name("missing"), job_name))
    assert response.status_code == 404
    assert "does not exist" in response.json()["message"]
    assert zk.exists(stack.paths.job(job_name)) is None


@pytest.mark.parametrize("operation", ["update", "deregister", "trigger", "modify-app"])
def test_operations_on_a_missing_resource_are_refused_with_404(
    stack: Stack, token: str, app_name: str, operation: str
) -> None:
    missing = unique_name("missing")
    with stack.rest(token) as client:
        if operation == "update":
            response = client.put("/api/job/update", json=job_body(app_name, missing))
        elif operation == "deregister":
            response = client.request("DELETE", "/api/job/deregister", content=missing, headers=JSON)
        elif operation == "trigger":
            response = client.post("/api/job/trigger", content=missing, headers=JSON)
        else:
            response = client.put("/api/app", json={"appName": missing, "appCacheEnable": False})
    assert response.status_code == 404
    assert response.json()["code"] == 5
    assert missing in response.json()["message"]


def test_publishing_an_existing_app_is_refused_with_409(stack: Stack, token: str, app_name: str) -> None:
    with stack.rest(token) as client:
        response = publish_app(client, app_name, cpuCount=2.0)
    assert response.status_code == 409
    assert response.json()["code"] == 6


def test_registering_an_existing_job_is_refused_with_409_and_keeps_the_first(
    stack: Stack, token: str, app_name: str, zk: KazooClient
) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        assert client.post("/api/job/register", json=job_body(app_name, job_name)).status_code == 200
        response = client.post("/api/job/register", json=job_body(app_name, job_name, shardingTotalCount=9))
    assert response.status_code == 409
    assert stored(zk, stack.paths.job(job_name))["shardingTotalCount"] == 5


def test_triggering_a_daemon_job_is_refused_with_400(stack: Stack, token: str, app_name: str) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        assert (
            client.post(
                "/api/job/register", json=job_body(app_name, job_name, jobExecutionType="DAEMON")
            ).status_code
            == 200
        )
        response = client.post("/api/job/trigger", content=job_name, headers=JSON)
    assert response.status_code == 400
    assert response.json()["code"] == 9
    assert "DAEMON" in response.json()["message"]


def test_triggering_a_disabled_job_is_refused_with_400(
    stack: Stack, token: str, app_name: str, zk: KazooClient
) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        assert client.post("/api/job/register", json=job_body(app_name, job_name)).status_code == 200
        zk.create(stack.paths.disabled_job(job_name), makepath=True)
        response = client.post("/api/job/trigger", content=job_name, headers=JSON)
    assert response.status_code == 400
    assert "disabled" in response.json()["message"]
    assert zk.exists(stack.paths.ready_job(job_name)) is None


def test_refused_requests_leave_zookeeper_untouched(
    stack: Stack, token: str, app_name: str, zk: KazooClient
) -> None:
    job_name = unique_name("job")
    with stack.rest(token) as client:
        assert client.post("/api/job/register", json=job_body(app_name, job_name)).status_code == 200
        before = snapshot(zk, stack.paths.root)
        refused = [
            publish_app(client, app_name, cpuCount=3.0),
            publish_app(client, unique_name("app"), memoryMB=0.5),
            client.put("/api/app", json={"appName": app_name, "cpuCount": -1}),
            client.put("/api/app", json={"appName": app_name, "bootstrapScript": "../../etc/evil.sh"}),
            client.post("/api/job/register", json=job_body(app_name, job_name, description="other")),
            client.post(
                "/api/job/register", json=job_body(app_name, unique_name("job"), shardingTotalCount=0)
            ),
            client.post(
                "/api/job/register",
                json=job_body(app_name, unique_name("job"), shardingItemParameters="0=a,7=b"),
            ),
            client.put("/api/job/update", json=job_body(app_name, job_name, cron="not a cron")),
            client.put("/api/job/update", json=job_body(unique_name("missing"), job_name)),
            client.put(
                "/api/job/update", json=job_body(app_name, job_name, jobExecutionType="DAEMON", cron="")
            ),
            client.post(
                "/api/job/register", json=job_body(app_name, unique_name("job"), props={"a": {"b": "c"}})
            ),
            client.post("/api/job/register", json=job_body(app_name, unique_name("job"), props={"a": None})),
        ]
        after = snapshot(zk, stack.paths.root)
    assert [response.status_code for response in refused] == [
        409,
        400,
        400,
        400,
        409,
        400,
        400,
        400,
        404,
        400,
        400,
        400,
    ]
    assert after == before


def test_a_node_written_by_elasticjob_cloud_3_is_served_and_modified(
    stack: Stack, token: str, zk: KazooClient
) -> None:
    app_name, job_name = unique_name("app"), unique_name("job")
    zk.create(
        stack.paths.app(app_name),
        (
            "appCacheEnable: true\n"
            f"appName: {app_name}\n"
            "appURL: http://localhost/app.jar\n"
            "bootstrapScript: bin/start.sh\n"
            "cpuCount: 1.0\n"
            "eventTraceSamplingCount: 0\n"
            "memoryMB: 128.0\n"
        ).encode(),
        makepath=True,
    )
    zk.create(
        stack.paths.job(job_name),
        (
            f"appName: {app_name}\ncpuCount: 1.0\ncron: 0/30 * * * * ?\ndescription: ''\ndisabled: false\n"
            f"failover: true\njobExecutionType: TRANSIENT\njobName: {job_name}\njobParameter: ''\n"
            "maxTimeDiffSeconds: 0\nmemoryMB: 128.0\nmisfire: true\nmonitorExecution: false\noverwrite: false\n"
            "reconcileIntervalMinutes: 0\nshardingItemParameters: ''\nshardingTotalCount: 10\n"
        ).encode(),
        makepath=True,
    )
    with stack.rest(token) as client:
        modified = client.put("/api/app", json={"appName": app_name, "memoryMB": 512.0})
        updated = client.put(
            "/api/job/update", json=job_body(app_name, job_name, cron="0/30 * * * * ?", shardingTotalCount=3)
        )
        triggered = client.post("/api/job/trigger", content=job_name, headers=JSON)
    assert modified.status_code == 200, modified.text
    assert modified.json()["appURL"] == "http://localhost/app.jar"
    assert modified.json()["memoryMB"] == 512
    assert updated.status_code == 200, updated.text
    assert triggered.status_code == 200, triggered.text
    job_node = stored(zk, stack.paths.job(job_name))
    assert job_node["shardingTotalCount"] == 3
    for lite_key, value in {
        "disabled": False,
        "monitorExecution": False,
        "overwrite": False,
        "maxTimeDiffSeconds": 0,
        "reconcileIntervalMinutes": 0,
    }.items():
        assert job_node[lite_key] == value
    assert stored(zk, stack.paths.app(app_name))["memoryMB"] == 512.0


def test_a_json_node_written_by_elasticjob_cloud_2_is_read(stack: Stack, token: str, zk: KazooClient) -> None:
    app_name = unique_name("app")
    document = {
        "appName": app_name,
        "appURL": "http://localhost/app.tar.gz",
        "bootstrapScript": "bin/start.sh",
        "cpuCount": 2,
        "memoryMB": 64,
        "appCacheEnable": False,
    }
    zk.create(stack.paths.app(app_name), json.dumps(document).encode(), makepath=True)
    with stack.rest(token) as client:
        response = client.put("/api/app", json={"appName": app_name, "eventTraceSamplingCount": 5})
    assert response.status_code == 200, response.text
    assert response.json()["cpuCount"] == 2
    assert response.json()["appCacheEnable"] is False
    assert stored(zk, stack.paths.app(app_name))["eventTraceSamplingCount"] == 5


def test_grpc_clients_reach_the_services_through_envoy_too(stack: Stack) -> None:
    with grpc.insecure_channel(stack.envoy_grpc_target) as channel:
        login = auth_pb2_grpc.AuthServiceStub(channel).Login(
            auth_pb2.LoginRequest(username="root", password="pwd"), timeout=5
        )
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    assert login.access_token
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_unknown_paths_and_methods_are_answered_404_by_envoy(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        unknown_path = client.get("/api/nothing/here")
        wrong_method = client.get("/api/job/register")
        outside_api = client.get("/index.html")
    for response in (unknown_path, wrong_method, outside_api):
        assert response.status_code == 404
        assert response.json()["code"] == 5


def test_unknown_query_parameters_are_ignored(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        ok = client.post(
            "/api/app?debug=1&trace=yes",
            json={"appName": unique_name("app"), "appURL": "http://h/a.tgz", "bootstrapScript": "run.sh"},
        )
    assert ok.status_code == 200, ok.text


def test_request_bodies_over_one_mebibyte_are_refused(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        response = client.post(
            "/api/app",
            json={
                "appName": unique_name("app"),
                "appURL": "http://h/a.tgz",
                "bootstrapScript": "x" * (1 << 20),
            },
        )
    assert response.status_code == 413
    assert "1 MiB" in response.json()["message"]


def test_malformed_json_is_refused_with_a_json_error_body(stack: Stack, token: str) -> None:
    with stack.rest(token) as client:
        response = client.post("/api/app", content='{"appName": ', headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == 3
