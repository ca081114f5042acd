"""The embedded agent: runs executors and command tasks, and serves the v1 executor API.

``core``          :class:`~server.cluster.agent.core.Agent`: what the master asks of it, executor
                  subscriptions, status updates of tasks.
``http``          the ``POST /api/v1/executor`` endpoint.
``endpoints``     ``/slave(1)/state``, ``/metrics/snapshot``, ... in a Mesos agent's JSON shapes.
``files``         ``/files/read``, ``/files/browse``, ``/files/download`` of the sandboxes.
``operator_api``  the v1 operator API (``POST /api/v1``) of the agent.
``runs``          the built-in command executor, and custom executors' processes until they exit.
``containerizer`` sandboxes, environments and process groups of executor runs.
``fetcher``       puts ``CommandInfo.uris`` into sandboxes (cache, extraction).
``archives``      safe extraction of fetched archives.
``updates``       reliable, ordered status update delivery (resent until acknowledged).
``records``       frameworks, executor runs and tasks as the agent keeps them.
"""
