"""A shard's output read back through the API: the server finds the task's sandbox from the
master's state and reads ``stdout`` / ``stderr`` through the agent's ``/files/read`` (Mesos'
files API: ``path``, ``offset``, ``length`` in bytes), as the console shows it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from testkit.e2e import System
from testkit.polling import eventually
from tests.browser.console import printing_app


def test_a_shards_stdout_is_read_through_the_api_tail_and_from_an_offset(
    system: System, tmp_path_factory: pytest.TempPathFactory
) -> None:
    archive: Path = printing_app(tmp_path_factory.mktemp("printing"))
    app = system.publish_app(app_url=archive.as_uri())
    job = system.register_job(app, shardingTotalCount=1)
    system.trigger(job)
    task_id = eventually(
        lambda: next((t["id"] for t in system.tasks_history() if t["id"].startswith(f"{job}@-@")), None),
        timeout=30,
        what="the shard's task",
    )
    path = f"/api/job/tasks/{quote(task_id, safe='')}/output"
    with system.rest() as client:

        def tail() -> dict[str, object] | None:
            response = client.get(path, params={"file": "stdout"})
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            return body if f"console-line job={job} shard=0" in str(body["data"]) else None

        chunk = eventually(tail, timeout=30, what="the shard's line in stdout")
        size = int(str(chunk["size"]))
        assert int(str(chunk["nextOffset"])) == size
        assert chunk["hostname"]

        start = client.get(path, params={"file": "stdout", "offset": "0", "length": "5"}).json()
        assert int(start["offset"]) == 0 and int(start["nextOffset"]) <= 5
        rest = client.get(
            path, params={"file": "stdout", "offset": start["nextOffset"], "length": str(size)}
        ).json()
        assert start["data"] + rest["data"] == str(chunk["data"]) or size > 65536

        stderr = client.get(path, params={"file": "stderr"})
        assert stderr.status_code == 200, stderr.text

        unknown = client.get(f"/api/job/tasks/{quote(job + '@-@0@-@READY@-@nowhere@-@0', safe='')}/output")
        assert unknown.status_code == 404, unknown.text
    system.deregister(job)
