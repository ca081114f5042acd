"""The embedded master's scheduler API, driven by the project's real Mesos client (and by raw HTTP
where the wire-level refusals are the point): offers, launch validation, filters, suppression,
rescinds, reconciliation, reliable updates, failover and removal of frameworks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.cluster.cluster import EmbeddedCluster
from server.mesos.recordio import RecordIOParser
from testkit.cluster import (
    command_task,
    group_alive,
    launch,
    offer_resources,
    running_cluster,
    subscribed,
    wait_gone,
)
from testkit.polling import until

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
#: What the test agent offers (``fast_settings``): its scalars and Mesos' default ports.
WHOLE_AGENT = {"cpus": 2.0, "mem": 1024.0, "disk": 2048.0, "ports": [(31000, 32000)]}
SCALARS = {"cpus": 2.0, "mem": 1024.0, "disk": 2048.0}


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmbeddedCluster]:
    async with running_cluster(tmp_path / "cluster") as running:
        yield running


def _pgid_of(cluster: EmbeddedCluster, executor_id: str) -> int:
    for run in cluster.agent.executors():
        if run.executor_id == executor_id and run.process is not None:
            return run.process.pid
    raise AssertionError(f"no live executor {executor_id}")


async def test_subscribe_gets_one_offer_with_the_configured_resources(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        assert offer_resources(offer) == WHOLE_AGENT
        assert offer["agent_id"]["value"] == cluster.agent_id
        assert offer["framework_id"]["value"] == client.framework_id
        assert "allocation_info" not in offer  # not MULTI_ROLE
        await asyncio.sleep(0.2)
        assert len(scheduler.offers) == 1, "free resources are offered once while the offer is outstanding"
        async with httpx.AsyncClient() as http:
            state = (await http.get(cluster.master_url + "/state")).json()
            assert (await http.get(cluster.master_url + "/health")).status_code == 200
        (framework,) = state["frameworks"]
        assert framework["id"] == client.framework_id and framework["connected"] is True
        offered = framework["offers"][0]["resources"]
        assert {name: offered[name] for name in SCALARS} == SCALARS
        assert offered["ports"] == "[31000-32000]"
        total = state["slaves"][0]["resources"]
        assert {name: total[name] for name in SCALARS} == SCALARS


async def test_multi_role_framework_gets_offers_with_allocation_info(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url, role="jobs") as (_, scheduler):
        offer = await scheduler.next_offer(after=0)
        assert offer["allocation_info"] == {"role": "jobs"}
        assert all(r["allocation_info"] == {"role": "jobs"} for r in offer["resources"])


async def test_launch_beyond_the_offer_is_refused_with_task_error(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        fits = command_task(offer, "fits", "sleep 5", cpus=1.5, mem=100)
        too_much = command_task(offer, "too-much", "sleep 5", cpus=1.0, mem=100)  # 1.5 + 1.0 > 2
        await client.accept([offer["id"]["value"]], launch(fits, too_much))
        error = await scheduler.wait_for_state("too-much", "TASK_ERROR")
        assert error["reason"] == "REASON_TASK_INVALID"
        assert error["source"] == "SOURCE_MASTER"
        assert "uuid" not in error
        assert "more resources" in error["message"]
        await scheduler.wait_for_state("fits", "TASK_RUNNING")
        await client.kill("fits")
        await scheduler.wait_for_state("fits", "TASK_KILLED")


async def test_used_or_unknown_offer_drops_the_launch(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        offer_id = offer["id"]["value"]
        await client.accept([offer_id], launch(command_task(offer, "first", "true")), refuse_seconds=0)
        await client.accept([offer_id], launch(command_task(offer, "second", "true")))
        await client.accept(["no-such-offer"], launch(command_task(offer, "third", "true")))
        for task_id in ("second", "third"):
            dropped = await scheduler.wait_for_state(task_id, "TASK_DROPPED")
            assert dropped["reason"] == "REASON_INVALID_OFFERS"
            assert dropped["source"] == "SOURCE_MASTER"
            assert "uuid" not in dropped
        await scheduler.wait_for_state("first", "TASK_FINISHED")


async def test_invalid_offer_without_partition_awareness_loses_the_task(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url, capabilities=()) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept(["no-such-offer"], launch(command_task(offer, "lost", "true")))
        lost = await scheduler.wait_for_state("lost", "TASK_LOST")
        assert lost["reason"] == "REASON_INVALID_OFFERS" and "uuid" not in lost


async def test_decline_filter_withholds_resources_until_revive(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.decline([offer["id"]["value"]], refuse_seconds=60)
        await asyncio.sleep(0.5)  # ten allocation intervals
        assert len(scheduler.offers) == 1
        await client.revive()
        revived = await scheduler.next_offer(after=1, timeout=1.0)
        assert offer_resources(revived) == WHOLE_AGENT


async def test_decline_filter_expires_after_refuse_seconds(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        loop = asyncio.get_running_loop()
        declined_at = loop.time()
        await client.decline([offer["id"]["value"]], refuse_seconds=0.4)
        await scheduler.next_offer(after=1, timeout=3.0)
        assert loop.time() - declined_at >= 0.35


async def test_suppress_stops_offers_until_revive(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.suppress()
        await client.decline([offer["id"]["value"]], refuse_seconds=0)
        await asyncio.sleep(0.5)
        assert len(scheduler.offers) == 1
        assert cluster.master.suppressed_roles(str(client.framework_id)) == ["*"]
        await client.revive()
        await scheduler.next_offer(after=1, timeout=1.0)


async def test_unused_offer_is_rescinded_after_the_offer_timeout(tmp_path: Path) -> None:
    async with (
        running_cluster(tmp_path, offer_timeout=0.3) as cluster,
        subscribed(cluster.master_url) as (client, scheduler),
    ):
        offer = await scheduler.next_offer(after=0)
        await scheduler.wait_until(lambda: bool(scheduler.rescinded), timeout=2.0, what="RESCIND")
        assert scheduler.rescinded == [offer["id"]["value"]]
        fresh = await scheduler.next_offer(after=1, timeout=2.0)
        assert fresh["id"] != offer["id"]
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "late", "true")))
        await scheduler.wait_for_state("late", "TASK_DROPPED")


async def test_resources_of_running_tasks_are_not_offered_until_they_end(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        task = command_task(offer, "holder", "sleep 30", cpus=1.5, mem=512)
        await client.accept([offer["id"]["value"]], launch(task), refuse_seconds=0)
        rest = await scheduler.next_offer(after=1)
        assert offer_resources(rest) == {"cpus": 0.5, "mem": 512.0, "disk": 2048.0, "ports": [(31000, 32000)]}
        await client.decline([rest["id"]["value"]], refuse_seconds=0.1)
        await client.kill("holder")
        await scheduler.wait_for_state("holder", "TASK_KILLED")
        await scheduler.wait_until(
            lambda: offer_resources(scheduler.offers[-1]) == WHOLE_AGENT,
            what="the whole agent",
        )


async def test_reconcile_answers_explicitly_and_implicitly(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "sleeper", "sleep 30")))
        await scheduler.wait_for_state("sleeper", "TASK_RUNNING")
        seen = len(scheduler.updates)
        await client.reconcile([("sleeper", cluster.agent_id), ("ghost", None)])
        await scheduler.wait_until(lambda: len(scheduler.updates) >= seen + 2, what="explicit answers")
        answers = {u["task_id"]["value"]: u for u in scheduler.updates[seen:]}
        assert answers["sleeper"]["state"] == "TASK_RUNNING"
        assert answers["ghost"]["state"] == "TASK_UNKNOWN"  # no agent named: the agent is unknown
        for answer in answers.values():
            assert answer["reason"] == "REASON_RECONCILIATION"
            assert answer["source"] == "SOURCE_MASTER"
            assert "uuid" not in answer
        seen = len(scheduler.updates)
        await client.reconcile([])
        await scheduler.wait_until(lambda: len(scheduler.updates) > seen, what="implicit answer")
        await asyncio.sleep(0.1)
        implicit = scheduler.updates[seen:]
        assert [(u["task_id"]["value"], u["state"]) for u in implicit] == [("sleeper", "TASK_RUNNING")]
        assert implicit[0]["reason"] == "REASON_RECONCILIATION"


async def test_kill_of_an_unknown_task_on_this_agent_answers_gone(cluster: EmbeddedCluster) -> None:
    """Mesos ``src/master/master.cpp`` (``Master::kill``): a KILL of a task the master does not
    know is answered as its reconciliation; the agent named is registered, so the task is
    ``TASK_GONE`` for a PARTITION_AWARE framework (docs "Reconciliation")."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        await client.kill("never-launched", cluster.agent_id)
        answer = await scheduler.wait_for_state("never-launched", "TASK_GONE")
        assert answer["reason"] == "REASON_RECONCILIATION"
        assert answer["source"] == "SOURCE_MASTER"
        assert "uuid" not in answer


