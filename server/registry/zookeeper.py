"""The ZooKeeper connection every repository shares.

Guarantees:
- Every operation completes or raises ``RegistryUnavailable`` within ``timeout`` seconds: while the
  connection is suspended or lost, calls fail at once instead of queueing; a call in flight when the
  connection drops fails with the same error. Nothing hangs.
- The session lasts ``session_timeout`` seconds without contact (the server bounds it to 2..20 of
  its ticks), so the ephemeral nodes of a process that died (its leadership) go that soon.
- The client reconnects forever in the background; after a lost (expired) session kazoo opens a new
  one, and the next call works again. Listeners hear every state change (health reporting uses it).
- With a digest (``user:password``) every node we create carries a digest ACL for that user.
- A transaction is committed as one request; one larger than ``TRANSACTION_LIMIT`` is refused
  unsent (``TransactionTooLarge``; see ``server.registry.transaction_ops``).
- Bulk reads (``aget_many``, ``achildren_many``) keep up to ``READ_BATCH`` requests in flight on the
  one connection; they fail as a whole (``RegistryUnavailable``) when the connection does. Large
  batches are issued from a worker thread: each kazoo request wakes kazoo's connection thread, and
  issuing hundreds from the event loop would stall it for tens of milliseconds.
- Every request and transaction is timed, and its failures counted, in the Prometheus metrics
  (``server.telemetry.metrics``; a missing or existing node or a lost version race is no failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import ZnodeStat
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl

from server.domain.errors import RegistryUnavailable
from server.registry.paths import RegistryPaths
from server.registry.transaction_ops import (
    TRANSACTION_BUDGET,
    TRANSACTION_LIMIT,
    TransactionOps,
    TransactionTooLarge,
)
from server.telemetry import metrics

log = logging.getLogger("server.registry")

T = TypeVar("T")
StateListener = Callable[[str], None]
_UNAVAILABLE = (ConnectionLoss, SessionExpiredError, OperationTimeoutError, KazooTimeoutError)
#: Answers about a node's state (absent, present, another version, has children): outcomes, not errors.
_NODE_OUTCOMES = (NoNodeError, NodeExistsError, BadVersionError, NotEmptyError)

READ_BATCH = 500
"""Requests a bulk read keeps in flight at once."""
_ISSUE_INLINE = 20  # a bulk read issues more requests than this from a worker thread


class ZooKeeper:
    """A started kazoo client plus the namespace's paths."""

    def __init__(
        self,
        servers: str,
        *,
        namespace: str = "elasticjob-cloud",
        digest: str | None = None,
        timeout: float = 5.0,
        session_timeout: float = 4.0,
    ) -> None:
        self.servers = servers
        self.paths = RegistryPaths(namespace)
        self.timeout = timeout
        auth: list[tuple[str, str]] = []
        acl: list[Any] | None = None
        if digest:
            user, _, password = digest.partition(":")
            auth = [("digest", digest)]
            acl = [make_digest_acl(user, password, all=True)]
        self.client = KazooClient(
            hosts=servers,
            timeout=session_timeout,
            connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 2.0},
            auth_data=auth or None,
            default_acl=acl,
        )
        self._acl: list[Any] = acl or list(OPEN_ACL_UNSAFE)
        self.transaction_budget = TRANSACTION_BUDGET
        self._listeners: list[StateListener] = []
        self._parents_ready = False
        self._lock = threading.Lock()
        self.client.add_listener(self._on_state)

    def start(self, wait: float | None = None) -> bool:
        """Start connecting in the background; with ``wait``, block up to that many seconds for the
        first connection. Returns whether the client is connected."""
        event = self.client.start_async()
        if wait:
            event.wait(wait)
        return bool(self.client.connected)

    def stop(self) -> None:
        try:
            self.client.stop()
        finally:
            self.client.close()

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def add_state_listener(self, listener: StateListener) -> None:
        """``listener`` is called with "CONNECTED", "SUSPENDED" or "LOST" (from kazoo's thread)."""
        self._listeners.append(listener)

    def _on_state(self, state: str) -> None:
        log.info("ZooKeeper %s: %s", self.servers, state)
        if state != KazooState.CONNECTED:
            with self._lock:
                self._parents_ready = False
        for listener in self._listeners:
            try:
                listener(state)
            except Exception:  # a listener's bug must not break kazoo's event thread
                log.exception("ZooKeeper state listener failed")

    def call(self, operation: Callable[[KazooClient], Any]) -> Any:
        """Run one kazoo async operation (``lambda c: c.get_async(path)``) with the bounded wait."""
        self._require_connection()
        self._ensure_parents()
        return self._wait(operation(self.client), request="call")

    def get_many(self, paths: Sequence[str]) -> list[tuple[bytes, ZnodeStat] | None]:
        """Data and stat of each path, in order (None where the node is absent): ``aget_many`` for
        a thread, ``READ_BATCH`` requests in flight at a time, each waited for with the bound."""
        return [_absent_as_none(result) for result in self._many_sync(paths, _get)]

    def children_many(self, paths: Sequence[str]) -> list[list[str] | None]:
        """Children of each path, in order (None where the node is absent), for a thread."""
        results = self._many_sync(paths, _children)
        return [None if result is None else list(result) for result in map(_absent_as_none, results)]

    def _many_sync(self, paths: Sequence[str], operation: Callable[[str, KazooClient], Any]) -> list[Any]:
        self._require_connection()
        self._ensure_parents()
        results: list[Any] = []
        for start in range(0, len(paths), READ_BATCH):
            pending = [operation(path, self.client) for path in paths[start : start + READ_BATCH]]
            for async_result in pending:
                try:
                    results.append(self._wait(async_result))
                except NoNodeError as exc:
                    results.append(exc)
        return results

    def transaction_ops(self) -> TransactionOps:
        """An empty builder for this connection (its ACL, its chroot)."""
        return TransactionOps(self._acl, self.client.chroot or "")

    def commit(self, build: Callable[[TransactionOps], None]) -> list[Any]:
        """Build one transaction with ``build(transaction)`` and commit it with the bounded wait.

        Returns kazoo's per-operation results: a value for each success, an exception instance
        (``NoNodeError``, ``NodeExistsError``, ``RolledBackError``, ...) where it failed. A
        transaction larger than ``TRANSACTION_LIMIT`` raises ``TransactionTooLarge`` unsent."""
        self._require_connection()
        self._ensure_parents()
        return list(self._wait(self._send(build), request="commit"))

    def _send(self, build: Callable[[TransactionOps], None]) -> Any:
        ops = self.transaction_ops()
        build(ops)
        if ops.size > TRANSACTION_LIMIT:
            raise TransactionTooLarge(
                f"a transaction of {len(ops)} operations ({ops.size} bytes) exceeds ZooKeeper's "
                f"request limit ({TRANSACTION_LIMIT} bytes usable)"
            )
        transaction = self.client.transaction()
        transaction.operations.extend(ops.operations)
        return transaction.commit_async()

    async def acall(self, operation: Callable[[KazooClient], Any]) -> Any:
        """``call`` for asyncio: kazoo's completion is handed to the loop, bounded by ``timeout``."""
        self._require_connection()
        if not self._parents_ready:
            await asyncio.to_thread(self._ensure_parents)
        return await self._await(operation(self.client), request="acall")

    async def achildren(self, path: str) -> list[str]:
        """Children of ``path`` (NoNodeError when it is absent)."""
        return list(await self.acall(lambda c: c.get_children_async(path)))

    async def adata(self, path: str) -> bytes:
        """Data of ``path`` (NoNodeError when it is absent)."""
        data, _ = await self.acall(lambda c: c.get_async(path))
        return bytes(data)

    async def acommit(self, build: Callable[[TransactionOps], None]) -> list[Any]:
        """``commit`` for asyncio."""
        self._require_connection()
        if not self._parents_ready:
            await asyncio.to_thread(self._ensure_parents)
        return list(await self._await(self._send(build), request="acommit"))

    async def aget_many(self, paths: Sequence[str]) -> list[tuple[bytes, ZnodeStat] | None]:
        """Data and stat of each path, in order (None where the node is absent), read concurrently."""
        results = await self.amany([functools.partial(_get, path) for path in paths])
        return [_absent_as_none(result) for result in results]

    async def achildren_many(self, paths: Sequence[str]) -> list[list[str] | None]:
        """Children of each path, in order (None where the node is absent), read concurrently."""
        results = await self.amany([functools.partial(_children, path) for path in paths])
        return [None if result is None else list(result) for result in map(_absent_as_none, results)]

    async def achanged_children(self, parent: str, known: Mapping[str, int]) -> ChangedChildren:
        """The children of ``parent`` with their modification zxids, and the data of each child whose
        zxid differs from ``known[name]`` (children are read concurrently; data is transferred for
        all, decoded by the caller only where it changed)."""
        names = await self.achildren(parent)
        nodes = await self.aget_many([RegistryPaths.child(parent, name) for name in names])
        zxids: dict[str, int] = {}
        stats: dict[str, ZnodeStat] = {}
        changed: dict[str, bytes] = {}
        for name, node in zip(names, nodes, strict=True):
            if node is None:
                continue  # deleted since the children were listed
            data, stat = node
            zxids[name] = stat.mzxid
            stats[name] = stat
            if known.get(name) != stat.mzxid:
                changed[name] = bytes(data)
        return ChangedChildren(zxids, changed, stats)

    async def amany(self, operations: Sequence[Callable[[KazooClient], Any]]) -> list[Any]:
        """Run kazoo async operations concurrently, ``READ_BATCH`` in flight at a time. Each result is
        the operation's value or the exception it failed with (``NoNodeError``, ...); a lost
        connection raises ``RegistryUnavailable`` for the whole call."""
        self._require_connection()
        if not self._parents_ready:
            await asyncio.to_thread(self._ensure_parents)
        results: list[Any] = []
        for start in range(0, len(operations), READ_BATCH):
            chunk = operations[start : start + READ_BATCH]
            if len(chunk) <= _ISSUE_INLINE:
                batch = self._issue(chunk)
            else:  # each request wakes kazoo's thread: issued from the loop, they would stall it
                batch = await asyncio.to_thread(self._issue, chunk)
            results += await self._await_all(batch)
        for result in results:
            if isinstance(result, _UNAVAILABLE):
                raise RegistryUnavailable(
                    f"ZooKeeper at {self.servers} is unavailable: {result!r}"
                ) from result
        return results

    async def _await(self, async_result: Any, *, request: str = "acall") -> Any:
        started = time.perf_counter()
        try:
            return await self._await_unmetered(async_result)
        except _NODE_OUTCOMES:
            raise
        except Exception as exc:
            metrics.ZOOKEEPER_ERRORS.labels(request, type(exc.__cause__ or exc).__name__).inc()
            raise
        finally:
            metrics.ZOOKEEPER_REQUEST_SECONDS.labels(request).observe(time.perf_counter() - started)

    async def _await_unmetered(self, async_result: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(result: Any) -> None:
            def deliver() -> None:
                if future.done():
                    return
                try:
                    future.set_result(result.get_nowait())
                except Exception as exc:  # delivered to the awaiting coroutine
                    future.set_exception(exc)

            loop.call_soon_threadsafe(deliver)

        async_result.rawlink(settle)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except _UNAVAILABLE as exc:
            raise RegistryUnavailable(f"ZooKeeper at {self.servers} is unavailable: {exc!r}") from exc
        except TimeoutError as exc:
            raise RegistryUnavailable(
                f"ZooKeeper at {self.servers} did not answer in {self.timeout}s"
            ) from exc

    def _issue(self, operations: Sequence[Callable[[KazooClient], Any]]) -> list[Any]:
        return [operation(self.client) for operation in operations]

    async def _await_all(self, async_results: list[Any]) -> list[Any]:
        """Wait for every async result; one hand-over to the loop for the whole batch."""
        if not async_results:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        values: list[Any] = [None] * len(async_results)
        remaining = [len(async_results)]
        lock = threading.Lock()

        def deliver() -> None:
            if not future.done():
                future.set_result(values)

        def settle(index: int, result: Any) -> None:  # kazoo's completion thread
            try:
                values[index] = result.get_nowait()
            except Exception as exc:  # handed to the caller in place of the value
                values[index] = exc
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                    loop.call_soon_threadsafe(deliver)

        for index, async_result in enumerate(async_results):
            async_result.rawlink(functools.partial(settle, index))
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            raise RegistryUnavailable(
                f"ZooKeeper at {self.servers} did not answer {len(async_results)} reads in {self.timeout}s"
            ) from exc

    def _wait(self, async_result: Any, *, request: str = "call") -> Any:
        started = time.perf_counter()
        try:
            return async_result.get(timeout=self.timeout)
        except _UNAVAILABLE as exc:
            metrics.ZOOKEEPER_ERRORS.labels(request, type(exc).__name__).inc()
            raise RegistryUnavailable(f"ZooKeeper at {self.servers} is unavailable: {exc!r}") from exc
        except _NODE_OUTCOMES:
            raise
        except Exception as exc:
            metrics.ZOOKEEPER_ERRORS.labels(request, type(exc).__name__).inc()
            raise
        finally:
            metrics.ZOOKEEPER_REQUEST_SECONDS.labels(request).observe(time.perf_counter() - started)

    def _require_connection(self) -> None:
        if not self.client.connected:
            raise RegistryUnavailable(f"ZooKeeper at {self.servers} is unreachable")

    def _ensure_parents(self) -> None:
        if self._parents_ready:
            return
        with self._lock:
            if self._parents_ready:
                return
            for path in self.paths.parents():
                self._wait(self.client.ensure_path_async(path))
            self._parents_ready = True


@dataclass(frozen=True, slots=True)
class ChangedChildren:
    """What ``achanged_children`` read: every child's modification zxid, the changed ones' data,
    every child's stat."""

    zxids: dict[str, int]
    changed: dict[str, bytes]
    stats: dict[str, ZnodeStat] = field(default_factory=dict)


def _get(path: str, client: KazooClient) -> Any:
    return client.get_async(path)


def _children(path: str, client: KazooClient) -> Any:
    return client.get_children_async(path)


def _absent_as_none(result: Any) -> Any:
    if isinstance(result, NoNodeError):
        return None
    if isinstance(result, Exception):
        raise result
    return result
