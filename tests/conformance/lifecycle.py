"""The framework lifecycle, driven through a third-party threads-based Mesos client against the
embedded cluster. ``mesoshttp`` and its fork ``avmesos`` share one ``MesosClient`` API, so each
scenario takes the client class; ``test_mesoshttp.py`` and ``test_avmesos.py`` run them.

What the clients send and expect is what a real Mesos master answers (Scheduler HTTP API,
"Reconciliation"); nothing here knows the cluster's internals beyond its ``/state`` view.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import requests

from server.cluster.cluster import EmbeddedCluster
from testkit.cluster import ThreadedFramework, offer_resources, scalars
from testkit.polling import until

JsonObject = dict[str, Any]


def start(client_class: Any, cluster: EmbeddedCluster, **options: Any) -> ThreadedFramework:
    """A client subscribing as a PARTITION_AWARE framework run by this process's user."""
    framework_id = options.pop("framework_id", None)
    user = options.pop("user", None) or _current_user()
    client = client_class(
        [cluster.master_url], frameworkId=framework_id, frameworkName="conformance", frameworkUser=user
    )
    client.add_capability("PARTITION_AWARE")
    client.set_failover_timeout(options.pop("failover_timeout", 60))
    return ThreadedFramework(client).start()


def command_task(offer: Any, task_id: str, command: str) -> JsonObject:
    """A command TaskInfo for one of the client's Offer objects."""
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer.get_offer()["agent_id"],
        "resources": scalars(0.1, 32),
        "command": {"value": command},
    }


async def subscribed(framework: ThreadedFramework) -> str:
    await until(lambda: framework.framework_ids, what="SUBSCRIBED")
    return framework.framework_ids[-1]


def framework_state(cluster: EmbeddedCluster, framework_id: str) -> JsonObject | None:
    state = cluster.state()
    for framework in state["frameworks"] + state["completed_frameworks"]:
        if framework["id"] == framework_id:
            return dict(framework)
    return None


async def subscribe_launch_acknowledge_and_teardown(client_class: Any, cluster: EmbeddedCluster) -> None:
    framework = start(client_class, cluster)
    framework_id = await subscribed(framework)
    assert framework.client.get_master_info()["id"] == cluster.master.master_id
    offer = await framework.next_offer(after=0)
    body = offer.get_offer()
    assert body["framework_id"]["value"] == framework_id
    resources = offer_resources(body)
    assert resources["ports"] == [(31000, 32000)] and resources["disk"] > 0
    await framework.call(offer.accept, [command_task(offer, "hello", "echo hello from $MESOS_EXECUTOR_ID")])
    finished = await framework.wait_for_state("hello", "TASK_FINISHED")
    # In order; an update may come twice (resent before its acknowledgement arrived).
    assert list(dict.fromkeys(framework.states_of("hello"))) == [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_FINISHED",
    ]
    assert finished["source"] == "SOURCE_EXECUTOR"
    # The client acknowledged each update (it acks before its callback), so the cluster forgets it.
    await until(
        lambda: (framework_state(cluster, framework_id) or {}).get("tasks") == [],
        what="the acknowledged task leaves the live tasks",
    )
    (done,) = framework_state(cluster, framework_id)["completed_tasks"]  # type: ignore[index]
    assert done["state"] == "TASK_FINISHED"
    assert cluster.agent.pending_updates(framework_id, "hello") == []
    sandbox = _sandbox_of(cluster, "hello")
    assert sandbox is not None
    assert Path(sandbox, "stdout").read_text() == "hello from hello\n"
    await framework.stop(teardown=True)
    await until(
        lambda: any(f["id"] == framework_id for f in cluster.state()["completed_frameworks"]),
        what="framework removed by TEARDOWN",
    )
    assert framework.errors == []


async def kill(client_class: Any, cluster: EmbeddedCluster) -> None:
    framework = start(client_class, cluster)
    await subscribed(framework)
    offer = await framework.next_offer(after=0)
    agent_id = offer.get_offer()["agent_id"]["value"]
    await framework.call(offer.accept, [command_task(offer, "sleeper", "sleep 60")])
    await framework.wait_for_state("sleeper", "TASK_RUNNING")
    await framework.call(framework.driver.kill, agent_id, "sleeper")
    killed = await framework.wait_for_state("sleeper", "TASK_KILLED")
    assert killed["source"] == "SOURCE_EXECUTOR"
    await framework.call(framework.driver.kill, agent_id, "never-launched")
    gone = await framework.wait_for_state("never-launched", "TASK_GONE")
    assert gone["reason"] == "REASON_RECONCILIATION" and "uuid" not in gone
    await framework.stop(teardown=True)


async def decline_suppress_and_revive(client_class: Any, cluster: EmbeddedCluster) -> None:
    framework = start(client_class, cluster)
    framework_id = await subscribed(framework)
    offer = await framework.next_offer(after=0)
    await framework.call(offer.decline, {"filters": {"refuse_seconds": 3600}})
    await until(
        lambda: (framework_state(cluster, framework_id) or {}).get("offers") == [], what="offer declined"
    )
    assert len(framework.offers) == 1  # refused for an hour: nothing new without a REVIVE
    await framework.call(framework.driver.revive)
    second = await framework.next_offer(after=1)
    assert offer_resources(second.get_offer()) == offer_resources(offer.get_offer())
    suppress = getattr(framework.driver, "suppress", None)
    if suppress is not None:  # avmesos has it, mesoshttp does not
        await framework.call(second.decline, {"filters": {"refuse_seconds": 0}})
        await framework.call(suppress)
        await until(lambda: cluster.master.suppressed_roles(framework_id) == ["*"], what="suppressed")
        seen = len(framework.offers)
        await framework.call(framework.driver.revive)
        await framework.next_offer(after=seen)
        assert cluster.master.suppressed_roles(framework_id) == []
    await framework.stop(teardown=True)