async def test_reconcile_of_unknown_tasks_answers_gone_on_a_known_agent_and_unknown_elsewhere(
    cluster: EmbeddedCluster,
) -> None:
    """Mesos ``src/master/master.cpp`` (``Master::_reconcileTasks``) and the "Reconciliation"
    doc: an unknown task on a registered agent is ``TASK_GONE``, on an agent the master does not
    know ``TASK_UNKNOWN`` (PARTITION_AWARE frameworks); a finished task the master forgot is
    unknown too."""
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "quick", "true")))
        await scheduler.wait_for_state("quick", "TASK_FINISHED")
        await until(lambda: cluster.state()["frameworks"][0]["tasks"] == [], what="task forgotten")
        seen = len(scheduler.updates)
        await client.reconcile([("quick", cluster.agent_id), ("elsewhere", "other-agent-S9")])
        await scheduler.wait_until(lambda: len(scheduler.updates) >= seen + 2, what="explicit answers")
        answers = {u["task_id"]["value"]: u for u in scheduler.updates[seen:]}
        assert answers["quick"]["state"] == "TASK_GONE"
        assert answers["quick"]["message"] == "Reconciliation: Task is unknown to the agent"
        assert answers["elsewhere"]["state"] == "TASK_UNKNOWN"
        assert {answer["reason"] for answer in answers.values()} == {"REASON_RECONCILIATION"}


