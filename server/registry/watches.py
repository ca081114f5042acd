"""ZooKeeper watches on what other replicas write: job and app configuration, disabled flags and
the ready queue, so the leader hears of a change within milliseconds instead of at its resync.

Guarantees across connection loss:
- Watches are one-shot in ZooKeeper; each is armed again by the read that follows its event, so
  every later change fires again. A children watch on each parent (``/config/job``,
  ``/config/app``, ``/state/ready``, ``/state/disable/job``, ``/state/disable/app``) sees nodes
  come and go; a data watch on each job, app and ready node sees it change.
- Within a session ZooKeeper keeps the watches over a reconnection (the client sends them again).
  A lost session drops them: on the next connection every watch is armed anew and
  ``on_config`` is called once, since anything may have changed meanwhile.
- The callbacks run on kazoo's thread and must only hand the news on. ``on_config()`` hears of a
  configuration or disabled-flag change; ``on_ready(job)`` of a ready node created or changed
  (its own writes included: the listener decides what is new). After ``stop`` nothing is called
  and no watch is armed again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooState
from kazoo.protocol.states import EventType, WatchedEvent

from server.registry.zookeeper import ZooKeeper

log = logging.getLogger("server.registry")


class RegistryWatch:
    def __init__(
        self, zookeeper: ZooKeeper, *, on_config: Callable[[], None], on_ready: Callable[[str], None]
    ) -> None:
        self._zk = zookeeper
        paths = zookeeper.paths
        self._on_config = on_config
        self._on_ready = on_ready
        self._ready_parent = paths.ready
        #: parents whose children get a data watch too
        self._data_parents = {paths.jobs, paths.apps, paths.ready}
        self._parents = (paths.jobs, paths.apps, paths.ready, paths.disabled_jobs, paths.disabled_apps)
        self._armed: set[str] = set()  # nodes with a data watch
        self._lock = threading.Lock()
        self._stopped = False
        self._session_lost = False
        zookeeper.add_state_listener(self._on_state)

    def start(self) -> None:
        """Arm every watch (reads go out asynchronously; nothing blocks)."""
        for parent in self._parents:
            self._arm_children(parent, announce=False)

    def stop(self) -> None:
        self._stopped = True

    def _on_state(self, state: str) -> None:
        if self._stopped:
            return
        if state == KazooState.LOST:
            self._session_lost = True
        elif state == KazooState.CONNECTED and self._session_lost:
            self._session_lost = False
            with self._lock:
                self._armed.clear()
            log.info("ZooKeeper session renewed: watching the registry again")
            self.start()
            self._notify_config()

    # Arming: each read carries the watch; its completion arms what lies below.
    def _arm_children(self, parent: str, *, announce: bool = True) -> None:
        """List ``parent`` with a children watch; data watches on its new children (with
        ``announce``, a new ready node is reported)."""
        if self._stopped:
            return
        try:
            result = self._zk.client.get_children_async(parent, watch=self._children_event)
        except Exception as exc:  # the connection is down: the reconnection arms it again
            log.debug("cannot watch %s: %s", parent, exc)
            return
        result.rawlink(lambda done: self._children_listed(parent, done, announce))

    def _children_listed(self, parent: str, done: Any, announce: bool) -> None:
        try:
            children = done.get_nowait()
        except Exception as exc:  # absent (created at the next start) or the connection went
            log.debug("cannot list %s: %s", parent, exc)
            return
        if parent not in self._data_parents:
            return
        for name in children:
            path = f"{parent}/{name}"
            with self._lock:
                if path in self._armed:
                    continue
                self._armed.add(path)
            self._arm_data(path)
            if announce and parent == self._ready_parent:
                self._notify_ready(name)

    def _arm_data(self, path: str) -> None:
        if self._stopped:
            return
        try:
            self._zk.client.get_async(path, watch=self._data_event)
        except Exception as exc:
            log.debug("cannot watch %s: %s", path, exc)
            with self._lock:
                self._armed.discard(path)

    # Events (kazoo's thread).
    def _children_event(self, event: WatchedEvent) -> None:
        if self._stopped or event.type == EventType.NONE:
            return
        self._arm_children(event.path)  # a new ready node is reported once listed
        if event.path != self._ready_parent:
            self._notify_config()

    def _data_event(self, event: WatchedEvent) -> None:
        if self._stopped or event.type == EventType.NONE:
            return
        path = event.path
        if event.type == EventType.DELETED:
            with self._lock:
                self._armed.discard(path)
        else:
            self._arm_data(path)
        parent, _, name = path.rpartition("/")
        if parent == self._ready_parent:
            if event.type != EventType.DELETED:
                self._notify_ready(name)
        else:
            self._notify_config()

    def _notify_config(self) -> None:
        try:
            self._on_config()
        except Exception:  # a listener's bug must not break kazoo's event thread
            log.exception("registry watch listener failed")

    def _notify_ready(self, name: str) -> None:
        try:
            self._on_ready(name)
        except Exception:
            log.exception("registry watch listener failed")
