"""ElasticJob-Cloud 3.0's app routes beyond the API document (``GET /api/app/list``, ``GET
/api/app/{appName}``, ``GET|POST /api/app/{appName}/disable``, ``POST .../enable``, ``DELETE
/api/app/{appName}``), through a real Envoy to the real server on a real ZooKeeper.

The shapes are 3.0's (its ``CloudAppRestfulApi``: a bare JSON array of apps, a bare ``true`` or
``false`` for the flag); the status codes and error bodies are ours
(``elasticjob-cloud-api.md``: 404 for an unknown app where 3.0 answered 200 with an empty body)."""

from __future__ import annotations

import httpx
import pytest
from kazoo.client import KazooClient

from testkit.harness import Stack, snapshot, unique_name


def publish(client: httpx.Client, app_name: str, **fields: object) -> None:
    body = {
        "appName": app_name,
        "appURL": "http://app_host:8080/my-job.tar.gz",
        "bootstrapScript": "bin/start.sh",
        **fields,
    }
    response = client.post("/api/app", json=body)
    assert response.status_code == 200, response.text


def register(client: httpx.Client, app_name: str, job_name: str, **fields: object) -> None:
    body = {
        "appName": app_name,
        "jobName": job_name,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "jobExecutionType": "TRANSIENT",
        "cron": "0 0 * * * ?",
        "shardingTotalCount": 2,
        **fields,
    }
    response = client.post("/api/job/register", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture
def client(stack: Stack, token: str) -> httpx.Client:
    with stack.rest(token) as rest:
        yield rest


def test_the_app_list_is_a_bare_array_of_every_app(client: httpx.Client) -> None:
    names = [unique_name("app") for _ in range(3)]
    for name in names:
        publish(client, name, cpuCount=0.5)
    listed = client.get("/api/app/list")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert isinstance(body, list)
    by_name = {app["appName"]: app for app in body}
    assert set(names) <= set(by_name)
    assert by_name[names[0]] == {
        "appName": names[0],
        "appURL": "http://app_host:8080/my-job.tar.gz",
        "cpuCount": 0.5,
        "memoryMB": 128,
        "bootstrapScript": "bin/start.sh",
        "appCacheEnable": True,
        "eventTraceSamplingCount": 0,
    }
    assert [app["appName"] for app in body] == sorted(app["appName"] for app in body)


def test_one_app_is_answered_and_an_unknown_one_is_404(client: httpx.Client) -> None:
    name = unique_name("app")
    publish(client, name)
    got = client.get(f"/api/app/{name}")
    assert got.status_code == 200, got.text
    assert got.json()["appName"] == name
    assert got.json()["appURL"] == "http://app_host:8080/my-job.tar.gz"
    missing = client.get(f"/api/app/{unique_name('missing')}")
    assert missing.status_code == 404
    assert missing.json()["code"] == 5
    assert "missing" in missing.json()["message"]


def test_disable_and_enable_set_and_clear_the_flag_3_0_reads(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    name = unique_name("app")
    publish(client, name)
    assert client.get(f"/api/app/{name}/disable").json() is False
    disabled = client.post(f"/api/app/{name}/disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {}
    assert client.get(f"/api/app/{name}/disable").json() is True
    data, _ = zk.get(stack.paths.disabled_app(name))
    assert data == name.encode()  # 3.0 writes the name as the value
    assert client.post(f"/api/app/{name}/disable").status_code == 200  # again: no change
    enabled = client.post(f"/api/app/{name}/enable")
    assert enabled.status_code == 200, enabled.text
    assert client.get(f"/api/app/{name}/disable").text == "false"
    assert zk.exists(stack.paths.disabled_app(name)) is None


def test_disabling_an_app_drops_the_waiting_runs_of_its_jobs(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    app, other_app = unique_name("app"), unique_name("app")
    publish(client, app)
    publish(client, other_app)
    job, other_job = unique_name("job"), unique_name("job")
    register(client, app, job)
    register(client, other_app, other_job)
    for name in (job, other_job):
        assert client.post(f"/api/job/{name}/trigger").status_code == 200
    assert zk.exists(stack.paths.ready_job(job)) is not None
    assert client.post(f"/api/app/{app}/disable").status_code == 200
    assert zk.exists(stack.paths.ready_job(job)) is None
    assert zk.get(stack.paths.ready_job(other_job))[0] == b"1", "another app's runs stay"
    refused = client.post(f"/api/job/{job}/trigger")
    assert refused.status_code == 400
    assert "disabled" in refused.json()["message"]
    assert client.get(f"/api/job/{job}/disable").json() is True


def test_the_disable_flag_of_an_unknown_app_reads_false_and_changing_it_is_404(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    name = unique_name("missing")
    assert client.get(f"/api/app/{name}/disable").json() is False
    for verb in ("disable", "enable"):
        response = client.post(f"/api/app/{name}/{verb}")
        assert response.status_code == 404, verb
        assert response.json()["code"] == 5
    assert zk.exists(stack.paths.disabled_app(name)) is None, "nothing written"


def test_deleting_an_app_removes_it_its_jobs_their_state_and_its_flag(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    app, kept_app = unique_name("app"), unique_name("app")
    publish(client, app)
    publish(client, kept_app)
    jobs = [unique_name("job") for _ in range(2)]
    kept = unique_name("job")
    for name in jobs:
        register(client, app, name)
    register(client, kept_app, kept)
    assert client.post(f"/api/job/{jobs[0]}/trigger").status_code == 200
    assert client.post(f"/api/job/{jobs[1]}/disable").status_code == 200
    assert client.post(f"/api/app/{app}/disable").status_code == 200

    deleted = client.delete(f"/api/app/{app}")
    assert deleted.status_code == 200, deleted.text
    paths = stack.paths
    for path in (paths.app(app), paths.disabled_app(app)):
        assert zk.exists(path) is None, path
    for name in jobs:
        for path in (paths.job(name), paths.ready_job(name), paths.disabled_job(name)):
            assert zk.exists(path) is None, path
    assert zk.exists(paths.job(kept)) is not None, "another app's job stays"
    assert client.get(f"/api/app/{app}").status_code == 404
    assert app not in {a["appName"] for a in client.get("/api/app/list").json()}
    assert not set(jobs) & {j["jobName"] for j in client.get("/api/job/jobs").json()}


def test_deleting_an_unknown_app_is_404_and_writes_nothing(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    before = snapshot(zk, stack.paths.root)
    response = client.delete(f"/api/app/{unique_name('missing')}")
    assert response.status_code == 404
    assert response.json()["code"] == 5
    assert snapshot(zk, stack.paths.root) == before


def test_an_invalid_app_name_in_the_path_is_400_naming_the_field(client: httpx.Client) -> None:
    response = client.get("/api/app/bad%20name")
    assert response.status_code == 400
    assert "appName" in response.json()["message"]


def test_the_app_routes_need_the_token(stack: Stack) -> None:
    with stack.rest() as anonymous:
        for method, path in (
            ("GET", "/api/app/list"),
            ("GET", "/api/app/x"),
            ("POST", "/api/app/x/disable"),
            ("DELETE", "/api/app/x"),
        ):
            assert anonymous.request(method, path).status_code == 401, (method, path)
