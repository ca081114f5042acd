"""``python -m tools.build_executor [OUTPUT]``: the executor as one zipapp that any Mesos agent runs.

The archive holds the ``server.executor`` package, the product modules it imports (read from
their ``import`` statements, followed transitively; imports under ``if TYPE_CHECKING:`` do not
count), and the distributions those imports come from together with their requirements, copied as
source from this interpreter's site-packages. Its ``__main__`` runs the executor, so a bare
``python3`` (3.11 or newer) starts it: ``python3 -I -S elasticjob-executor.pyz``.

Entries are sorted and carry a fixed timestamp: the same sources give the same bytes. The build
fails (:class:`BuildError`) when an imported module cannot be found, when a distribution ships
compiled code, and when the archive, run by an interpreter that sees nothing but the standard
library and the archive, cannot import the executor and make an HTTP request.
"""

from __future__ import annotations

import argparse
import ast
import importlib.machinery
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import tempfile
import zipapp
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = PROJECT_ROOT / "dist" / "elasticjob-executor.pyz"
PRODUCT_PACKAGE = "server"
ENTRY_PACKAGE = "server.executor"
#: Imported by httpcore when present; without it httpcore retries the import on every request.
OPTIONAL_DISTRIBUTIONS = ("sniffio",)
#: The Pythons the archive is for: requirement markers are evaluated for each.
TARGET_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
INTERPRETER = "/usr/bin/env python3"
TIMESTAMP = (1980, 1, 1, 0, 0, 0)
COMPILED_SUFFIXES = frozenset({*importlib.machinery.EXTENSION_SUFFIXES, ".so", ".pyd", ".dll", ".dylib"})
LICENSE_PREFIXES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS")

MAIN = '''\
"""The ElasticJob executor, as a Mesos agent starts it: ``python3 -I -S elasticjob-executor.pyz``."""
import sys

if sys.version_info < (3, 11):
    sys.exit("elasticjob-executor needs Python 3.11 or newer, not " + sys.version.split()[0])

from server.executor.__main__ import main

sys.exit(main())
'''

# Run by the archive's own kind of interpreter (-I -S, nothing but the standard library on the
# path): imports the executor, makes one HTTP exchange through httpx, and names every module loaded
# from outside the standard library.
SMOKE_TEST = """\
import asyncio, json, sys, sysconfig
archive = sys.argv[1]
sys.path.insert(0, archive)
import server.executor.__main__
import httpx

async def exchange():
    async def answer(reader, writer):
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\nconnection: close\\r\\n\\r\\nok")
        await writer.drain()
        writer.close()
    listener = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener, httpx.AsyncClient(timeout=10, trust_env=False) as client:
        response = await client.get(f"http://127.0.0.1:{port}/")
    assert response.text == "ok", response.text

asyncio.run(exchange())
stdlib = tuple({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")})
loaded = {}
for name, module in sorted(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if path and not path.startswith(stdlib):
        loaded[name] = path
print(json.dumps({"archive": archive, "loaded": loaded}))
"""


class BuildError(Exception):
    """The archive cannot be built as asked; the message names the module, file or distribution."""


@dataclass(frozen=True, slots=True)
class Vendored:
    """A distribution copied into the archive."""

    name: str
    version: str
    files: tuple[tuple[str, Path], ...]  # (name in the archive, file on disk), sorted


@dataclass(frozen=True, slots=True)
class Build:
    """What went into an archive."""

    output: Path
    product_modules: tuple[str, ...]
    distributions: tuple[Vendored, ...]
    entries: int
    size: int


def module_path(module: str, root: Path = PROJECT_ROOT) -> Path | None:
    """The source file of a product module under ``root`` (a package's ``__init__.py``), or None."""
    base = root.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(source: str, module: str, *, is_package: bool) -> tuple[set[str], set[str]]:
    """What a module's source imports at run time, as absolute names: the modules it imports, and
    the names ``from a import b`` may mean as submodules (``a.b``; ``b`` may be an attribute).
    Relative imports are resolved against ``module``."""
    modules: set[str] = set()
    maybe_modules: set[str] = set()
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            modules.add(base)
            maybe_modules.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return modules, maybe_modules