async def reconcile(client_class: Any, cluster: EmbeddedCluster) -> None:
    framework = start(client_class, cluster)
    framework_id = await subscribed(framework)
    offer = await framework.next_offer(after=0)
    agent = offer.get_offer()["agent_id"]
    await framework.call(offer.accept, [command_task(offer, "steady", "sleep 60")])
    await framework.wait_for_state("steady", "TASK_RUNNING")
    seen = len(framework.updates)
    await framework.call(
        framework.driver.reconcile,
        [
            {"task_id": {"value": "steady"}, "agent_id": agent},
            {"task_id": {"value": "ghost"}, "agent_id": agent},
        ],
    )
    await until(lambda: len(_answers(framework, seen)) >= 2, what="explicit reconciliation answers")
    answers = {status["task_id"]["value"]: status for status in _answers(framework, seen)}
    assert answers["steady"]["state"] == "TASK_RUNNING"
    assert answers["ghost"]["state"] == "TASK_GONE"  # unknown task on a registered agent
    for answer in answers.values():
        assert answer["reason"] == "REASON_RECONCILIATION" and "uuid" not in answer
    # The clients skip an empty list; implicit reconciliation goes out with their own stream id.
    seen = len(framework.updates)
    implicit = {"type": "RECONCILE", "framework_id": {"value": framework_id}, "reconcile": {"tasks": []}}
    answer = await framework.call(_post, cluster.master_url, framework.driver.streamId, implicit)
    assert answer.status_code == 202
    await until(lambda: _answers(framework, seen), what="implicit reconciliation answer")
    assert [status["task_id"]["value"] for status in _answers(framework, seen)] == ["steady"]
    await framework.stop(teardown=True)


async def failover(client_class: Any, cluster: EmbeddedCluster) -> None:
    first = start(client_class, cluster)
    framework_id = await subscribed(first)
    offer = await first.next_offer(after=0)
    await first.call(offer.accept, [command_task(offer, "survivor", "sleep 60")])
    await first.wait_for_state("survivor", "TASK_RUNNING")
    await first.stop(teardown=False)
    await until(
        lambda: (framework_state(cluster, framework_id) or {}).get("connected") is False,
        what="the framework disconnected",
    )
    second = start(client_class, cluster, framework_id=framework_id)
    assert await subscribed(second) == framework_id
    assert framework_state(cluster, framework_id)["connected"] is True  # type: ignore[index]
    agent = offer.get_offer()["agent_id"]
    await second.call(second.driver.reconcile, [{"task_id": {"value": "survivor"}, "agent_id": agent}])
    await second.wait_for_state("survivor", "TASK_RUNNING")
    await second.stop(teardown=True)
    await until(
        lambda: any(
            t["id"] == "survivor" and t["state"] == "TASK_KILLED"
            for t in (framework_state(cluster, framework_id) or {}).get("completed_tasks", [])
        ),
        what="the torn-down framework's task killed",
    )


async def runs_tasks_as_the_framework_user(client_class: Any, cluster: EmbeddedCluster) -> None:
    framework = start(client_class, cluster, user="nobody")
    await subscribed(framework)
    offer = await framework.next_offer(after=0)
    await framework.call(offer.accept, [command_task(offer, "whoami", "id -un")])
    finished = await framework.wait_for_state("whoami", "TASK_FINISHED")
    assert finished["state"] == "TASK_FINISHED"
    sandbox = await until(lambda: _sandbox_of(cluster, "whoami"), what="the task's sandbox")
    assert Path(sandbox, "stdout").read_text() == "nobody\n"
    await framework.stop(teardown=True)


def _answers(framework: ThreadedFramework, seen: int) -> list[JsonObject]:
    """The reconciliation answers among the updates after the first ``seen`` (a resent reliable
    update may come in between)."""
    return [
        u["status"] for u in framework.updates[seen:] if u["status"].get("reason") == "REASON_RECONCILIATION"
    ]


def _sandbox_of(cluster: EmbeddedCluster, task_id: str) -> str | None:
    """The sandbox of a task's executor, as the agent's ``/state`` shows it (``directory``)."""
    state = cluster.agent_state()
    for framework in state["frameworks"] + state["completed_frameworks"]:
        for executor in framework["executors"] + framework["completed_executors"]:
            tasks = executor["tasks"] + executor["completed_tasks"] + executor.get("queued_tasks", [])
            if any(task["id"] == task_id for task in tasks) and executor.get("directory"):
                return str(executor["directory"])
    return None


def _post(master_url: str, stream_id: str, call: JsonObject) -> requests.Response:
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Mesos-Stream-Id": stream_id}
    return requests.post(master_url + "/api/v1/scheduler", data=json.dumps(call), headers=headers, timeout=10)


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name