async def test_without_partition_awareness_unknown_tasks_are_lost(cluster: EmbeddedCluster) -> None:
    """Mesos "Reconciliation" and ``Master::_reconcileTasks``: a framework without the
    PARTITION_AWARE capability gets ``TASK_LOST`` where an aware one gets GONE or UNKNOWN."""
    async with subscribed(cluster.master_url, capabilities=()) as (client, scheduler):
        await client.reconcile([("here", cluster.agent_id), ("there", None)])
        await scheduler.wait_until(lambda: len(scheduler.updates) >= 2, what="answers")
        assert {u["task_id"]["value"]: u["state"] for u in scheduler.updates} == {
            "here": "TASK_LOST",
            "there": "TASK_LOST",
        }


async def test_unacknowledged_update_is_resent_until_acknowledged(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        scheduler.refuse_first.add(("once", "TASK_RUNNING"))
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "once", "true")))
        await scheduler.wait_for_state("once", "TASK_FINISHED", timeout=5.0)
        reliable = scheduler.states_of("once", reliable_only=True)
        assert reliable == ["TASK_STARTING", "TASK_RUNNING", "TASK_RUNNING", "TASK_FINISHED"]
        running = [u for u in scheduler.updates if u["state"] == "TASK_RUNNING"]
        assert running[0]["uuid"] == running[1]["uuid"], "the same update is resent"
        await until(lambda: cluster.agent.pending_updates(str(client.framework_id), "once") == [])
        assert cluster.state()["frameworks"][0]["tasks"] == []


async def test_newest_subscription_wins_and_gets_the_pending_updates(tmp_path: Path) -> None:
    async with (
        running_cluster(tmp_path, update_retry_interval=60.0) as cluster,
        subscribed(cluster.master_url) as (first, old_scheduler),
    ):
        old_scheduler.refuse_first.add(("kept", "TASK_RUNNING"))
        offer = await old_scheduler.next_offer(after=0)
        await first.accept([offer["id"]["value"]], launch(command_task(offer, "kept", "sleep 30")))
        await old_scheduler.wait_for_state("kept", "TASK_RUNNING")
        framework_id = first.framework_id
        async with subscribed(cluster.master_url, framework_id=framework_id) as (second, new_scheduler):
            assert new_scheduler.framework_ids == [framework_id]
            await old_scheduler.wait_until(lambda: bool(old_scheduler.errors), what="ERROR on the old stream")
            assert old_scheduler.errors == ["Framework failed over"]
            resent = await new_scheduler.wait_for_state("kept", "TASK_RUNNING")
            assert resent.get("uuid"), "the unacknowledged update is resent on resubscription"
            await second.kill("kept")
            await new_scheduler.wait_for_state("kept", "TASK_KILLED")


