"""The embedded single-node Mesos-compatible cluster: what its agent needs to run tasks on this machine.

``fetcher`` puts a task's ``CommandInfo.uris`` into its sandbox; ``processes`` starts executors and
command tasks in their own process groups and makes sure none outlive the agent unnoticed.
"""
