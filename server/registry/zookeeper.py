"""The ZooKeeper connection every repository shares.

Guarantees:
- Every operation completes or raises ``RegistryUnavailable`` within ``timeout`` seconds: while the
  connection is suspended or lost, calls fail at once instead of queueing; a call in flight when the
  connection drops fails with the same error. Nothing hangs.
- The client reconnects forever in the background; after a lost (expired) session kazoo opens a new
  one, and the next call works again. Listeners hear every state change (health reporting uses it).
- With a digest (``user:password``) every node we create carries a digest ACL for that user.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_digest_acl

from server.errors import RegistryUnavailable
from server.registry.paths import RegistryPaths

log = logging.getLogger("server.registry")

T = TypeVar("T")
StateListener = Callable[[str], None]
_UNAVAILABLE = (ConnectionLoss, SessionExpiredError, OperationTimeoutError, KazooTimeoutError)


class ZooKeeper:
    """A started kazoo client plus the namespace's paths."""

    def __init__(
        self,
        servers: str,
        *,
        namespace: str = "elasticjob-cloud",
        digest: str | None = None,
        timeout: float = 5.0,
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
            timeout=max(timeout * 2, 4.0),
            connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 2.0},
            auth_data=auth or None,
            default_acl=acl,
        )
        self._listeners: list[StateListener] = []
        self._parents_ready = False
        self._lock = threading.Lock()
        self.client.add_listener(self._on_state)

    # lifecycle -------------------------------------------------------------------------------
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

    # operations ------------------------------------------------------------------------------
    def call(self, operation: Callable[[KazooClient], Any]) -> Any:
        """Run one kazoo async operation (``lambda c: c.get_async(path)``) with the bounded wait."""
        self._require_connection()
        self._ensure_parents()
        return self._wait(operation(self.client))

    def commit(self, build: Callable[[Any], None]) -> list[Any]:
        """Build one transaction with ``build(transaction)`` and commit it with the bounded wait.

        Returns kazoo's per-operation results: a value for each success, an exception instance
        (``NoNodeError``, ``NodeExistsError``, ``RolledBackError``, ...) where it failed."""
        self._require_connection()
        self._ensure_parents()
        transaction = self.client.transaction()
        build(transaction)
        return list(self._wait(transaction.commit_async()))

    # asyncio variants: the scheduler's event loop never blocks on ZooKeeper ---------------------
    async def acall(self, operation: Callable[[KazooClient], Any]) -> Any:
        """``call`` for asyncio: kazoo's completion is handed to the loop, bounded by ``timeout``."""
        self._require_connection()
        if not self._parents_ready:
            await asyncio.to_thread(self._ensure_parents)
        return await self._await(operation(self.client))

    async def achildren(self, path: str) -> list[str]:
        """Children of ``path`` (NoNodeError when it is absent)."""
        return list(await self.acall(lambda c: c.get_children_async(path)))

    async def adata(self, path: str) -> bytes:
        """Data of ``path`` (NoNodeError when it is absent)."""
        data, _ = await self.acall(lambda c: c.get_async(path))
        return bytes(data)

    async def acommit(self, build: Callable[[Any], None]) -> list[Any]:
        """``commit`` for asyncio."""
        self._require_connection()
        if not self._parents_ready:
            await asyncio.to_thread(self._ensure_parents)
        transaction = self.client.transaction()
        build(transaction)
        return list(await self._await(transaction.commit_async()))

    async def _await(self, async_result: Any) -> Any:
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

    def _wait(self, async_result: Any) -> Any:
        try:
            return async_result.get(timeout=self.timeout)
        except _UNAVAILABLE as exc:
            raise RegistryUnavailable(f"ZooKeeper at {self.servers} is unavailable: {exc!r}") from exc

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
