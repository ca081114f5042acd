"""Reconciliations asked for through the API: ``/ha/reconcile_request`` holds the last one
(``ReconcileRequest``: its kind and when it was asked for).

- One request per ``RECONCILE_WINDOW_SECONDS``, shared by both kinds and by every replica: a
  request reads the node and writes it back with the version it read, so of two replicas asking
  at once one wins and the other is refused (``TooManyRequests`` with the seconds to wait).
- The leader watches the node (``watch``) and reconciles on every write after it started
  watching; a request made while no leader watched is not carried out later.
- Persistent: the window survives a lost session and a change of leader.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.recipe.watchers import DataWatch

from server.domain.operate_errors import TooManyRequests
from server.registry.zookeeper import ZooKeeper

log = logging.getLogger("server.registry")

RECONCILE_WINDOW_SECONDS = 10.0
"""Shortest time between two reconciliations asked for through the API (ElasticJob-Cloud 3.0's)."""


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    """A request's kind (``explicit`` or ``implicit``) and when it was made (epoch seconds)."""

    kind: str
    at: float

    def encode(self) -> bytes:
        return json.dumps({"kind": self.kind, "at": round(self.at, 3)}).encode()

    @staticmethod
    def decode(data: bytes) -> ReconcileRequest | None:
        try:
            value = json.loads(data)
            kind, at = str(value["kind"]), float(value["at"])
        except (ValueError, TypeError, KeyError):
            return None
        return ReconcileRequest(kind, at) if math.isfinite(at) else None


class ReconcileRequests:
    def __init__(self, zookeeper: ZooKeeper, *, window: float = RECONCILE_WINDOW_SECONDS) -> None:
        self._zk = zookeeper
        self._path = zookeeper.paths.reconcile_request
        self._window = window

    def request(self, kind: str, now: float) -> ReconcileRequest:
        """Record a request made at ``now`` (epoch seconds); TooManyRequests when the last one is
        less than the window ago, or another replica recorded one meanwhile."""
        request = ReconcileRequest(kind, now)
        try:
            data, stat = self._zk.call(lambda c: c.get_async(self._path))
        except NoNodeError:
            try:
                self._zk.call(lambda c: c.create_async(self._path, request.encode(), makepath=True))
            except NodeExistsError:
                raise self._refusal(self._window) from None
            return request
        last = ReconcileRequest.decode(data)
        if last is not None:
            elapsed = now - last.at
            if 0 <= elapsed < self._window:
                raise self._refusal(self._window - elapsed)
        try:
            self._zk.call(lambda c: c.set_async(self._path, request.encode(), stat.version))
        except (BadVersionError, NoNodeError):
            raise self._refusal(self._window) from None
        return request

    def _refusal(self, wait: float) -> TooManyRequests:
        seconds = max(1, math.ceil(wait))
        return TooManyRequests(
            f"a reconciliation was asked for less than {self._window:.0f} s ago; try again in {seconds} s",
            retry_after=seconds,
        )

    def watch(self, listener: Callable[[ReconcileRequest], None]) -> Callable[[], None]:
        """Call ``listener`` (on kazoo's thread) with every request written once the watch is
        armed (at once, from a thread of its own); returns the function that stops it. Kazoo arms
        the watch again after a reconnection and a lost session; a write is heard once (by its
        modification zxid)."""
        state = {"zxid": None}
        started = threading.Event()
        stopped = threading.Event()

        def changed(data: bytes | None, stat: Any) -> bool:
            if stopped.is_set():
                return False
            zxid = None if stat is None else stat.mzxid
            if not started.is_set():  # the first call reports what was there already
                state["zxid"] = zxid
                started.set()
                return True
            if data is None or zxid is None or zxid == state["zxid"]:
                return True
            state["zxid"] = zxid
            request = ReconcileRequest.decode(data)
            if request is not None:
                try:
                    listener(request)
                except Exception:  # the watch must go on
                    log.exception("reconcile request listener failed")
            return True

        def arm() -> None:
            try:
                DataWatch(self._zk.client, self._path, changed)
            except Exception as exc:  # ZooKeeper away: this leadership hears no requests
                log.warning("could not watch %s for reconcile requests: %s", self._path, exc)

        # DataWatch reads the node at once; from a thread of its own so the caller never waits on
        # ZooKeeper.
        threading.Thread(target=arm, name="reconcile-watch", daemon=True).start()
        return stopped.set
