"""The embedded single-node Mesos-compatible cluster: one master and one agent on this machine.

It speaks the Mesos v1 HTTP APIs, so the scheduler that drives a real Mesos cluster drives this
one unchanged: the master serves the scheduler API (``POST /api/v1/scheduler``, default port 5050)
and the agent serves the executor API (``POST /api/v1/executor``, default port 5051). The protocol
facts (call checks, ids, statuses, events) come from the Mesos kernel in :mod:`server.mesos`.

``cluster``    :class:`~server.cluster.cluster.EmbeddedCluster`: both servers in one asyncio
               process (``python -m server.cluster`` runs it standalone).
``settings``   :class:`~server.cluster.settings.ClusterSettings` with the master's and the agent's.
``master``     frameworks, offers, task validation, reconciliation, failover timeouts.
``agent``      executors and command tasks in sandboxes, status updates, the executor API.
``state``      the JSON models the Mesos-shaped endpoints share (resources, tasks, version).
``endpoints``  what both sides' HTTP endpoints share: GET routes, operator API calls.
``resources``  fixed-point scalar resources.
``wire``       reading calls from HTTP requests, and RecordIO event streams on HTTP responses.
"""
