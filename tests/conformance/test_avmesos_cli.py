"""``avmesos-cli`` (a Mesos command-line client we did not write, from PyPI) against the embedded
cluster: its ``agent``, ``framework`` and ``task`` commands succeed and show our agent, framework
and task.

What the CLI reads (avmesos/cli/mesos.py and its plugins): the master's ``/slaves`` (``id``,
``hostname``, ``active``, ``pid``), ``/master/frameworks/`` (``id``, ``active``, ``hostname``,
``name``) and ``/tasks?order=asc&limit=-1`` (``id``, ``statuses[-1].state``, ``framework_id``,
``executor_id``), as a Mesos 1.x master serves them (Mesos' docs/endpoints/master/slaves.md,
frameworks.md, tasks.md). It finds the master in the TOML file ``MESOS_CLI_CONFIG`` names
(``[master] address``); the test points it at a file of its own, never at ``~/.mesos``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.cluster.cluster import EmbeddedCluster
from testkit.cluster import command_task, launch, running_cluster, subscribed


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmbeddedCluster]:
    async with running_cluster(tmp_path / "cluster") as running:
        yield running


class MesosCli:
    """Runs ``mesos-cli`` (``python -m avmesos.cli.mesos-cli``) with a config of its own."""

    def __init__(self, master_url: str, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "config.toml"
        self.config.write_text(f'[master]\naddress = "{master_url.removeprefix("http://")}"\n')
        self.env = {**os.environ, "MESOS_CLI_CONFIG": str(self.config), "HOME": str(home)}

    async def __call__(self, *argv: str) -> str:
        """The command's output; fails the test when it exits non-zero."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "avmesos.cli.mesos-cli",
            *argv,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        output = stdout.decode()
        assert process.returncode == 0, f"mesos-cli {' '.join(argv)}: {stderr.decode()}{output}"
        assert "Error" not in output, output
        return output


def _rows(table: str) -> list[list[str]]:
    """The rows of a table the CLI prints (header first), split on runs of two spaces."""
    return [
        [cell.strip() for cell in line.split("  ") if cell.strip()] for line in table.splitlines() if line
    ]


async def test_agent_list_shows_the_agent(cluster: EmbeddedCluster, tmp_path: Path) -> None:
    cli = MesosCli(cluster.master_url, tmp_path / "cli")
    rows = _rows(await cli("agent", "list"))
    assert rows[0] == ["Agent ID", "Hostname", "Active"]
    assert rows[1:] == [[cluster.agent_id, cluster.agent.hostname, "True"]]


async def test_framework_list_and_inspect_show_the_framework(
    cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    cli = MesosCli(cluster.master_url, tmp_path / "cli")
    async with subscribed(cluster.master_url, name="conformance", hostname="scheduler-host") as (client, _):
        rows = _rows(await cli("framework", "list"))
        assert rows[0] == ["ID", "Active", "Hostname", "Name"]
        assert rows[1:] == [[str(client.framework_id), "True", "scheduler-host", "conformance"]]
        inspected = json.loads(await cli("framework", "inspect", str(client.framework_id)))
        assert inspected["id"] == client.framework_id and inspected["name"] == "conformance"
        assert "tasks" not in inspected  # the CLI drops the task lists; the rest is Mesos' framework
        assert inspected["role"] == "*" and inspected["active"] is True
    rows = _rows(await cli("framework", "list", "--all"))
    assert [row[0] for row in rows[1:]] == [str(client.framework_id)]


async def test_task_list_and_inspect_show_running_and_finished_tasks(
    cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    cli = MesosCli(cluster.master_url, tmp_path / "cli")
    async with subscribed(cluster.master_url) as (client, scheduler):
        offer = await scheduler.next_offer(after=0)
        await client.accept(
            [offer["id"]["value"]],
            launch(command_task(offer, "cli-running", "sleep 30"), command_task(offer, "cli-done", "true")),
        )
        await scheduler.wait_for_state("cli-running", "TASK_RUNNING")
        await scheduler.wait_for_state("cli-done", "TASK_FINISHED")
        framework_id = str(client.framework_id)

        rows = _rows(await cli("task", "list"))
        assert rows[0] == ["ID", "State", "Framework ID", "Executor ID"]
        assert [row[:3] for row in rows[1:]] == [["cli-running", "TASK_RUNNING", framework_id]]
        everything = {row[0]: row[1] for row in _rows(await cli("task", "list", "--all"))[1:]}
        assert everything == {"cli-running": "TASK_RUNNING", "cli-done": "TASK_FINISHED"}
        inspected = json.loads(await cli("task", "inspect", "cli-done"))
        assert inspected["id"] == "cli-done" and inspected["slave_id"] == cluster.agent_id
        assert inspected["statuses"][-1]["state"] == "TASK_FINISHED"
