"""ElasticJob-Cloud 3.0's job routes beyond the API document (``GET /api/job/jobs[/{jobName}]``,
``GET|POST /api/job/{jobName}/disable``, ``POST .../enable``, the path forms of deregister and
trigger, ``GET /api/job/tasks/running|ready|failover``), through a real Envoy to the real server
on a real ZooKeeper.

Success shapes are 3.0's (its ``CloudJobRestfulApi``: bare arrays; ``times`` of a ready job a
string; running tasks as ``TaskContext`` JSON, failover shards as ``FailoverTaskInfo``); status
codes and error bodies are ours (``elasticjob-cloud-api.md``). Running and failover nodes are
planted as a scheduler writes them (the registry layout of ``elasticjob-cloud-api.md``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml
from kazoo.client import KazooClient

from testkit.harness import Stack, snapshot, unique_name


@pytest.fixture
def client(stack: Stack, token: str) -> Iterator[httpx.Client]:
    with stack.rest(token) as rest:
        yield rest


@pytest.fixture
def app_name(client: httpx.Client) -> str:
    name = unique_name("app")
    response = client.post(
        "/api/app",
        json={"appName": name, "appURL": "http://app_host/app.tar.gz", "bootstrapScript": "bin/start.sh"},
    )
    assert response.status_code == 200, response.text
    return name


def register(client: httpx.Client, app_name: str, **fields: object) -> str:
    body: dict[str, object] = {
        "appName": app_name,
        "jobName": unique_name("job"),
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "jobExecutionType": "TRANSIENT",
        "cron": "0 0 * * * ?",
        "shardingTotalCount": 3,
        **fields,
    }
    response = client.post("/api/job/register", json=body)
    assert response.status_code == 200, response.text
    return str(body["jobName"])


def test_the_job_list_is_a_bare_array_of_job_configs(client: httpx.Client, app_name: str) -> None:
    name = register(client, app_name, description="hourly", props={"k": "v"})
    listed = client.get("/api/job/jobs")
    assert listed.status_code == 200, listed.text
    jobs = listed.json()
    assert isinstance(jobs, list)
    assert [job["jobName"] for job in jobs] == sorted(job["jobName"] for job in jobs)
    mine = next(job for job in jobs if job["jobName"] == name)
    assert mine == {
        "appName": app_name,
        "jobName": name,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "jobExecutionType": "TRANSIENT",
        "cron": "0 0 * * * ?",
        "shardingTotalCount": 3,
        "shardingItemParameters": "",
        "jobParameter": "",
        "failover": False,
        "misfire": False,
        "jobExecutorServiceHandlerType": "CPU",
        "jobErrorHandlerType": "LOG",
        "description": "hourly",
        "props": {"k": "v"},
    }


def test_one_job_is_answered_and_an_unknown_one_is_404(client: httpx.Client, app_name: str) -> None:
    name = register(client, app_name)
    got = client.get(f"/api/job/jobs/{name}")
    assert got.status_code == 200, got.text
    assert got.json()["jobName"] == name
    assert got.json() == next(job for job in client.get("/api/job/jobs").json() if job["jobName"] == name)
    missing = client.get(f"/api/job/jobs/{unique_name('missing')}")
    assert missing.status_code == 404
    assert missing.json()["code"] == 5


def test_the_disable_flag_reads_true_for_a_disabled_job_a_disabled_app_and_a_missing_job(
    client: httpx.Client, app_name: str, stack: Stack, zk: KazooClient
) -> None:
    job, other = register(client, app_name), register(client, app_name)
    assert client.get(f"/api/job/{job}/disable").json() is False
    assert client.post(f"/api/job/{job}/disable").status_code == 200
    assert client.get(f"/api/job/{job}/disable").json() is True
    assert zk.get(stack.paths.disabled_job(job))[0] == job.encode()
    assert client.get(f"/api/job/{other}/disable").json() is False, "only that job"
    assert client.post(f"/api/job/{job}/enable").status_code == 200
    assert client.get(f"/api/job/{job}/disable").json() is False
    assert zk.exists(stack.paths.disabled_job(job)) is None

    assert client.post(f"/api/app/{app_name}/disable").status_code == 200
    assert client.get(f"/api/job/{other}/disable").json() is True, "its app is disabled"
    assert client.get(f"/api/job/{unique_name('missing')}/disable").json() is True, "as 3.0"


def test_disabling_a_job_keeps_its_waiting_runs_and_refuses_triggers(
    client: httpx.Client, app_name: str, stack: Stack, zk: KazooClient
) -> None:
    job = register(client, app_name)
    assert client.post(f"/api/job/{job}/trigger").status_code == 200
    assert client.post(f"/api/job/{job}/disable").status_code == 200
    assert zk.get(stack.paths.ready_job(job))[0] == b"1"
    refused = client.post(f"/api/job/{job}/trigger")
    assert refused.status_code == 400
    assert refused.json()["code"] == 9
    assert client.post(f"/api/job/{job}/enable").status_code == 200
    assert zk.get(stack.paths.ready_job(job))[0] == b"1", "the run waited through disable and enable"


def test_disable_and_enable_of_an_unknown_job_are_404_and_write_nothing(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    name = unique_name("missing")
    before = snapshot(zk, stack.paths.root)
    for verb in ("disable", "enable"):
        response = client.post(f"/api/job/{name}/{verb}")
        assert response.status_code == 404, verb
        assert name in response.json()["message"]
    assert snapshot(zk, stack.paths.root) == before


def test_the_path_form_of_deregister_removes_the_job_and_its_state(
    client: httpx.Client, app_name: str, stack: Stack, zk: KazooClient
) -> None:
    job = register(client, app_name)
    assert client.post(f"/api/job/{job}/trigger").status_code == 200
    assert client.post(f"/api/job/{job}/disable").status_code == 200
    removed = client.delete(f"/api/job/{job}/deregister")
    assert removed.status_code == 200, removed.text
    for path in (stack.paths.job(job), stack.paths.ready_job(job), stack.paths.disabled_job(job)):
        assert zk.exists(path) is None, path
    again = client.delete(f"/api/job/{job}/deregister")
    assert again.status_code == 404
    assert again.json()["code"] == 5


def test_the_path_form_of_trigger_queues_a_run_and_refuses_as_the_body_form(
    client: httpx.Client, app_name: str, stack: Stack, zk: KazooClient
) -> None:
    job = register(client, app_name, misfire=True)
    assert client.post(f"/api/job/{job}/trigger").status_code == 200
    assert client.post("/api/job/trigger", content=job).status_code == 200
    assert zk.get(stack.paths.ready_job(job))[0] == b"2"
    daemon = register(client, app_name, jobExecutionType="DAEMON", cron="0/5 * * * * ?")
    refused = client.post(f"/api/job/{daemon}/trigger")
    assert refused.status_code == 400
    assert "DAEMON" in refused.json()["message"]
    missing = client.post(f"/api/job/{unique_name('missing')}/trigger")
    assert missing.status_code == 404


def test_running_ready_and_failover_tasks_in_3_0s_shapes(
    client: httpx.Client, app_name: str, stack: Stack, zk: KazooClient
) -> None:
    job = register(client, app_name, misfire=True)
    paths = stack.paths
    running_id = f"{job}@-@0@-@READY@-@agent-7@-@4f1c"
    failover_id = f"{job}@-@1@-@FAILOVER@-@agent-8@-@9a2b"
    lost_id = f"{job}@-@2@-@READY@-@agent-8@-@77aa"
    zk.create(paths.running_task(job, f"{job}@-@0"), running_id.encode(), makepath=True)
    zk.create(paths.running_task(job, f"{job}@-@1"), failover_id.encode(), makepath=True)
    zk.create(
        paths.failover_shard(job, f"{job}@-@2"),
        f"{lost_id}\nattempts: 1\nretryAt: 0.000".encode(),
        makepath=True,
    )
    for _ in range(2):
        assert client.post(f"/api/job/{job}/trigger").status_code == 200
    try:
        running = client.get("/api/job/tasks/running")
        assert running.status_code == 200, running.text
        mine = [task for task in running.json() if task["metaInfo"]["jobName"] == job]
        assert mine == [
            {
                "id": running_id,
                "metaInfo": {"jobName": job, "shardingItems": [0]},
                "type": "READY",
                "slaveId": "agent-7",
                "idle": False,
            },
            {
                "id": failover_id,
                "metaInfo": {"jobName": job, "shardingItems": [1]},
                "type": "FAILOVER",
                "slaveId": "agent-8",
                "idle": False,
            },
        ]
        ready = client.get("/api/job/tasks/ready")
        assert ready.status_code == 200, ready.text
        assert {"jobName": job, "times": "2"} in ready.json()
        failover = client.get("/api/job/tasks/failover")
        assert failover.status_code == 200, failover.text
        assert [entry for entry in failover.json() if entry["taskInfo"]["jobName"] == job] == [
            {"taskInfo": {"jobName": job, "shardingItems": [2]}, "originalTaskId": lost_id}
        ]
    finally:
        zk.delete(paths.running_job(job), recursive=True)
        zk.delete(paths.failover_job(job), recursive=True)


def test_a_query_parameter_cannot_override_a_body_field_of_a_post(
    client: httpx.Client, app_name: str, stack: Stack, zk: KazooClient
) -> None:
    name, other = unique_name("job"), unique_name("job")
    body = {
        "appName": app_name,
        "jobName": name,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "jobExecutionType": "TRANSIENT",
        "shardingTotalCount": 2,
    }
    response = client.post(f"/api/job/register?jobName={other}&shardingTotalCount=7", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["jobName"] == name
    assert response.json()["shardingTotalCount"] == 2
    assert yaml.safe_load(zk.get(stack.paths.job(name))[0])["shardingTotalCount"] == 2
    assert zk.exists(stack.paths.job(other)) is None
    triggered = client.post(f"/api/job/{name}/trigger?jobName={other}")
    assert triggered.status_code == 200, triggered.text
    assert zk.exists(stack.paths.ready_job(other)) is None
    assert zk.get(stack.paths.ready_job(name))[0] == b"1"


def test_a_query_parameter_cannot_override_a_path_field_of_a_get(client: httpx.Client, app_name: str) -> None:
    """Envoy's transcoder binds a query parameter to the request field of that name even when the
    path binds it too, and the query's value wins; so only the GET routes whose fields are query
    parameters keep their query string, and a path's job or app name is the one answered for."""
    name = register(client, app_name)
    other = unique_name("other")
    assert client.get(f"/api/job/jobs/{name}?unknown=1").json()["jobName"] == name
    for path in (f"/api/job/jobs/{other}", f"/api/job/{other}/state"):
        for parameter in ("jobName", "job_name"):
            bound = client.get(f"{path}?{parameter}={name}")
            assert bound.status_code == 404, (path, parameter, bound.text)
    assert client.get(f"/api/app/{unique_name('app')}?appName={app_name}").status_code == 404
    assert client.get(f"/api/job/{name}/state?jobName={other}").json()["jobName"] == name
    listed = client.get("/api/job/jobs?per_page=1&page=2")
    assert listed.status_code == 200
    assert name in {job["jobName"] for job in listed.json()}


def test_the_query_routes_keep_their_query_string(client: httpx.Client, app_name: str) -> None:
    """Run history filters and the sandbox's appName are query parameters: they reach the server."""
    assert client.get("/api/job/events/executions?per_page=0").status_code == 400
    assert client.get("/api/operate/sandbox?appName=").status_code == 400
    assert client.get(f"/api/operate/sandbox?appName={app_name}").status_code == 200


def test_the_job_routes_need_the_token(stack: Stack) -> None:
    with stack.rest() as anonymous:
        for method, path in (
            ("GET", "/api/job/jobs"),
            ("GET", "/api/job/jobs/x"),
            ("GET", "/api/job/x/disable"),
            ("POST", "/api/job/x/enable"),
            ("DELETE", "/api/job/x/deregister"),
            ("POST", "/api/job/x/trigger"),
            ("GET", "/api/job/tasks/running"),
            ("GET", "/api/job/tasks/ready"),
            ("GET", "/api/job/tasks/failover"),
        ):
            assert anonymous.request(method, path).status_code == 401, (method, path)
