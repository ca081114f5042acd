"""Asyncio client for the Mesos v1 scheduler HTTP API (``/api/v1/scheduler``).

Lifecycle (:class:`ClientState`)::

    UNOPENED --run()--> CONNECTING <--> SUBSCRIBED --close() / ERROR event / teardown()--> CLOSED

* :meth:`MesosSchedulerClient.run` detects the leading master, sends ``SUBSCRIBE`` and reads the
  RecordIO event stream of the response (a :class:`~server.mesos.subscription.SubscriptionLoop`)
  until :meth:`~MesosSchedulerClient.close`. Events go to a :class:`SchedulerEventHandler`, one
  at a time, in stream order.
* The subscription stream and the calls never share a connection: calls (``ACCEPT``,
  ``DECLINE``, ``ACKNOWLEDGE``, ...) go through a second ``httpx.AsyncClient`` with the
  ``Mesos-Stream-Id`` header and the top-level ``framework_id``, and must be answered
  ``202 Accepted``.

What the client guarantees across a lost connection:

* A stream that drops, ends, breaks the framing, or stays silent longer than
  ``heartbeat_misses`` heartbeat intervals ends the subscription: the handler gets
  ``on_disconnected()`` and the client resubscribes with exponential backoff (re-detecting the
  leader each time, following ``307`` redirects) using the same framework id, so the master keeps
  the framework's tasks (within ``failover_timeout``).
* After every ``SUBSCRIBED`` it reconciles: explicitly with ``handler.tasks_to_reconcile()`` (when
  non-empty), resent with backoff for the tasks that have not answered, the still silent ones
  then reported to ``handler.on_unanswered`` (when it has one); then implicitly; and again every
  ``reconcile_interval`` seconds while subscribed.
* A status update that carries a ``uuid`` is acknowledged only after ``handler.on_update``
  returned without raising (so the scheduler has recorded it first); one without ``uuid``
  (reconciliation answers, master-generated updates) is never acknowledged. An update that is not
  acknowledged is resent by Mesos, so a failed handler or a failed ACK loses nothing.
* Calls made while not subscribed raise :class:`~server.mesos.errors.SubscriptionLost` at once;
  nothing is queued for later.

An ``ERROR`` event is final: the proto says the scheduler "should abort on receiving this event"
(framework removed, failed over by another instance, not authorized), so the client calls
``on_error`` and closes instead of resubscribing. A ``SUBSCRIBE`` refused with a 4xx status (other
than 408 / 429) is final too and makes :meth:`~MesosSchedulerClient.run` raise
:class:`~server.mesos.errors.CallRejected`: retrying a bad FrameworkInfo cannot succeed.

A ``zk://`` master URL needs a ZooKeeper leader detector (``detect=``, see
:data:`~server.mesos.detector.LeaderDetector`); ``server.registry.mesos_master`` has one.
"""

from server.base.backoff import Backoff
from server.mesos.client._client import ClientState, MesosSchedulerClient
from server.mesos.client._events import SchedulerEventHandler
from server.mesos.client._framework import DEFAULT_FAILOVER_TIMEOUT, FrameworkInfo
from server.mesos.subscription import JsonObject

__all__ = [
    "DEFAULT_FAILOVER_TIMEOUT",
    "Backoff",
    "ClientState",
    "FrameworkInfo",
    "JsonObject",
    "MesosSchedulerClient",
    "SchedulerEventHandler",
]