async def test_framework_past_its_failover_timeout_is_removed_and_its_tasks_killed(
    cluster: EmbeddedCluster,
) -> None:
    async with subscribed(cluster.master_url, failover_timeout=0.5) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "orphan", "sleep 30")))
        await scheduler.wait_for_state("orphan", "TASK_RUNNING")
        framework_id = client.framework_id
        assert framework_id is not None
        pgid = _pgid_of(cluster, "orphan")
    assert group_alive(pgid), "a disconnected framework keeps its tasks within its failover timeout"
    assert await wait_gone(pgid, timeout=5.0)
    state = cluster.state()
    assert state["frameworks"] == []
    (removed,) = state["completed_frameworks"]
    assert removed["id"] == framework_id
    assert [task["state"] for task in removed["completed_tasks"]] == ["TASK_KILLED"]
    async with subscribed(cluster.master_url, framework_id=framework_id, wait=False) as (_, again):
        await again.wait_until(lambda: bool(again.errors), what="ERROR for a removed framework")
        assert again.errors == ["Framework has been removed"]


async def test_teardown_removes_the_framework_and_kills_its_tasks(cluster: EmbeddedCluster) -> None:
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept([offer["id"]["value"]], launch(command_task(offer, "doomed", "sleep 30")))
        await scheduler.wait_for_state("doomed", "TASK_RUNNING")
        pgid = _pgid_of(cluster, "doomed")
        await client.teardown()
    assert await wait_gone(pgid, timeout=3.0)
    assert cluster.state()["frameworks"] == []


# --- wire level -----------------------------------------------------------------------------------


