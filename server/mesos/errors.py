"""The exception tree of the Mesos protocol code.

Everything the Mesos protocol code raises on purpose (the RecordIO parser, the subscription loop,
the scheduler client, leader detection in ``server.mesos.detector`` and
``server.registry.mesos_master``) derives from :class:`MesosError`, so a caller can catch one type
at the edge. Lower-level causes (an ``httpx`` error, a ``json`` decode error, a ``kazoo`` timeout)
are never swallowed: they are chained with ``raise ... from exc`` and stay reachable through
``__cause__``.

::

    MesosError
    ├── TransportError      the network failed: connect refused, reset, timeout
    ├── ProtocolError       the bytes arrived but do not follow RecordIO / JSON / the Mesos protos
    ├── SubscriptionLost    there is no live subscription (never made, dropped, or ended)
    ├── CallRejected        a call was answered with a status other than the expected one
    └── NoLeader            no leading master could be found
"""

from __future__ import annotations

__all__ = [
    "CallRejected",
    "MesosError",
    "NoLeader",
    "ProtocolError",
    "SubscriptionLost",
    "TransportError",
]


class MesosError(Exception):
    """Base class of every error raised on purpose by the Mesos protocol code."""


class TransportError(MesosError):
    """The HTTP connection to a master or agent failed (refused, reset, timed out, closed
    mid-response)."""


class ProtocolError(MesosError):
    """The peer sent something that breaks the wire format.

    Malformed RecordIO framing, a record that is not JSON, an event without the fields the Mesos
    protos require, a SUBSCRIBE response without a ``Mesos-Stream-Id`` header.
    """


class SubscriptionLost(MesosError):
    """There is no live subscription to send a call on, or the live one just ended.

    Raised by the scheduler client's call methods while it is not subscribed (before the first
    SUBSCRIBED, while resubscribing, after close), and by the subscription loop to say why a
    stream ended (end of the body, missed heartbeats, an ERROR event of the agent).
    """


class CallRejected(MesosError):
    """A master or agent answered an HTTP call with an unexpected status code.

    For calls the expected status is ``202 Accepted``; for SUBSCRIBE it is ``200 OK`` (or a
    redirect, which the subscription loop follows). ``status`` and ``body`` hold the answer.
    """

    def __init__(self, call_type: str, status: int, body: str) -> None:
        self.call_type = call_type
        self.status = status
        self.body = body
        super().__init__(f"{call_type} rejected with HTTP {status}: {body.strip()[:500]}")


class NoLeader(MesosError):
    """No leading master could be detected (empty election group, unreachable ZooKeeper, 503)."""
