"""The operations routes through a real Envoy to the real server on a real ZooKeeper: the job
state call, reconciliation requests and their window, the sandboxes of an app's executors.

This stack runs no scheduler, so the running, failover and diagnosis nodes a leader writes are
planted directly, in the layout and value formats the scheduler uses (``server.registry``).
ElasticJob-Cloud 3.0's ``ReconcileController`` is the model of the reconcile routes (one call per
10 s across both; it answered 500 "Repeat explicitReconcile", we answer 429 with the wait).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from elasticjob.cloud.v1 import operate_pb2, operate_pb2_grpc
from kazoo.client import KazooClient

from devstack.stack import ZooKeeperServer
from server.registry.diagnosis import Diagnosis
from server.registry.failover import FailoverEntry
from testkit.e2e import System, running_system
from testkit.harness import Stack, grpc_metadata, running_stack, snapshot, unique_name
from testkit.polling import eventually

JSON = {"Content-type": "application/json"}


@pytest.fixture
def client(stack: Stack, token: str) -> Iterator[httpx.Client]:
    with stack.rest(token) as rest:
        yield rest


def publish_app(client: httpx.Client) -> str:
    name = unique_name("app")
    body = {"appName": name, "appURL": "http://app_host/app.tar.gz", "bootstrapScript": "bin/start.sh"}
    assert client.post("/api/app", json=body).status_code == 200
    return name


def register_job(client: httpx.Client, app_name: str, **fields: object) -> str:
    name = unique_name("job")
    body = {
        "appName": app_name,
        "jobName": name,
        "cpuCount": 0.5,
        "memoryMB": 64,
        "jobExecutionType": "TRANSIENT",
        "shardingTotalCount": 3,
        **fields,
    }
    response = client.post("/api/job/register", json=body)
    assert response.status_code == 200, response.text
    return name


def state_of(client: httpx.Client, job_name: str) -> dict[str, object]:
    response = client.get(f"/api/job/{job_name}/state")
    assert response.status_code == 200, response.text
    value = response.json()
    assert isinstance(value, dict)
    return value


def test_a_cron_jobs_state_lists_its_next_five_fire_times_in_the_zone(client: httpx.Client) -> None:
    job = register_job(client, publish_app(client), cron="0 30 12 * * ?")
    before = datetime.now(UTC)
    state = state_of(client, job)
    assert state["jobName"] == job
    assert state["enabled"] is True
    assert state["jobDisabled"] is False and state["appDisabled"] is False
    assert state["jobExecutionType"] == "TRANSIENT"
    fires = [datetime.fromisoformat(str(text)) for text in state["nextFireTimes"]]  # type: ignore[attr-defined]
    assert len(fires) == 5
    assert all(fire.tzinfo is not None for fire in fires)
    assert all(
        (fire.hour, fire.minute, fire.second) == (12, 30, 0) for fire in fires
    )  # wall clock of the zone
    assert fires[0] > before and fires == sorted(fires)
    assert {(b - a) for a, b in itertools.pairwise(fires)} <= {timedelta(hours=h) for h in (23, 24, 25)}
    assert state["readyRuns"] == 0
    assert state["shards"] == [] and state["failover"] == []
    assert state["waitingReason"] == "" and state["waitingSince"] == ""
    assert state["zone"]


def test_a_transient_job_without_cron_has_no_fire_times_and_counts_its_waiting_runs(
    client: httpx.Client,
) -> None:
    job = register_job(client, publish_app(client))
    assert state_of(client, job)["nextFireTimes"] == []
    assert client.post("/api/job/trigger", content=job, headers=JSON).status_code == 200
    assert state_of(client, job)["readyRuns"] == 1


def test_a_disabled_jobs_state_says_whether_the_job_or_its_app_is_disabled(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    app = publish_app(client)
    job = register_job(client, app, cron="0/5 * * * * ?")
    zk.create(stack.paths.disabled_job(job), b"", makepath=True)
    state = state_of(client, job)
    assert (state["enabled"], state["jobDisabled"], state["appDisabled"]) == (False, True, False)
    assert state["nextFireTimes"] == []  # a disabled job does not fire

    zk.delete(stack.paths.disabled_job(job))
    zk.create(stack.paths.disabled_app(app), b"", makepath=True)
    state = state_of(client, job)
    assert (state["enabled"], state["jobDisabled"], state["appDisabled"]) == (False, False, True)
    zk.delete(stack.paths.disabled_app(app))
    assert state_of(client, job)["enabled"] is True


def test_a_failing_over_jobs_state_shows_the_running_shard_and_the_retry_of_the_failed_one(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    job = register_job(client, publish_app(client), failover=True)
    running = f"{job}@-@0@-@READY@-@agent-1@-@0b9e5e36-1111-4c5e-9d7f-1f2a3b4c5d6e"
    failed = f"{job}@-@1@-@READY@-@agent-1@-@0b9e5e36-2222-4c5e-9d7f-1f2a3b4c5d6e"
    retry_at = datetime.now(UTC).timestamp() + 120
    zk.create(stack.paths.running_task(job, f"{job}@-@0"), running.encode(), makepath=True)
    zk.create(
        stack.paths.failover_shard(job, f"{job}@-@1"),
        FailoverEntry(failed, attempts=2, retry_at=retry_at).encode().encode(),
        makepath=True,
    )
    state = state_of(client, job)
    [shard] = state["shards"]  # type: ignore[misc]
    assert shard["shardingItem"] == 0
    task = shard["currentTask"]
    assert task["taskId"] == running and task["agentId"] == "agent-1"
    assert task["state"] == "LAUNCHED"  # no scheduler leads in this process
    assert abs(datetime.fromisoformat(task["since"]).timestamp() - datetime.now(UTC).timestamp()) < 60
    [failover] = state["failover"]  # type: ignore[misc]
    assert failover["shardingItem"] == 1
    assert failover["originalTaskId"] == failed
    assert failover["attempts"] == 2
    assert abs(datetime.fromisoformat(failover["retryAt"]).timestamp() - retry_at) < 1.5


def test_the_waiting_reason_shows_while_work_waits_and_nothing_of_the_job_runs(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    job = register_job(client, publish_app(client))
    reason = "needs 100 cpus + 1 for the executor; the largest offer in the last 5 minutes had 2"
    zk.create(stack.paths.diagnosis_job(job), Diagnosis(reason, 1_700_000_000.0).encode(), makepath=True)
    assert state_of(client, job)["waitingReason"] == ""  # nothing waits: a stale reason is not shown
    assert client.post("/api/job/trigger", content=job, headers=JSON).status_code == 200
    state = state_of(client, job)
    assert state["waitingReason"] == reason
    assert datetime.fromisoformat(str(state["waitingSince"])).timestamp() == 1_700_000_000.0
    task = f"{job}@-@0@-@READY@-@agent-1@-@0b9e5e36-3333-4c5e-9d7f-1f2a3b4c5d6e"
    zk.create(stack.paths.running_task(job, f"{job}@-@0"), task.encode(), makepath=True)
    assert state_of(client, job)["waitingReason"] == ""  # it runs


def test_the_state_of_an_unknown_job_is_404_and_a_bad_name_400(client: httpx.Client) -> None:
    missing = client.get(f"/api/job/{unique_name('job')}/state")
    assert missing.status_code == 404
    assert missing.json()["code"] == 5 and "does not exist" in missing.json()["message"]
    bad = client.get("/api/job/-bad/state")
    assert bad.status_code == 400 and "jobName" in bad.json()["message"]


def test_the_state_call_needs_a_token(stack: Stack) -> None:
    with stack.rest() as anonymous:
        assert anonymous.get(f"/api/job/{unique_name('job')}/state").status_code == 401


def test_reconcile_is_one_call_per_ten_seconds_across_both_kinds(
    client: httpx.Client, stack: Stack, zk: KazooClient
) -> None:
    before = snapshot(zk, stack.paths.root)
    bogus = client.post("/api/operate/reconcile/everything")
    assert bogus.status_code == 400 and "kind" in bogus.json()["message"]
    assert snapshot(zk, stack.paths.root) == before  # refused: nothing written

    first = client.post("/api/operate/reconcile/explicit")
    assert first.status_code == 200, first.text
    assert first.json() == {}
    stored = json.loads(zk.get(stack.paths.reconcile_request)[0])
    assert stored["kind"] == "explicit"

    again = client.post("/api/operate/reconcile/implicit")
    assert again.status_code == 429, again.text
    body = again.json()
    assert body["code"] == 8  # RESOURCE_EXHAUSTED
    wait = re.search(r"try again in (\d+) s", body["message"])
    assert wait is not None and 1 <= int(wait.group(1)) <= 10
    assert json.loads(zk.get(stack.paths.reconcile_request)[0]) == stored  # the refused one wrote nothing


def test_grpc_clients_name_the_job_in_a_field(stack: Stack, token: str, client: httpx.Client) -> None:
    job = register_job(client, publish_app(client), cron="0 0 6 * * ?")
    with grpc.insecure_channel(stack.envoy_grpc_target) as channel:
        stub = operate_pb2_grpc.OperateServiceStub(channel)
        state = stub.GetJobState(operate_pb2.GetJobStateRequest(job_name=job), metadata=grpc_metadata(token))
        assert state.job_name == job and state.enabled and len(state.next_fire_times) == 5
        with pytest.raises(grpc.RpcError) as refused:
            stub.ReconcileTasks(operate_pb2.ReconcileTasksRequest(kind=""), metadata=grpc_metadata(token))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT


# Sandboxes: ElasticJob-Cloud 3.0's rule (the framework's executors whose id starts with the app
# name, each agent's /state read for the directory, given without the agent's work_dir), on the
# embedded cluster, whose master and agent answer /state as Mesos documents it ("Endpoints").


def test_the_sandbox_route_needs_an_app_name(client: httpx.Client, stack: Stack, zk: KazooClient) -> None:
    for query in ("", "?appName=", "?appName=%20"):
        response = client.get(f"/api/operate/sandbox{query}")
        assert response.status_code == 400, (query, response.text)
        assert "appName" in response.json()["message"]


def test_the_sandboxes_are_an_empty_array_before_the_framework_has_subscribed(
    zk_server: ZooKeeperServer, tmp_path: Path
) -> None:
    # A master nobody listens on: the scheduler never subscribes, so no framework id is stored.
    with (
        running_stack(zk_server.connect_string, tmp_path, mesos_url="http://127.0.0.1:9") as unsubscribed,
        unsubscribed.rest(unsubscribed.login()) as client,
    ):
        response = client.get("/api/operate/sandbox", params={"appName": "some_app"})
    assert response.status_code == 200, response.text
    assert response.json() == []


@pytest.fixture(scope="module")
def system(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(zk_server.connect_string, tmp_path_factory.mktemp("sandboxes")) as running:
        yield running


def test_the_sandboxes_of_an_apps_executors_are_real_directories_of_the_agent(system: System) -> None:
    app = system.publish_app()
    other = system.publish_app()
    job = system.register_job(app, jobParameter="sleep30")
    system.register_job(other, jobParameter="sleep30")
    system.trigger(job)
    eventually(lambda: system.running_nodes(job) and system.runs(job), timeout=30, what="the job running")
    with system.rest() as client:
        response = client.get("/api/operate/sandbox", params={"appName": app})
    assert response.status_code == 200, response.text
    sandboxes = response.json()
    assert len(sandboxes) == 1
    [sandbox] = sandboxes
    assert set(sandbox) == {"hostname", "path"}
    assert sandbox["hostname"]
    directory = system.cluster.work_dir / sandbox["path"].lstrip("/")
    assert directory.is_dir(), directory
    assert f"{app}@-@" in sandbox["path"]
    with grpc.insecure_channel(f"127.0.0.1:{system.api.port}") as channel:
        listed = operate_pb2_grpc.OperateServiceStub(channel).ListSandboxes(
            operate_pb2.ListSandboxesRequest(app_name=app), metadata=grpc_metadata(system.token)
        )
    assert [(found.hostname, found.path) for found in listed.sandboxes] == [
        (sandbox["hostname"], sandbox["path"])
    ]
    with system.rest() as client:
        assert client.get("/api/operate/sandbox", params={"appName": unique_name("app")}).json() == []
    system.deregister(job)
