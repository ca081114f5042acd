"""Test helpers for the embedded cluster: fast settings, a recording scheduler, TaskInfo builders,
and a minimal test executor that speaks the v1 executor API.

The test executor is this file run as a script (``python testkit/cluster.py executor``; see
:func:`executor_command`). It subscribes to ``MESOS_AGENT_ENDPOINT``, writes its environment to
``executor-env.json`` in its sandbox, and answers events:

* ``LAUNCH``: appends the task id to ``launched.txt``, sends ``TASK_RUNNING``, then acts on the
  task's ``data`` (base64 JSON ``{"action": ...}``): ``finish`` (default) sends ``TASK_FINISHED``;
  ``run`` keeps the task running until ``KILL``; ``crash`` exits the executor with
  ``exit_code`` right away.
* ``KILL``: ``TASK_KILLED``. ``SHUTDOWN``: ``TASK_KILLED`` for every running task, then exit 0.
* ``MESSAGE``: sends the data back as a framework message prefixed with ``echo:``.
* ``ACKNOWLEDGED``: appends the task id and uuid to ``acknowledged.txt``.

It exits when its subscription stream ends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import getpass
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from server.cluster.cluster import EmbeddedCluster
    from server.cluster.settings import ClusterSettings
    from server.mesos.client import FrameworkInfo, MesosSchedulerClient

JsonObject = dict[str, Any]

KIT_PATH = Path(__file__).resolve()


def fast_settings(work_dir: Path, **overrides: Any) -> ClusterSettings:
    """ClusterSettings for tests: free ports, small resources (2 cpus, 1024 MB mem, 2048 MB disk,
    the default ports ``[31000-32000]``), short timers. ``overrides`` name
    fields of ClusterSettings, MasterSettings or AgentSettings."""
    import dataclasses

    from server.cluster.settings import AgentSettings, ClusterSettings, MasterSettings

    master = MasterSettings(heartbeat_interval=0.5, offer_timeout=None, allocation_interval=0.05)
    agent = AgentSettings(
        update_retry_interval=0.3,
        executor_registration_timeout=5.0,
        executor_shutdown_grace_period=1.0,
        default_kill_grace_period=1.0,
    )
    master_fields = {item.name for item in dataclasses.fields(MasterSettings)}
    agent_fields = {item.name for item in dataclasses.fields(AgentSettings)}
    master = dataclasses.replace(master, **{k: v for k, v in overrides.items() if k in master_fields})
    agent = dataclasses.replace(agent, **{k: v for k, v in overrides.items() if k in agent_fields})
    values: dict[str, Any] = {
        "work_dir": work_dir,
        "port": 0,
        "agent_port": 0,
        "cpus": 2.0,
        "mem": 1024.0,
        "disk": 2048.0,
        "stop_grace_period": 1.0,
    }
    values.update({k: v for k, v in overrides.items() if k not in master_fields | agent_fields})
    return ClusterSettings(**values, master=master, agent=agent)


def framework_info(name: str = "cluster-test", **overrides: Any) -> FrameworkInfo:
    from server.mesos.client import FrameworkInfo

    values: dict[str, Any] = {"user": getpass.getuser(), "name": name, "failover_timeout": 60.0}
    values.update(overrides)
    return FrameworkInfo(**values)


@contextlib.asynccontextmanager
async def running_cluster(work_dir: Path, **overrides: Any) -> AsyncIterator[EmbeddedCluster]:
    """An embedded cluster with :func:`fast_settings`, stopped on exit."""
    from server.cluster.cluster import EmbeddedCluster

    cluster = EmbeddedCluster(fast_settings(work_dir, **overrides))
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()


@contextlib.asynccontextmanager
async def subscribed(
    master_url: str,
    scheduler: RecordingScheduler | None = None,
    *,
    framework_id: str | None = None,
    wait: bool = True,
    **framework: Any,
) -> AsyncIterator[tuple[MesosSchedulerClient, RecordingScheduler]]:
    """A running :class:`MesosSchedulerClient` (the project's real client) with a recorder;
    waits for SUBSCRIBED unless ``wait`` is false; closed on exit."""
    from server.mesos.client import Backoff, MesosSchedulerClient

    recorder = scheduler or RecordingScheduler()
    seen = len(recorder.framework_ids)
    client = MesosSchedulerClient(
        master_url,
        framework_info(**framework),
        recorder,
        framework_id=framework_id,
        reconcile_interval=None,
        backoff=Backoff(initial=0.05, maximum=0.2),
        subscribe_timeout=5.0,
        call_timeout=5.0,
    )
    run = asyncio.create_task(client.run(), name="test-scheduler-client")
    try:
        if wait:
            await recorder.wait_until(
                lambda: len(recorder.framework_ids) > seen or run.done(), what="SUBSCRIBED"
            )
            if run.done():
                run.result()
        yield client, recorder
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await run


# --- the recording scheduler -----------------------------------------------------------------------


@dataclass
class RecordingScheduler:
    """A :class:`~server.mesos.client.SchedulerEventHandler` that records every event.

    ``refuse_first`` holds (task id, state) pairs whose first delivery ``on_update`` refuses by
    raising, so the client does not acknowledge it (and the cluster must resend it).
    """

    refuse_first: set[tuple[str, str]] = field(default_factory=set)
    framework_ids: list[str] = field(default_factory=list)
    offers: list[JsonObject] = field(default_factory=list)
    rescinded: list[str] = field(default_factory=list)
    updates: list[JsonObject] = field(default_factory=list)
    messages: list[tuple[str, str, bytes]] = field(default_factory=list)
    failures: list[tuple[str | None, str | None, int | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    disconnects: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def on_subscribed(self, framework_id: str, heartbeat_interval: float) -> None:
        self.framework_ids.append(framework_id)
        self._notify()

    async def on_offers(self, offers: list[JsonObject]) -> None:
        self.offers.extend(offers)
        self._notify()

    async def on_rescind(self, offer_id: str) -> None:
        self.rescinded.append(offer_id)
        self._notify()

    async def on_update(self, status: JsonObject) -> None:
        self.updates.append(status)
        self._notify()
        key = (status["task_id"]["value"], status["state"])
        if key in self.refuse_first:
            self.refuse_first.discard(key)
            raise RuntimeError(f"refusing the first {key} on purpose")

    async def on_message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        self.messages.append((agent_id, executor_id, data))
        self._notify()

    async def on_failure(self, agent_id: str | None, executor_id: str | None, status: int | None) -> None:
        self.failures.append((agent_id, executor_id, status))
        self._notify()

    async def on_error(self, message: str) -> None:
        self.errors.append(message)
        self._notify()

    async def on_disconnected(self) -> None:
        self.disconnects += 1
        self._notify()

    async def tasks_to_reconcile(self) -> list[tuple[str, str | None]]:
        return []

    # -- waiting ------------------------------------------------------------------------------

    async def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float = 5.0, what: str = ""
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            states = [(u["task_id"]["value"], u["state"]) for u in self.updates[-10:]]
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or predicate}; last updates {states}"
            ) from None

    async def next_offer(self, *, after: int | None = None, timeout: float = 5.0) -> JsonObject:
        """The first offer received after ``after`` offers (default: after those seen so far)."""
        seen = len(self.offers) if after is None else after
        await self.wait_until(lambda: len(self.offers) > seen, timeout=timeout, what="an offer")
        return self.offers[seen]

    def states_of(self, task_id: str, *, reliable_only: bool = False) -> list[str]:
        return [
            u["state"]
            for u in self.updates
            if u["task_id"]["value"] == task_id and (u.get("uuid") or not reliable_only)
        ]

    def last_update(self, task_id: str) -> JsonObject:
        return [u for u in self.updates if u["task_id"]["value"] == task_id][-1]

    async def wait_for_state(self, task_id: str, state: str, *, timeout: float = 5.0) -> JsonObject:
        def matching() -> list[JsonObject]:
            return [u for u in self.updates if u["task_id"]["value"] == task_id and u["state"] == state]

        await self.wait_until(lambda: bool(matching()), timeout=timeout, what=f"{task_id} {state}")
        return matching()[0]


# --- TaskInfo builders -------------------------------------------------------------------------------


def scalars(cpus: float, mem: float) -> list[JsonObject]:
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]


def command_task(
    offer: JsonObject, task_id: str, command: str, *, cpus: float = 0.1, mem: float = 32, **extra: Any
) -> JsonObject:
    """A command TaskInfo (``shell`` command) on the offer's agent."""
    task: JsonObject = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": scalars(cpus, mem),
        "command": {"value": command},
    }
    task.update(extra)
    return task


