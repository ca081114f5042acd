"""The embedded single-node Mesos-compatible cluster: one master and one agent on this machine.

It speaks the Mesos v1 HTTP APIs, so the scheduler that drives a real Mesos cluster drives this
one unchanged: the master serves the scheduler API (``POST /api/v1/scheduler``, default port 5050)
and the agent serves the executor API (``POST /api/v1/executor``, default port 5051).

``cluster``    :class:`~server.cluster.cluster.EmbeddedCluster` and its settings: both servers in
               one asyncio process (``python -m server.cluster`` runs it standalone).
``master``     frameworks, offers, task validation, reconciliation, failover timeouts.
``allocator``  offer filters, suppression, who gets the free resources.
``agent``      executors and command tasks in sandboxes, the executor API.
``updates``    reliable, ordered status update delivery (resent until acknowledged).
``state``      the ``GET /state`` document.
``resources``  fixed-point scalar resources.
``wire``       call envelopes, RecordIO event streams, ids and statuses shared by both APIs.
``fetcher``    puts ``CommandInfo.uris`` into sandboxes (cache, extraction, archive safety).
``processes``  starts executors and command tasks in their own process groups and makes sure
               none outlive the agent unnoticed.
"""
