"""Specification of the executor zipapp build (``tools.build_executor``, ``make executor``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest

from tools.build_executor import (
    OPTIONAL_DISTRIBUTIONS,
    PROJECT_ROOT,
    Build,
    BuildError,
    archive_bytes,
    build,
    check_runs,
    imported_names,
    product_closure,
    providing_distributions,
    requirement_closure,
    vendored,
)

EXECUTOR_LIBRARIES = {"anyio", "certifi", "h11", "httpcore", "httpx", "idna", "sniffio", "typing_extensions"}
SERVER_ONLY = ("grpc", "google", "elasticjob", "kazoo", "yaml", "orjson", "aiohttp", "envoy")


def bare_python() -> str:
    """A python3 of 3.11+ outside any virtual environment, as on a Mesos agent."""
    for candidate in ("/usr/bin/python3", shutil.which("python3", path=os.defpath)):
        if candidate and os.access(candidate, os.X_OK):
            check = "import sys; sys.exit(sys.version_info < (3, 11) or sys.prefix != sys.base_prefix)"
            if subprocess.run([candidate, "-c", check], check=False).returncode == 0:
                return candidate
    pytest.skip("no python3 3.11+ outside a virtual environment on this machine")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return build(tmp_path_factory.mktemp("dist") / "elasticjob-executor.pyz")


def names_in(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as opened:
        return opened.namelist()


def test_the_product_modules_are_exactly_those_a_fresh_interpreter_loads() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-P",
            "-c",
            "import json, sys; import server.executor.__main__; "
            "print(json.dumps(sorted(m for m in sys.modules if m == 'server' or m.startswith('server.'))))",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    modules, _ = product_closure("server.executor")
    assert sorted(modules) == json.loads(loaded.stdout)


def test_the_executor_imports_httpx_and_nothing_of_the_server() -> None:
    modules, external = product_closure("server.executor")
    assert external == {"httpx"}
    assert not [m for m in modules if m.startswith(("server.scheduler", "server.registry", "server.api"))]
    assert not [m for m in modules if m.startswith(("server.cluster", "server.mesos.client"))]


def test_the_vendored_libraries_are_httpx_and_what_it_requires() -> None:
    names = {
        d.metadata["Name"]
        for d in requirement_closure(providing_distributions({"httpx"}) | set(OPTIONAL_DISTRIBUTIONS))
    }
    assert names == EXECUTOR_LIBRARIES


def test_the_archive_holds_the_executor_its_modules_and_libraries_as_source_only(built: Build) -> None:
    names = names_in(built.output)
    assert "__main__.py" in names
    modules, _ = product_closure("server.executor")
    assert list(built.product_modules) == sorted(modules)
    assert {n for n in names if n.startswith("server/")} == {
        path.relative_to(PROJECT_ROOT).as_posix() for path in modules.values()
    }
    assert {d.name for d in built.distributions} == EXECUTOR_LIBRARIES
    assert {n.split("/")[0] for n in names if not n.startswith("server/") and "dist-info" not in n} == {
        "__main__.py",
        "anyio",
        "certifi",
        "h11",
        "httpcore",
        "httpx",
        "idna",
        "sniffio",
        "typing_extensions.py",
    }
    assert "certifi/cacert.pem" in names
    assert not [
        n for n in names if n.endswith((".so", ".pyd", ".pyc", ".dll", ".dylib")) or "__pycache__" in n
    ]
    assert not [n for n in names if n.split("/")[0] in SERVER_ONLY or n.startswith("server/scheduler/")]


def test_entries_are_sorted_with_one_timestamp_and_a_rebuild_gives_the_same_bytes(
    built: Build, tmp_path: Path
) -> None:
    with zipfile.ZipFile(built.output) as opened:
        infos = opened.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    again = build(tmp_path / "again.pyz", smoke_test=False)
    assert again.output.read_bytes() == built.output.read_bytes()


def test_the_archive_is_an_executable_zipapp_for_python3(built: Build) -> None:
    assert built.output.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    assert os.access(built.output, os.X_OK)
    assert zipfile.ZipFile(built.output).testzip() is None


@pytest.mark.parametrize("flags", [[], ["-I", "-S"]])
def test_outside_an_agent_a_bare_python3_gets_a_one_line_configuration_error(
    built: Build, tmp_path: Path, flags: list[str]
) -> None:
    result = subprocess.run(
        [bare_python(), *flags, str(built.output)],
        cwd=tmp_path,
        env={},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot start: MESOS_FRAMEWORK_ID is not set" in lines[0]


def test_a_bare_python3_imports_everything_from_the_archive(built: Build) -> None:
    loaded = check_runs(built.output, bare_python())
    assert {name.split(".")[0] for name in loaded} >= {
        "server",
        "httpx",
        "httpcore",
        "h11",
        "anyio",
        "certifi",
    }
    assert all(path.startswith(f"{built.output.resolve()}{os.sep}") for path in loaded.values())


def test_an_archive_that_lacks_a_library_fails_the_check(tmp_path: Path) -> None:
    archive = tmp_path / "broken.pyz"
    archive.write_bytes(
        archive_bytes(
            {
                "__main__.py": b"",
                "server/__init__.py": b"",
                "server/executor/__init__.py": b"",
                "server/executor/__main__.py": b"import httpx\n",
            }
        )
    )
    with pytest.raises(BuildError, match="No module named 'httpx'"):
        check_runs(archive)


def fake_product(root: Path, executor_source: str) -> Path:
    (root / "server" / "executor").mkdir(parents=True)
    (root / "server" / "__init__.py").write_text("")
    (root / "server" / "executor" / "__init__.py").write_text(executor_source)
    return root


def test_a_missing_product_module_fails_the_build(tmp_path: Path) -> None:
    root = fake_product(tmp_path, "import server.nowhere\n")
    with pytest.raises(BuildError, match=r"server\.executor imports server\.nowhere"):
        build(tmp_path / "out.pyz", root=root, smoke_test=False)
    assert not (tmp_path / "out.pyz").exists()


def test_a_library_nobody_installed_fails_the_build(tmp_path: Path) -> None:
    root = fake_product(tmp_path, "import no_such_library_anywhere\n")
    with pytest.raises(
        BuildError, match="no_such_library_anywhere is imported, but no installed distribution provides it"
    ):
        build(tmp_path / "out.pyz", root=root, smoke_test=False)


def test_a_requirement_that_is_not_installed_fails_the_build() -> None:
    with pytest.raises(BuildError, match="not installed"):
        requirement_closure(["no-such-distribution-anywhere"])


def test_a_distribution_with_compiled_code_is_refused(tmp_path: Path) -> None:
    info = tmp_path / "speedy-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: speedy\nVersion: 1.0\n")
    (info / "RECORD").write_text("speedy/__init__.py,,\nspeedy/_fast.cpython-311-x86_64-linux-gnu.so,,\n")
    (tmp_path / "speedy").mkdir()
    (tmp_path / "speedy" / "__init__.py").write_text("")
    (tmp_path / "speedy" / "_fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    with pytest.raises(BuildError, match="speedy ships compiled code"):
        vendored(PathDistribution(info))


def test_a_distribution_keeps_its_sources_metadata_and_licenses_only(tmp_path: Path) -> None:
    info = tmp_path / "plain-1.0.dist-info"
    (info / "licenses").mkdir(parents=True)
    files = [
        "plain/__init__.py",
        "plain/data.pem",
        "plain/__pycache__/__init__.cpython-311.pyc",
        "plain-1.0.dist-info/METADATA",
        "plain-1.0.dist-info/RECORD",
        "plain-1.0.dist-info/INSTALLER",
        "plain-1.0.dist-info/licenses/LICENSE",
        "../../../bin/plain",
    ]
    for name in files[:-1]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Metadata-Version: 2.1\nName: plain\nVersion: 1.0\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    kept = vendored(PathDistribution(info))
    assert [name for name, _ in kept.files] == [
        "plain-1.0.dist-info/METADATA",
        "plain-1.0.dist-info/licenses/LICENSE",
        "plain/__init__.py",
        "plain/data.pem",
    ]


def test_imports_under_type_checking_do_not_count_and_relative_ones_are_resolved() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from ..domain.job import JobConfig\n"
        "import httpx\n"
        "if TYPE_CHECKING:\n"
        "    from server.scheduler import core\n"
        "else:\n"
        "    import json\n"
        "def later():\n"
        "    import server.base.clock\n"
    )
    modules, maybe = imported_names(source, "server.executor.agent", is_package=False)
    assert modules == {"typing", "server.executor", "server.domain.job", "httpx", "json", "server.base.clock"}
    assert maybe == {"typing.TYPE_CHECKING", "server.executor.sibling", "server.domain.job.JobConfig"}