def product_closure(
    entry_package: str = ENTRY_PACKAGE, root: Path = PROJECT_ROOT
) -> tuple[dict[str, Path], set[str]]:
    """The product modules an entry package needs (all of its own modules, what they import,
    transitively, and every parent package), and the top-level names of what they import from
    outside the product and the standard library."""
    entry = module_path(entry_package, root)
    if entry is None or entry.name != "__init__.py":
        raise BuildError(f"{entry_package} is not a package under {root}")
    pending = [entry_package]
    pending += [
        ".".join(path.relative_to(root).with_suffix("").parts)
        for path in sorted(entry.parent.glob("*.py"))
        if path.name != "__init__.py"
    ]
    found: dict[str, Path] = {}
    external: set[str] = set()
    while pending:
        module = pending.pop()
        if module in found:
            continue
        path = module_path(module, root)
        if path is None:
            raise BuildError(f"product module {module} not found under {root}")
        found[module] = path
        parts = module.split(".")
        pending += [".".join(parts[:depth]) for depth in range(1, len(parts))]
        imported, maybe_imported = imported_names(
            path.read_text(), module, is_package=path.name == "__init__.py"
        )
        for name in sorted(imported):
            top = name.split(".")[0]
            if top == PRODUCT_PACKAGE:
                if module_path(name, root) is None:
                    raise BuildError(f"{module} imports {name}, which is not a product module")
                pending.append(name)
            elif top and top not in sys.stdlib_module_names:
                external.add(top)
        pending += [
            name
            for name in sorted(maybe_imported)
            if name.startswith(f"{PRODUCT_PACKAGE}.") and module_path(name, root) is not None
        ]
    return dict(sorted(found.items())), external


def _needed(requirement: Requirement) -> bool:
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate(
            {"python_version": version, "python_full_version": f"{version}.0", "extra": ""}
        )
        for version in TARGET_PYTHONS
    )


def providing_distributions(top_level_names: Iterable[str]) -> set[str]:
    """The installed distributions that provide these top-level modules."""
    providers = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for name in sorted(top_level_names):
        names = providers.get(name)
        if not names:
            raise BuildError(f"{name} is imported, but no installed distribution provides it")
        found.update(names)
    return found