def executor_command() -> str:
    return f"{sys.executable} {KIT_PATH} executor"


def executor_info(executor_id: str, *, cpus: float = 0.1, mem: float = 32, **extra: Any) -> JsonObject:
    """A CUSTOM ExecutorInfo running the test executor."""
    info: JsonObject = {
        "executor_id": {"value": executor_id},
        "type": "CUSTOM",
        "command": {"value": executor_command(), "shell": True},
        "resources": scalars(cpus, mem),
    }
    info.update(extra)
    return info


def executor_task(
    offer: JsonObject,
    task_id: str,
    executor: JsonObject,
    *,
    action: str = "finish",
    cpus: float = 0.1,
    mem: float = 32,
    **behaviour: Any,
) -> JsonObject:
    """A TaskInfo for the test executor; ``action`` and ``behaviour`` go in its data."""
    data = json.dumps({"action": action, **behaviour}).encode()
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": scalars(cpus, mem),
        "executor": executor,
        "data": base64.b64encode(data).decode("ascii"),
    }


def launch(*tasks: JsonObject) -> list[JsonObject]:
    return [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}]


def offer_resources(offer: JsonObject) -> dict[str, Any]:
    """``{name: value}`` of an offer: a float for a scalar, ``[(begin, end), ...]`` for ranges."""
    resources: dict[str, Any] = {}
    for resource in offer["resources"]:
        if resource["type"] == "RANGES":
            resources[resource["name"]] = [(r["begin"], r["end"]) for r in resource["ranges"]["range"]]
        else:
            resources[resource["name"]] = resource["scalar"]["value"]
    return resources


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in process group ``pgid``."""
    from server.base.processes import live_processes

    return any(stat.pgid == pgid for stat in live_processes().values())


async def wait_gone(pgid: int, timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while group_alive(pgid):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# --- third-party framework clients -------------------------------------------------------------------


class ThreadedFramework:
    """A threads-based third-party Mesos framework client (``mesoshttp.client.MesosClient`` or
    its fork ``avmesos.client.MesosClient``: one API) run in a thread, with what its callbacks
    receive recorded.

    ``client.register()`` blocks on the subscription stream, so it runs in a daemon thread; the
    client acknowledges every update that carries a uuid before its UPDATE callback runs. Its
    driver's calls block on HTTP too: from a coroutine, make them through :meth:`call` (in a
    worker thread) so that the event loop serving the cluster keeps running.
    """

    def __init__(self, client: Any) -> None:
        import threading

        self.client = client
        self.driver: Any = None
        self.framework_ids: list[str] = []
        self.offers: list[Any] = []  # the client's Offer objects
        self.updates: list[JsonObject] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        for event, record in (
            (client.SUBSCRIBED, self._subscribed),
            (client.OFFERS, self._offers),
            (client.UPDATE, self._update),
            (client.ERROR, self._error),
        ):
            client.on(event, record)
        self._thread = threading.Thread(target=client.register, name="third-party-framework", daemon=True)

    def start(self) -> ThreadedFramework:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    async def call(self, method: Callable[..., Any], *arguments: Any) -> Any:
        """Run a blocking driver (or offer) method in a worker thread."""
        return await asyncio.to_thread(method, *arguments)

    async def stop(self, *, teardown: bool) -> None:
        """End the client: with ``teardown`` it unregisters (TEARDOWN, sent by its loop on the
        next event), else it only drops its connection (the framework may fail over)."""
        if teardown:
            self.client.tearDown()
        else:
            self.client.disconnect_framework()
        await asyncio.to_thread(self._thread.join, 10.0)
        if self._thread.is_alive():
            raise AssertionError("the third-party client did not stop")

    def states_of(self, task_id: str) -> list[str]:
        with self._lock:
            return [u["status"]["state"] for u in self.updates if u["status"]["task_id"]["value"] == task_id]

    def last_update(self, task_id: str) -> JsonObject | None:
        with self._lock:
            mine = [u["status"] for u in self.updates if u["status"]["task_id"]["value"] == task_id]
        return mine[-1] if mine else None

    async def wait_for_state(self, task_id: str, state: str, timeout: float = 10.0) -> JsonObject:
        from testkit.polling import until

        def reached() -> JsonObject | None:
            with self._lock:
                for update in reversed(self.updates):
                    status = update["status"]
                    if status["task_id"]["value"] == task_id and status["state"] == state:
                        return dict(status)
            return None

        try:
            return await until(reached, timeout=timeout, what=f"{task_id} {state}")
        except AssertionError as timed_out:  # name what had arrived by then, not at the start
            raise AssertionError(f"{timed_out} (seen {self.states_of(task_id)})") from None

    async def next_offer(self, after: int, timeout: float = 10.0) -> Any:
        """The first offer received after the first ``after`` ones."""
        from testkit.polling import until

        await until(lambda: len(self.offers) > after, timeout=timeout, what=f"offer number {after + 1}")
        return self.offers[after]

    def _subscribed(self, driver: Any) -> None:
        with self._lock:
            self.driver = driver
            self.framework_ids.append(str(driver.frameworkId))

    def _offers(self, offers: list[Any]) -> None:
        with self._lock:
            self.offers.extend(offers)

    def _update(self, update: JsonObject) -> None:
        with self._lock:
            self.updates.append(update)

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)


# --- the test executor (runs in its own process) -------------------------------------------------------


class _TestExecutor:
    def __init__(self) -> None:
        self.framework_id = os.environ["MESOS_FRAMEWORK_ID"]
        self.executor_id = os.environ["MESOS_EXECUTOR_ID"]
        self.sandbox = Path(os.environ["MESOS_SANDBOX"])
        self.url = f"http://{os.environ['MESOS_AGENT_ENDPOINT']}/api/v1/executor"
        self.running: set[str] = set()
        self.calls = httpx.AsyncClient(timeout=10.0)  # bound to the loop on first use

    def _call(self, call_type: str, **payload: Any) -> JsonObject:
        return {
            "type": call_type,
            "framework_id": {"value": self.framework_id},
            "executor_id": {"value": self.executor_id},
            **payload,
        }

    async def update(self, task_id: str, state: str, message: str = "") -> None:
        from server.mesos.status import task_status

        status = task_status(task_id, state, source="SOURCE_EXECUTOR", message=message, reliable=True)
        response = await self.calls.post(self.url, json=self._call("UPDATE", update={"status": status}))
        response.raise_for_status()
        if state == "TASK_RUNNING":
            self.running.add(task_id)
        else:
            self.running.discard(task_id)

    def note(self, name: str, line: str) -> None:
        with (self.sandbox / name).open("a") as handle:
            handle.write(line + "\n")

    async def handle(self, event: JsonObject) -> bool:
        """Act on one event; return False to exit."""
        kind = event["type"]
        if kind == "LAUNCH":
            task = event["launch"]["task"]
            task_id = task["task_id"]["value"]
            self.note("launched.txt", task_id)
            behaviour = json.loads(base64.b64decode(task.get("data", "") or "e30="))
            await self.update(task_id, "TASK_RUNNING", "running in the test executor")
            action = behaviour.get("action", "finish")
            if action == "crash":
                os._exit(int(behaviour.get("exit_code", 3)))
            if action == "finish":
                await self.update(task_id, "TASK_FINISHED", "done")
        elif kind == "KILL":
            task_id = event["kill"]["task_id"]["value"]
            await self.update(task_id, "TASK_KILLED", "killed by request")
        elif kind == "SHUTDOWN":
            for task_id in sorted(self.running):
                await self.update(task_id, "TASK_KILLED", "executor shut down")
            return False
        elif kind == "MESSAGE":
            data = base64.b64decode(event["message"]["data"])
            echo = base64.b64encode(b"echo:" + data).decode("ascii")
            await self.calls.post(self.url, json=self._call("MESSAGE", message={"data": echo}))
        elif kind == "ACKNOWLEDGED":
            acknowledged = event["acknowledged"]
            self.note("acknowledged.txt", f"{acknowledged['task_id']['value']} {acknowledged['uuid']}")
        return True

    async def run(self) -> int:
        """Subscribe once and act on events until SHUTDOWN or the end of the stream."""
        from server.mesos.errors import MesosError, SubscriptionLost
        from server.mesos.subscription import SubscribeRequest, SubscriptionLoop

        (self.sandbox / "executor-env.json").write_text(json.dumps(dict(os.environ), indent=1))
        subscribe = self._call(
            "SUBSCRIBE", subscribe={"unacknowledged_tasks": [], "unacknowledged_updates": []}
        )

        async def request() -> SubscribeRequest:
            return SubscribeRequest(endpoint=self.url, body=json.dumps(subscribe).encode())

        async def give_up(_subscribed: bool, _error: MesosError) -> float | None:
            return None  # a test executor whose agent went away exits

        loop = SubscriptionLoop(subscribe=request, on_event=self.handle, on_lost=give_up)
        async with self.calls:
            with contextlib.suppress(SubscriptionLost):  # the agent ended the stream: exit
                await loop.run()
        return 0


def _executor_main() -> int:
    return asyncio.run(_TestExecutor().run())


if __name__ == "__main__":
    if sys.argv[1:] == ["executor"]:
        sys.exit(_executor_main())
    sys.exit(f"usage: {sys.argv[0]} executor")
