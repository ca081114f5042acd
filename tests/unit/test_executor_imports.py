"""The executor runs on every Mesos agent with nothing but the standard library and httpx: importing
it loads no gRPC, ZooKeeper, aiohttp, YAML or orjson, and none of the server's other deployables."""

from __future__ import annotations

import json
import subprocess
import sys

#: Top-level packages an agent does not have.
FORBIDDEN_LIBRARIES = ("grpc", "google", "elasticjob", "kazoo", "aiohttp", "yaml", "orjson")
#: Product packages the executor must not load.
FORBIDDEN_PACKAGES = (
    "server.scheduler",
    "server.registry",
    "server.usecases",
    "server.api",
    "server.cluster",
    "server.settings",
    "server.wiring",
    "server.mesos.client",
    "server.mesos.detector",
)

PROGRAM = "import json, sys; import server.executor.__main__; print(json.dumps(sorted(sys.modules)))"


def loaded_modules() -> list[str]:
    """The modules a fresh interpreter holds after importing the executor's entry point."""
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(result.stdout))


def test_importing_the_executor_loads_no_server_only_library_or_package() -> None:
    modules = loaded_modules()
    assert "server.executor.agent" in modules  # the program did import the executor
    libraries = [m for m in modules if m.split(".")[0] in FORBIDDEN_LIBRARIES]
    packages = [m for m in modules if any(m == p or m.startswith(p + ".") for p in FORBIDDEN_PACKAGES)]
    assert libraries == []
    assert packages == []
