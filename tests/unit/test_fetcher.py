"""The agent's fetcher, specified by what lands in the sandbox (and what must never land outside it)."""

from __future__ import annotations

import asyncio
import collections
import gzip
import io
import os
import socket
import stat
import tarfile
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from server.cluster.agent.fetcher import Fetcher, FetchError, UriSpec

pytestmark = pytest.mark.timeout(30)


# --- fixtures and builders -----------------------------------------------------------------------


@dataclass
class FileServer:
    """A local HTTP server that serves ``files`` under ``/files/<name>`` and counts requests."""

    base_url: str
    files: dict[str, bytes] = field(default_factory=dict)
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    delay_seconds: float = 0.0

    def url(self, name: str) -> str:
        return f"{self.base_url}/files/{name}"


@pytest.fixture
async def file_server() -> AsyncIterator[FileServer]:
    server = FileServer(base_url="")

    async def serve_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        server.requests[name] += 1
        if server.delay_seconds:
            # Keeps a download in flight long enough for a concurrent fetch to overlap it.
            await asyncio.sleep(server.delay_seconds)
        if name not in server.files:
            raise web.HTTPNotFound()
        return web.Response(body=server.files[name])

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"/files/{request.match_info['name']}")

    app = web.Application()
    app.router.add_get("/files/{name}", serve_file)
    app.router.add_get("/moved/{name}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base_url = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def fetcher(tmp_path: Path) -> AsyncIterator[Fetcher]:
    async with Fetcher(tmp_path / "cache", timeout=5.0) as instance:
        yield instance


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "sandbox"
    path.mkdir(parents=True)
    return path


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    """A tar archive in memory; a (name, data) pair is a regular file, a TarInfo is added as is."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_entry(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def zip_bytes(entries: list[tuple[str, bytes]], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            if modes and name in modes:
                info.external_attr = modes[name] << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sandbox_listing(sandbox: Path) -> list[str]:
    return sorted(str(path.relative_to(sandbox)) for path in sandbox.rglob("*"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


APP_FILES = [("app/bin/start.sh", b"#!/bin/sh\necho started\n"), ("app/conf/job.properties", b"a=1\n")]


# --- UriSpec -------------------------------------------------------------------------------------


def test_uri_spec_from_mesos_json_takes_mesos_defaults() -> None:
    spec = UriSpec.from_json({"value": "http://repo/app.tar.gz"})

    assert spec == UriSpec("http://repo/app.tar.gz", extract=True, cache=False, executable=False)
    assert spec.output_file is None
    assert spec.file_name == "app.tar.gz"


def test_uri_spec_from_mesos_json_reads_every_field() -> None:
    spec = UriSpec.from_json(
        {
            "value": "http://repo/x?y=1",
            "extract": False,
            "cache": True,
            "executable": True,
            "output_file": "bin/run",
        }
    )

    assert (spec.extract, spec.cache, spec.executable, spec.file_name) == (False, True, True, "bin/run")


@pytest.mark.parametrize("output_file", ["../escape", "/etc/passwd", "a/../../b", ""])
def test_uri_spec_rejects_an_output_file_outside_the_sandbox(output_file: str) -> None:
    with pytest.raises(ValueError, match="output_file"):
        UriSpec("http://repo/app", output_file=output_file)


def test_uri_spec_from_json_rejects_a_missing_value() -> None:
    with pytest.raises(ValueError, match="value"):
        UriSpec.from_json({"extract": True})


# --- schemes -------------------------------------------------------------------------------------


async def test_file_uri_and_bare_absolute_path_are_copied_into_the_sandbox(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    first = write(tmp_path / "repo" / "first.txt", b"one")
    second = write(tmp_path / "repo" / "second.txt", b"two")

    landed = await fetcher.fetch([UriSpec(first.as_uri()), UriSpec(str(second))], sandbox)

    assert landed == [sandbox / "first.txt", sandbox / "second.txt"]
    assert (sandbox / "first.txt").read_bytes() == b"one"
    assert (sandbox / "second.txt").read_bytes() == b"two"
    assert sandbox_listing(sandbox) == ["first.txt", "second.txt"]  # no temporary files left


async def test_http_download_follows_redirects_and_honours_output_file(
    fetcher: Fetcher, sandbox: Path, file_server: FileServer
) -> None:
    file_server.files["payload.bin"] = os.urandom(300_000)

    landed = await fetcher.fetch(
        [UriSpec(f"{file_server.base_url}/moved/payload.bin", output_file="lib/renamed.bin")], sandbox
    )

    assert landed == [sandbox / "lib" / "renamed.bin"]
    assert (sandbox / "lib" / "renamed.bin").read_bytes() == file_server.files["payload.bin"]


async def test_http_404_is_a_fetch_error_naming_the_uri_and_status(
    fetcher: Fetcher, sandbox: Path, file_server: FileServer
) -> None:
    uri = file_server.url("missing.tar.gz")

    with pytest.raises(
        FetchError, match=r"fetch .*/files/missing\.tar\.gz failed: HTTP 404 Not Found"
    ) as caught:
        await fetcher.fetch([UriSpec(uri)], sandbox)

    assert caught.value.uri == uri
    assert sandbox_listing(sandbox) == []


async def test_connection_refused_is_a_fetch_error_with_the_cause_chained(
    fetcher: Fetcher, sandbox: Path
) -> None:
    uri = f"http://127.0.0.1:{free_port()}/app.tar.gz"

    with pytest.raises(FetchError) as caught:
        await fetcher.fetch([UriSpec(uri)], sandbox)

    assert str(caught.value) == f"fetch {uri} failed: connection refused"
    assert caught.value.__cause__ is not None
    assert sandbox_listing(sandbox) == []


async def test_unknown_scheme_is_a_fetch_error(fetcher: Fetcher, sandbox: Path) -> None:
    with pytest.raises(FetchError, match=r"fetch ftp://repo/app\.tar\.gz failed: unsupported scheme 'ftp'"):
        await fetcher.fetch([UriSpec("ftp://repo/app.tar.gz")], sandbox)


async def test_relative_path_without_scheme_is_a_fetch_error(fetcher: Fetcher, sandbox: Path) -> None:
    with pytest.raises(FetchError, match="absolute path"):
        await fetcher.fetch([UriSpec("relative/app.tar.gz")], sandbox)


async def test_missing_local_file_is_a_fetch_error(fetcher: Fetcher, sandbox: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "app.jar"

    with pytest.raises(FetchError, match=rf"fetch {missing.as_uri()} failed: no such file {missing}"):
        await fetcher.fetch([UriSpec(missing.as_uri())], sandbox)


# --- extraction and executables ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "tar_mode"),
    [
        ("app.tar", "w"),
        ("app.tar.gz", "w:gz"),
        ("app.tgz", "w:gz"),
        ("app.tar.bz2", "w:bz2"),
        ("app.tbz2", "w:bz2"),
        ("app.tar.xz", "w:xz"),
        ("app.txz", "w:xz"),
    ],
)
async def test_tar_archives_are_unpacked_into_the_sandbox(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path, file_name: str, tar_mode: str
) -> None:
    archive = write(tmp_path / "repo" / file_name, tar_bytes(list(APP_FILES), tar_mode))

    landed = await fetcher.fetch([UriSpec(archive.as_uri())], sandbox)

    assert landed == [sandbox / file_name, sandbox / "app"]
    assert (sandbox / "app" / "bin" / "start.sh").read_bytes() == APP_FILES[0][1]
    assert (sandbox / "app" / "conf" / "job.properties").read_bytes() == b"a=1\n"
    assert (sandbox / file_name).is_file()  # the archive stays, as with Mesos


async def test_zip_archive_is_unpacked_keeping_executable_bits(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    data = zip_bytes(list(APP_FILES), modes={"app/bin/start.sh": stat.S_IFREG | 0o755})
    archive = write(tmp_path / "repo" / "app.zip", data)

    landed = await fetcher.fetch([UriSpec(archive.as_uri())], sandbox)

    assert landed == [sandbox / "app.zip", sandbox / "app"]
    assert (sandbox / "app" / "conf" / "job.properties").read_bytes() == b"a=1\n"
    assert os.access(sandbox / "app" / "bin" / "start.sh", os.X_OK)


async def test_tar_links_inside_the_sandbox_are_allowed(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    data = tar_bytes(
        [
            ("app/lib/real.jar", b"jar"),
            tar_entry("app/lib/current.jar", tarfile.SYMTYPE, "real.jar"),
            tar_entry("app/bin/up", tarfile.SYMTYPE, "../lib"),
            tar_entry("app/lib/copy.jar", tarfile.LNKTYPE, "app/lib/real.jar"),
        ],
        "w:gz",
    )
    archive = write(tmp_path / "repo" / "app.tar.gz", data)

    await fetcher.fetch([UriSpec(archive.as_uri())], sandbox)

    assert (sandbox / "app" / "lib" / "current.jar").read_bytes() == b"jar"
    assert (sandbox / "app" / "bin" / "up" / "real.jar").read_bytes() == b"jar"
    assert (sandbox / "app" / "lib" / "copy.jar").read_bytes() == b"jar"


async def test_lone_gz_is_gunzipped_to_the_name_without_suffix(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    compressed = write(tmp_path / "repo" / "data.csv.gz", gzip.compress(b"a,b\n1,2\n"))

    landed = await fetcher.fetch([UriSpec(compressed.as_uri())], sandbox)

    assert landed == [sandbox / "data.csv"]
    assert (sandbox / "data.csv").read_bytes() == b"a,b\n1,2\n"
    assert not (sandbox / "data.csv.gz").exists()


async def test_extract_false_leaves_the_archive_packed(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    archive = write(tmp_path / "repo" / "app.tar.gz", tar_bytes(list(APP_FILES), "w:gz"))

    landed = await fetcher.fetch([UriSpec(archive.as_uri(), extract=False)], sandbox)

    assert landed == [sandbox / "app.tar.gz"]
    assert sandbox_listing(sandbox) == ["app.tar.gz"]


async def test_plain_file_with_extract_true_is_just_placed(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    jar = write(tmp_path / "repo" / "job.jar", b"PK-not-really")

    assert await fetcher.fetch([UriSpec(jar.as_uri())], sandbox) == [sandbox / "job.jar"]
    assert (sandbox / "job.jar").read_bytes() == b"PK-not-really"


async def test_executable_script_is_made_executable_and_not_extracted(
    fetcher: Fetcher, sandbox: Path, file_server: FileServer
) -> None:
    file_server.files["run.tar"] = b"#!/bin/sh\necho run\n"  # an archive suffix, yet not unpacked

    landed = await fetcher.fetch([UriSpec(file_server.url("run.tar"), executable=True)], sandbox)

    assert landed == [sandbox / "run.tar"]
    assert os.access(sandbox / "run.tar", os.X_OK)
    assert sandbox_listing(sandbox) == ["run.tar"]


# --- caching -------------------------------------------------------------------------------------


async def test_cached_uri_is_downloaded_once_for_two_sandboxes(
    fetcher: Fetcher, tmp_path: Path, file_server: FileServer
) -> None:
    file_server.files["app.tar.gz"] = tar_bytes(list(APP_FILES), "w:gz")
    uri = UriSpec(file_server.url("app.tar.gz"), cache=True)

    await fetcher.fetch([uri], tmp_path / "sandbox-1")
    await fetcher.fetch([uri], tmp_path / "sandbox-2")

    assert file_server.requests["app.tar.gz"] == 1
    assert fetcher.downloads[uri.value] == 1
    assert fetcher.cache_hits[uri.value] == 1
    for name in ("sandbox-1", "sandbox-2"):
        assert (tmp_path / name / "app" / "conf" / "job.properties").read_bytes() == b"a=1\n"


async def test_concurrent_fetches_of_a_cached_uri_download_once(
    fetcher: Fetcher, tmp_path: Path, file_server: FileServer
) -> None:
    file_server.files["job.jar"] = b"jar-bytes"
    file_server.delay_seconds = 0.2
    uri = UriSpec(file_server.url("job.jar"), cache=True)

    await asyncio.gather(*(fetcher.fetch([uri], tmp_path / f"sandbox-{index}") for index in range(3)))

    assert file_server.requests["job.jar"] == 1
    assert fetcher.downloads[uri.value] == 1
    for index in range(3):
        assert (tmp_path / f"sandbox-{index}" / "job.jar").read_bytes() == b"jar-bytes"


async def test_cached_copy_is_not_refreshed_and_sandbox_copies_are_independent(
    fetcher: Fetcher, tmp_path: Path
) -> None:
    source = write(tmp_path / "repo" / "run.sh", b"version 1")
    uri = UriSpec(source.as_uri(), cache=True, executable=True)

    await fetcher.fetch([uri], tmp_path / "sandbox-1")
    source.write_bytes(b"version 2")
    (tmp_path / "sandbox-1" / "run.sh").write_bytes(b"edited by task 1")
    await fetcher.fetch([uri], tmp_path / "sandbox-2")

    assert (tmp_path / "sandbox-2" / "run.sh").read_bytes() == b"version 1"
    assert os.access(tmp_path / "sandbox-2" / "run.sh", os.X_OK)
    assert fetcher.downloads[uri.value] == 1


async def test_uncached_uri_is_downloaded_every_time(
    fetcher: Fetcher, tmp_path: Path, file_server: FileServer
) -> None:
    file_server.files["job.jar"] = b"jar-bytes"
    uri = UriSpec(file_server.url("job.jar"), cache=False)

    await fetcher.fetch([uri], tmp_path / "sandbox-1")
    await fetcher.fetch([uri], tmp_path / "sandbox-2")

    assert file_server.requests["job.jar"] == 2
    assert fetcher.downloads[uri.value] == 2
    assert not any((tmp_path / "cache").glob("*"))


async def test_failed_cached_download_leaves_no_cache_entry(
    fetcher: Fetcher, tmp_path: Path, file_server: FileServer
) -> None:
    uri = UriSpec(file_server.url("late.jar"), cache=True)
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetcher.fetch([uri], tmp_path / "sandbox-1")

    file_server.files["late.jar"] = b"now here"
    await fetcher.fetch([uri], tmp_path / "sandbox-2")

    assert (tmp_path / "sandbox-2" / "late.jar").read_bytes() == b"now here"


# --- archive safety ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostileArchive:
    """An archive that must be refused: its bytes, the entry the error must name, and the paths
    outside the sandbox it tries to create."""

    file_name: str
    build: Callable[[Path], bytes]
    offending_entry: Callable[[Path], str]
    escape_targets: Callable[[Path], list[Path]]


GOOD_FIRST = ("harmless.txt", b"written before the bad entry in archive order")

HOSTILE_ARCHIVES = {
    "tar-slip": HostileArchive(
        "app.tar",
        lambda outside: tar_bytes([GOOD_FIRST, ("../evil.txt", b"pwned")]),
        lambda outside: "../evil.txt",
        lambda outside: [outside / "evil.txt"],
    ),
    "tar-slip-nested": HostileArchive(
        "app.tar.gz",
        lambda outside: tar_bytes([GOOD_FIRST, ("app/../../evil.txt", b"pwned")], "w:gz"),
        lambda outside: "app/../../evil.txt",
        lambda outside: [outside / "evil.txt"],
    ),
    "absolute-path": HostileArchive(
        "app.tgz",
        lambda outside: tar_bytes([GOOD_FIRST, (str(outside / "abs-evil.txt"), b"pwned")], "w:gz"),
        lambda outside: str(outside / "abs-evil.txt"),
        lambda outside: [outside / "abs-evil.txt"],
    ),
    "symlink-absolute": HostileArchive(
        "app.tar",
        lambda outside: tar_bytes(
            [GOOD_FIRST, tar_entry("link", tarfile.SYMTYPE, str(outside)), ("link/evil.txt", b"pwned")]
        ),
        lambda outside: "link",
        lambda outside: [outside / "evil.txt"],
    ),
    "symlink-relative-escape": HostileArchive(
        "app.tar.xz",
        lambda outside: tar_bytes(
            [GOOD_FIRST, tar_entry("up", tarfile.SYMTYPE, "../.."), ("up/evil.txt", b"pwned")], "w:xz"
        ),
        lambda outside: "up",
        lambda outside: [outside / "evil.txt"],
    ),
    "symlink-chain": HostileArchive(
        # "here" points at the sandbox itself; "here/.." is its parent, which a purely textual
        # check of "away" ("here/.." == ".") would wrongly accept.
        "app.tar.bz2",
        lambda outside: tar_bytes(
            [
                GOOD_FIRST,
                tar_entry("here", tarfile.SYMTYPE, "."),
                tar_entry("away", tarfile.SYMTYPE, "here/.."),
                ("away/evil.txt", b"pwned"),
            ],
            "w:bz2",
        ),
        lambda outside: "away",
        lambda outside: [outside / "evil.txt"],
    ),
    "symlink-retargeted-later": HostileArchive(
        # "away" is harmless when written (there is no link "here" yet) and escapes once "here"
        # becomes a link to the sandbox root.
        "app.tar",
        lambda outside: tar_bytes(
            [
                GOOD_FIRST,
                tar_entry("away", tarfile.SYMTYPE, "here/.."),
                tar_entry("here", tarfile.SYMTYPE, "."),
            ]
        ),
        lambda outside: "away",
        lambda outside: [],
    ),
    "symlink-replacing-directory": HostileArchive(
        # Extraction could not replace the directory and would stop half-way; refuse up front.
        "app.tar",
        lambda outside: tar_bytes(
            [GOOD_FIRST, tar_entry("here", tarfile.DIRTYPE), tar_entry("here", tarfile.SYMTYPE, ".")]
        ),
        lambda outside: "here",
        lambda outside: [],
    ),
    "hardlink-escape": HostileArchive(
        "app.tar",
        lambda outside: tar_bytes([GOOD_FIRST, tar_entry("copy", tarfile.LNKTYPE, "../secret.txt")]),
        lambda outside: "copy",
        lambda outside: [],
    ),
    "hardlink-absolute": HostileArchive(
        "app.tar",
        lambda outside: tar_bytes(
            [GOOD_FIRST, tar_entry("copy", tarfile.LNKTYPE, str(outside / "secret.txt"))]
        ),
        lambda outside: "copy",
        lambda outside: [],
    ),
    "device": HostileArchive(
        "app.tar",
        lambda outside: tar_bytes([GOOD_FIRST, tar_entry("null", tarfile.CHRTYPE)]),
        lambda outside: "null",
        lambda outside: [],
    ),
    "fifo": HostileArchive(
        "app.tar",
        lambda outside: tar_bytes([GOOD_FIRST, tar_entry("pipe", tarfile.FIFOTYPE)]),
        lambda outside: "pipe",
        lambda outside: [],
    ),
    "zip-slip": HostileArchive(
        "app.zip",
        lambda outside: zip_bytes([GOOD_FIRST, ("../evil.txt", b"pwned")]),
        lambda outside: "../evil.txt",
        lambda outside: [outside / "evil.txt"],
    ),
    "zip-absolute": HostileArchive(
        "app.zip",
        lambda outside: zip_bytes([GOOD_FIRST, (str(outside / "abs-evil.txt"), b"pwned")]),
        lambda outside: str(outside / "abs-evil.txt"),
        lambda outside: [outside / "abs-evil.txt"],
    ),
    "zip-symlink": HostileArchive(
        "app.zip",
        lambda outside: zip_bytes([GOOD_FIRST, ("link", b"/etc")], modes={"link": stat.S_IFLNK | 0o777}),
        lambda outside: "link",
        lambda outside: [],
    ),
}


@pytest.mark.parametrize("case", HOSTILE_ARCHIVES.values(), ids=HOSTILE_ARCHIVES.keys())
async def test_hostile_archive_is_refused_and_nothing_is_extracted(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path, case: HostileArchive
) -> None:
    outside = sandbox.parent  # the directory the archive tries to reach: the sandbox's parent
    (outside / "secret.txt").write_bytes(b"agent secret")
    archive = write(tmp_path / "repo" / case.file_name, case.build(outside))
    before = sorted(path.name for path in outside.iterdir())

    with pytest.raises(FetchError) as caught:
        await fetcher.fetch([UriSpec(archive.as_uri())], sandbox)

    entry = case.offending_entry(outside)
    assert str(caught.value).startswith(
        f"fetch {archive.as_uri()} failed: archive {case.file_name}: entry '{entry}'"
    )
    for target in case.escape_targets(outside):
        assert not target.exists()
    assert sorted(path.name for path in outside.iterdir()) == before
    assert (outside / "secret.txt").read_bytes() == b"agent secret"
    assert sandbox_listing(sandbox) == []  # not even the harmless entry, nor the archive itself


async def test_archive_cannot_write_through_a_link_already_in_the_sandbox(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (sandbox / "logs").symlink_to(outside)  # e.g. left by an earlier URI or the task itself
    archive = write(tmp_path / "repo" / "app.tar", tar_bytes([("logs/evil.txt", b"pwned")]))

    with pytest.raises(FetchError, match=r"entry 'logs/evil\.txt' escapes the sandbox"):
        await fetcher.fetch([UriSpec(archive.as_uri())], sandbox)

    assert not (outside / "evil.txt").exists()


async def test_archive_links_are_judged_where_existing_links_really_put_them(
    fetcher: Fetcher, sandbox: Path, tmp_path: Path
) -> None:
    # "root" already leads back to the sandbox, so "root/up" really sits in the sandbox root and
    # its ".." is the sandbox's parent, although "root/up/.." looks like "root" on paper.
    (sandbox / "root").symlink_to(".")
    data = tar_bytes(
        [
            tar_entry("root", tarfile.DIRTYPE),
            tar_entry("root/up", tarfile.SYMTYPE, ".."),
            ("root/up/evil.txt", b"x"),
        ]
    )
    archive = write(tmp_path / "repo" / "app.tar", data)

    with pytest.raises(FetchError, match=r"entry 'root/up' links to '\.\.' outside the sandbox"):
        await fetcher.fetch([UriSpec(archive.as_uri())], sandbox)

    assert not (sandbox.parent / "evil.txt").exists()
    assert sandbox_listing(sandbox) == ["root"]
