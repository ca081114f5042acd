"""The embedded master: the Mesos v1 scheduler API in front of the one embedded agent.

``core``       :class:`~server.cluster.master.core.Master`: frameworks, subscriptions, calls.
``http``       the ``POST /api/v1/scheduler`` endpoint.
``endpoints``  ``/master/state``, ``/master/tasks``, ... in a Mesos master's JSON shapes.
``operator_api`` the v1 operator API (``POST /api/v1``) of the master.
``offers``     outstanding offers, their timeouts, and when allocation runs.
``allocator``  offer filters, suppression, who gets the free resources.
``tasks``      launching, killing and reconciling tasks; what the agent reports about them.
``records``    frameworks, tasks, executors and offers as the master keeps them.
"""