class _RawStream:
    """A SUBSCRIBE response read event by event (one byte iterator for the whole stream)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._parser = RecordIOParser()
        self._chunks = response.aiter_bytes()

    async def next_events(self, count: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(3.0):
            while len(events) < count:
                record = self._parser.next_record()
                if record is None:
                    self._parser.feed(await anext(self._chunks))
                    continue
                events.append(json.loads(record))
        return events


async def _raw_subscribe(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> _RawStream:
    request = http.build_request(
        "POST", url + "/api/v1/scheduler", json=body, headers={"Accept": "application/json"}
    )
    return _RawStream(await http.send(request, stream=True))


async def test_scheduler_api_refuses_malformed_and_unauthorised_calls(cluster: EmbeddedCluster) -> None:
    endpoint = cluster.master_url + "/api/v1/scheduler"
    info = {"user": "u", "name": "raw", "failover_timeout": 60}
    subscribe = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    async with httpx.AsyncClient(timeout=5.0) as http:
        assert (await http.get(endpoint)).status_code == 405
        assert (await http.post(endpoint, content=b"{}")).status_code == 400  # no Content-Type
        assert (
            await http.post(endpoint, content=b"{}", headers={"Content-Type": "text/plain"})
        ).status_code == 415
        assert (await http.post(endpoint, content=b"{nope", headers=JSON)).status_code == 400
        assert (await http.post(endpoint, json={"type": "UNKNOWN"})).status_code == 501
        no_user = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "raw"}}}
        assert (await http.post(endpoint, json=no_user)).status_code == 400
        with_stream = await http.post(endpoint, json=subscribe, headers={"Mesos-Stream-Id": "x"})
        assert with_stream.status_code == 400
        revive = {"type": "REVIVE", "framework_id": {"value": "unknown-framework"}}
        assert (await http.post(endpoint, json=revive)).status_code == 400

        stream = await _raw_subscribe(http, cluster.master_url, subscribe)
        assert stream.response.status_code == 200
        stream_id = stream.response.headers["Mesos-Stream-Id"]
        (subscribed_event,) = await stream.next_events(1)
        assert subscribed_event["type"] == "SUBSCRIBED"
        framework_id = subscribed_event["subscribed"]["framework_id"]["value"]
        revive = {"type": "REVIVE", "framework_id": {"value": framework_id}}
        assert (await http.post(endpoint, json=revive)).status_code == 400  # no stream id
        stale = await http.post(endpoint, json=revive, headers={"Mesos-Stream-Id": "stale"})
        assert stale.status_code == 400 and "stream ID" in stale.text
        assert (
            await http.post(endpoint, json=revive, headers={"Mesos-Stream-Id": stream_id})
        ).status_code == 202
        await stream.response.aclose()
        await asyncio.sleep(0.2)
        not_subscribed = await http.post(endpoint, json=revive, headers={"Mesos-Stream-Id": stream_id})
        assert not_subscribed.status_code == 403  # known (within failover timeout), not subscribed


async def test_stream_carries_heartbeats_and_offers(tmp_path: Path) -> None:
    async with running_cluster(tmp_path, heartbeat_interval=0.1) as cluster, httpx.AsyncClient() as http:
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "raw"}}}
        stream = await _raw_subscribe(http, cluster.master_url, body)
        events = await stream.next_events(4)
        await stream.response.aclose()
    assert events[0]["type"] == "SUBSCRIBED"
    assert events[0]["subscribed"]["heartbeat_interval_seconds"] == 0.1
    kinds = [event["type"] for event in events[1:]]
    assert "OFFERS" in kinds and "HEARTBEAT" in kinds


async def test_every_event_is_its_own_http_chunk(cluster: EmbeddedCluster) -> None:
    """Mesos writes each event of the subscription stream as one HTTP chunk (``HttpConnection::send``
    in ``src/master/master.hpp`` writes one RecordIO record per event to the response pipe, and
    libprocess sends each pipe write as one chunk); a RECONCILE of four tasks gives four UPDATE
    chunks, never one chunk with four records."""
    import aiohttp

    endpoint = cluster.master_url + "/api/v1/scheduler"
    subscribe = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "chunks"}}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(endpoint, json=subscribe, headers={"Accept": "application/json"}) as response,
    ):
        buffered = b""

        async def next_chunk() -> bytes:
            nonlocal buffered
            async with asyncio.timeout(3.0):
                while True:
                    data, end_of_chunk = await response.content.readchunk()
                    buffered += data
                    if end_of_chunk and buffered:
                        chunk, buffered = buffered, b""
                        return chunk

        def single_record(chunk: bytes) -> dict[str, Any]:
            length, newline, record = chunk.partition(b"\n")
            assert newline and int(length) == len(record), f"not exactly one record: {chunk!r}"
            return dict(json.loads(record))

        subscribed_event = single_record(await next_chunk())
        framework_id = subscribed_event["subscribed"]["framework_id"]["value"]
        tasks = [{"task_id": {"value": f"ghost-{n}"}} for n in range(4)]
        reconcile = {
            "type": "RECONCILE",
            "framework_id": {"value": framework_id},
            "reconcile": {"tasks": tasks},
        }
        headers = {**JSON, "Mesos-Stream-Id": response.headers["Mesos-Stream-Id"]}
        async with session.post(endpoint, json=reconcile, headers=headers) as answer:
            assert answer.status == 202
        updates: list[dict[str, Any]] = []
        while len(updates) < 4:
            event = single_record(await next_chunk())
            if event["type"] == "UPDATE":
                updates.append(event)
    assert sorted(u["update"]["status"]["task_id"]["value"] for u in updates) == [
        f"ghost-{n}" for n in range(4)
    ]


async def test_call_validation_and_update_framework_answers_as_mesos(cluster: EmbeddedCluster) -> None:
    """Mesos ``src/master/validation.cpp`` and ``src/master/http.cpp``: REQUEST needs ``request``
    (a top-level ``requests`` list is not it), ACKNOWLEDGE's uuid must be 16 bytes, both 400;
    UPDATE_FRAMEWORK is answered synchronously with 200 (other calls 202)."""
    endpoint = cluster.master_url + "/api/v1/scheduler"
    async with httpx.AsyncClient(timeout=5.0) as http:
        info = {"user": "u", "name": "validation", "failover_timeout": 60}
        stream = await _raw_subscribe(
            http, cluster.master_url, {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        )
        (subscribed_event,) = await stream.next_events(1)
        framework = subscribed_event["subscribed"]["framework_id"]
        headers = {"Mesos-Stream-Id": stream.response.headers["Mesos-Stream-Id"]}

        async def post(call: dict[str, Any]) -> httpx.Response:
            return await http.post(endpoint, json={"framework_id": framework, **call}, headers=headers)

        request = await post({"type": "REQUEST", "requests": [{"agent_id": {"value": cluster.agent_id}}]})
        assert request.status_code == 400 and "'request'" in request.text
        short_uuid = {"agent_id": {"value": cluster.agent_id}, "task_id": {"value": "t"}, "uuid": "AAEC"}
        acknowledge = await post({"type": "ACKNOWLEDGE", "acknowledge": short_uuid})
        assert acknowledge.status_code == 400 and "acknowledge.uuid" in acknowledge.text
        for call_type in ("UPDATE_FRAMEWORK", "ACCEPT_INVERSE_OFFERS", "RECONCILE_OPERATIONS"):
            assert (await post({"type": call_type})).status_code == 400, call_type
        update = await post(
            {"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": {**info, "id": framework}}}
        )
        assert update.status_code == 200
        assert (await post({"type": "REVIVE"})).status_code == 202
        await stream.response.aclose()


async def test_launches_are_checked_against_the_offered_ports_and_disk(cluster: EmbeddedCluster) -> None:
    """A default Mesos agent offers ``ports:[31000-32000]`` and its disk (docs "Attributes and
    Resources"); the master refuses a task using what the offers do not hold (``TASK_ERROR``,
    ``REASON_TASK_INVALID``, ``src/master/validation.cpp``) and offers the rest of the ranges."""

    def ports(*ranges: tuple[int, int]) -> dict[str, Any]:
        pairs = [{"begin": begin, "end": end} for begin, end in ranges]
        return {"name": "ports", "type": "RANGES", "ranges": {"range": pairs}, "role": "*"}

    def disk(mb: float) -> dict[str, Any]:
        return {"name": "disk", "type": "SCALAR", "scalar": {"value": mb}, "role": "*"}

    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        served = command_task(offer, "served", "sleep 30")
        served["resources"] += [ports((31000, 31001)), disk(100)]
        outside = command_task(offer, "outside", "true")
        outside["resources"].append(ports((40000, 40000)))
        greedy = command_task(offer, "greedy", "true")
        greedy["resources"].append(disk(4096))
        taken = command_task(offer, "taken", "true")  # the ports "served" took from the same offers
        taken["resources"].append(ports((31001, 31001)))
        await client.accept([offer["id"]["value"]], launch(served, outside, greedy, taken), refuse_seconds=0)
        await scheduler.wait_for_state("served", "TASK_RUNNING")
        for refused in ("outside", "greedy", "taken"):
            error = await scheduler.wait_for_state(refused, "TASK_ERROR")
            assert error["reason"] == "REASON_TASK_INVALID"
        rest = await scheduler.next_offer(after=1)
        assert offer_resources(rest)["ports"] == [(31002, 32000)]
        assert offer_resources(rest)["disk"] == 2048.0 - 100


async def test_offers_stay_outstanding_without_an_offer_timeout(tmp_path: Path) -> None:
    """Mesos' master never rescinds an offer unless ``--offer_timeout`` is set (docs
    "Configuration": master flags); the embedded master's default is the same."""
    from server.cluster.settings import MasterSettings

    assert MasterSettings().offer_timeout is None
    async with (
        running_cluster(tmp_path, offer_timeout=MasterSettings().offer_timeout) as cluster,
        subscribed(cluster.master_url) as (_client, scheduler),
    ):
        offer = await scheduler.next_offer(after=0)
        await asyncio.sleep(0.5)  # several allocation intervals
        assert scheduler.rescinded == []
        assert cluster.state()["frameworks"][0]["offers"][0]["id"] == offer["id"]["value"]