def requirement_closure(names: Iterable[str]) -> list[importlib.metadata.Distribution]:
    """The distributions named and everything they require on a target Python, sorted by name."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending: list[tuple[str, str | None]] = [(name, None) for name in names]
    while pending:
        name, wanted_by = pending.pop()
        key = canonicalize_name(name)
        if key in found:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            needed_by = f" (required by {wanted_by})" if wanted_by else ""
            raise BuildError(f"{name}{needed_by} is not installed") from None
        found[key] = distribution
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if _needed(requirement):
                pending.append((requirement.name, distribution.metadata["Name"]))
    return [found[key] for key in sorted(found)]


def vendored(distribution: importlib.metadata.Distribution) -> Vendored:
    """The files of an installed distribution that go into the archive: its modules and data,
    its METADATA and license files; no caches, scripts or install records. Compiled code fails."""
    name = distribution.metadata["Name"]
    if distribution.files is None:
        raise BuildError(f"{name} lists no files (no RECORD): cannot vendor it")
    files: list[tuple[str, Path]] = []
    for file in distribution.files:
        relative = PurePosixPath(file.as_posix())
        top = relative.parts[0]
        if top == ".." or top.endswith(".data") or "__pycache__" in relative.parts:
            continue
        if relative.suffix in (".pyc", ".pth"):
            continue
        if relative.suffix in COMPILED_SUFFIXES or any(relative.name.endswith(s) for s in COMPILED_SUFFIXES):
            raise BuildError(
                f"{name} ships compiled code ({relative}); the executor archive holds source only"
            )
        if top.endswith(".dist-info") and not (
            relative.name == "METADATA"
            or "licenses" in relative.parts
            or relative.name.upper().startswith(LICENSE_PREFIXES)
        ):
            continue
        path = Path(str(distribution.locate_file(file)))
        if not path.is_file():
            raise BuildError(f"{name}: {relative} is listed but missing at {path}")
        files.append((relative.as_posix(), path))
    return Vendored(name, distribution.version, tuple(sorted(files)))


def archive_bytes(entries: dict[str, bytes]) -> bytes:
    """A zipapp of ``entries``: the interpreter line, then a zip of the entries in name order, each
    with the same timestamp and permissions. The zip is written after the interpreter line, so its
    offsets are those of the file and any zip tool reads it."""
    buffer = io.BytesIO()
    buffer.write(b"#!" + INTERPRETER.encode() + b"\n")
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def build(
    output: Path = DEFAULT_OUTPUT,
    *,
    root: Path = PROJECT_ROOT,
    smoke_test: bool = True,
    python: str = sys.executable,
) -> Build:
    """Write the executor zipapp to ``output`` (replaced atomically) and describe what went in."""
    modules, external = product_closure(ENTRY_PACKAGE, root)
    distributions = [
        vendored(distribution)
        for distribution in requirement_closure(
            sorted(providing_distributions(external) | set(OPTIONAL_DISTRIBUTIONS))
        )
    ]
    entries: dict[str, bytes] = {"__main__.py": MAIN.encode()}
    owners: dict[str, str] = {"__main__.py": "the archive"}
    for path in modules.values():
        name = path.relative_to(root).as_posix()
        entries[name] = path.read_bytes()
        owners[name] = "the product"
    for distribution in distributions:
        for name, path in distribution.files:
            if name in owners:
                raise BuildError(f"{name} comes from both {owners[name]} and {distribution.name}")
            entries[name] = path.read_bytes()
            owners[name] = distribution.name
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    # create_archive keeps the archive's bytes: its interpreter line is already INTERPRETER.
    try:
        zipapp.create_archive(io.BytesIO(archive_bytes(entries)), str(partial), interpreter=INTERPRETER)
        partial.chmod(0o755)
        if smoke_test:
            check_runs(partial, python)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return Build(output, tuple(modules), tuple(distributions), len(entries), output.stat().st_size)


def check_runs(archive: Path, python: str = sys.executable) -> dict[str, str]:
    """Import the executor from ``archive`` and make an HTTP request with an interpreter that sees
    only the standard library; returns the modules loaded from elsewhere (all from the archive)."""
    with tempfile.TemporaryDirectory() as empty:
        result = subprocess.run(
            [python, "-I", "-S", "-c", SMOKE_TEST, str(archive.resolve())],
            cwd=empty,
            env={"PATH": os.defpath},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        raise BuildError(f"{archive} does not run the executor:\n{result.stderr.strip()}")
    report = json.loads(result.stdout)
    prefix = report["archive"] + os.sep
    strays = {name: path for name, path in report["loaded"].items() if not path.startswith(prefix)}
    if strays:
        raise BuildError(f"{archive} loaded modules from outside itself: {strays}")
    return dict(report["loaded"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.build_executor", description=__doc__.splitlines()[0]
    )
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT, help="the .pyz to write")
    arguments = parser.parse_args(argv)
    try:
        result = build(arguments.output)
    except BuildError as exc:
        print(f"build_executor: {exc}", file=sys.stderr)
        return 1
    libraries = ", ".join(f"{d.name} {d.version}" for d in result.distributions)
    print(
        f"{result.output}: {len(result.product_modules)} product modules, {libraries}; "
        f"{result.entries} entries, {result.size / 1024:.0f} KiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
