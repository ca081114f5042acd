"""The agent's fetcher: puts a task's or executor's ``CommandInfo.uris`` into its sandbox.

Behaves like the Mesos fetcher for the parts ElasticJob-Cloud uses:

- Schemes ``file://`` (or a bare absolute path), ``http://`` and ``https://`` (redirects followed,
  body streamed to disk, any non-2xx status is a failure). Anything else fails.
- Each URI lands in the sandbox under ``output_file`` if given, otherwise under the basename of the
  URI's path. A download is written to a temporary name first and renamed, so a half-written file
  never appears under the final name.
- ``executable: true`` makes the file executable and skips extraction.
- ``extract: true`` unpacks ``.tar .tar.gz .tgz .tar.bz2 .tbz2 .tar.xz .txz .zip`` into the sandbox
  (the archive itself stays there, as with Mesos) and gunzips a lone ``.gz`` into the file without
  the suffix (the ``.gz`` is removed, as ``gunzip`` does). Other files are just placed.
- ``cache: true`` downloads a URI once into the cache directory (file named by the SHA-256 of the
  URI) and copies it into every sandbox that asks; concurrent requests for the same URI wait for
  the one download. Entries are never refreshed: a changed artifact needs a new URI. Mesos keys
  its cache by (user, URI); this agent runs every task as its own user, so the URI alone is the key.
  ``cache: false`` downloads every time.

Archive safety: before anything is written, every member is checked against a model of the sandbox
(what is already on disk plus the links the archive has created so far, in archive order). Any of
these rejects the whole archive: a member name that is absolute or has a ``..`` component; a link
whose target leaves the sandbox, directly or through other links; a write that would pass through
a link leading outside; a link that would replace a directory; a symlink in a zip; a device, FIFO
or other special entry. Then nothing is extracted and the archive file is removed from the
sandbox. Tar extraction additionally runs with ``filter='data'`` as a second line of defence.

All blocking work (copying, extraction, decompression, chmod) runs in worker threads.
Every failure is a :class:`FetchError` naming the URI and the cause, chained with ``from``.
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

__all__ = ["ARCHIVE_SUFFIXES", "FetchError", "Fetcher", "UriSpec"]

#: Suffixes unpacked into the sandbox when ``extract`` is true (compared case-insensitively).
ARCHIVE_SUFFIXES: tuple[str, ...] = (
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".tar",
    ".zip",
)
_GZIP_SUFFIX = ".gz"
_CHUNK_SIZE = 64 * 1024
_MAX_LINK_HOPS = 40  # the same limit Linux applies to symlink resolution (ELOOP)


class FetchError(Exception):
    """A URI could not be put into the sandbox; the task must fail without starting.

    ``uri`` is the URI that failed (``None`` when the failure is not about one URI); the message
    names it and the cause, and the underlying exception, if any, is chained as ``__cause__``.
    """

    def __init__(self, message: str, *, uri: str | None = None) -> None:
        super().__init__(message)
        self.uri = uri


class _ArchiveRejected(Exception):
    """An archive member would escape the sandbox or is of a forbidden kind (internal)."""


@dataclass(frozen=True, slots=True)
class UriSpec:
    """One ``CommandInfo.URI``: what to fetch and what to do with it once it is in the sandbox.

    Defaults are Mesos': ``extract`` true, ``cache`` and ``executable`` false, and the file named
    after the URI's basename unless ``output_file`` (a relative path inside the sandbox) is given.
    """

    value: str
    _: KW_ONLY
    extract: bool = True
    cache: bool = False
    executable: bool = False
    output_file: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValueError("URI value must be a non-empty string")
        for flag in ("extract", "cache", "executable"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"URI {self.value}: {flag} must be a boolean")
        if self.output_file is not None and _relative_parts(self.output_file) is None:
            raise ValueError(
                f"URI {self.value}: output_file {self.output_file!r} must be a relative path "
                "inside the sandbox (no '..', not absolute)"
            )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UriSpec:
        """Build from the Mesos JSON form ``{"value", "extract", "cache", "executable", "output_file"}``.

        Missing fields take Mesos' defaults; a missing or malformed field raises ``ValueError``.
        """
        value = data.get("value")
        if not isinstance(value, str):
            raise ValueError(f"URI JSON needs a string 'value', got {value!r}")
        output_file = data.get("output_file")
        if output_file is not None and not isinstance(output_file, str):
            raise ValueError(f"URI {value}: output_file must be a string, got {output_file!r}")
        return cls(
            value,
            extract=data.get("extract", True),
            cache=data.get("cache", False),
            executable=data.get("executable", False),
            output_file=output_file,
        )

    @property
    def file_name(self) -> str:
        """The path, relative to the sandbox, the fetched file lands at."""
        if self.output_file is not None:
            return self.output_file
        return _basename(self.value)


class Fetcher:
    """Fetches URIs into sandboxes, with a download cache shared by all sandboxes of this agent.

    ``http_client`` is used as given (never closed here); without one, the fetcher creates its
    own on first HTTP use with ``timeout`` seconds per network operation, and :meth:`aclose`
    closes it. ``downloads`` counts, per URI, how many times it was actually retrieved from its
    source; ``cache_hits`` how many times a cached copy was used instead.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._cache_dir = Path(cache_dir)
        self._http_client = http_client
        self._owns_client = http_client is None
        self._timeout = timeout
        self._cache_locks: dict[str, asyncio.Lock] = {}
        self.downloads: collections.Counter[str] = collections.Counter()
        self.cache_hits: collections.Counter[str] = collections.Counter()

    @property
    def cache_dir(self) -> Path:
        """Where cached downloads are kept."""
        return self._cache_dir

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this fetcher created it."""
        if self._owns_client and self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None

    async def fetch(self, uris: Sequence[UriSpec], sandbox: Path) -> list[Path]:
        """Fetch ``uris`` in order into ``sandbox`` (created if missing).

        Returns the paths that landed in the sandbox: for each URI its file (for a ``.gz`` the
        decompressed file), and for an extracted archive also the top-level entries it created.
        Raises :class:`FetchError` on the first URI that fails; earlier URIs stay fetched.
        """
        sandbox = Path(sandbox)
        await asyncio.to_thread(sandbox.mkdir, parents=True, exist_ok=True)
        landed: list[Path] = []
        for spec in uris:
            landed.extend(await self._fetch_one(spec, sandbox))
        return landed

    async def _fetch_one(self, spec: UriSpec, sandbox: Path) -> list[Path]:
        uri = spec.value
        try:
            name = spec.file_name
            destination = sandbox.joinpath(name)
            await asyncio.to_thread(destination.parent.mkdir, parents=True, exist_ok=True)
            partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.part")
            try:
                if spec.cache:
                    cached = await self._cached_copy(uri)
                    await asyncio.to_thread(shutil.copyfile, cached, partial)
                else:
                    await self._retrieve(uri, partial)
                await asyncio.to_thread(os.replace, partial, destination)
            finally:
                await asyncio.to_thread(partial.unlink, missing_ok=True)
            return await asyncio.to_thread(_place, spec, destination, sandbox)
        except FetchError:
            raise
        except _ArchiveRejected as exc:
            raise FetchError(f"fetch {uri} failed: {exc}", uri=uri) from exc
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise FetchError(f"fetch {uri} failed: {_describe_os_error(exc)}", uri=uri) from exc

    async def _cached_copy(self, uri: str) -> Path:
        """Return the cache entry for ``uri``, downloading it first if no entry exists yet."""
        key = hashlib.sha256(uri.encode()).hexdigest()
        entry = self._cache_dir / key
        lock = self._cache_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if await asyncio.to_thread(entry.is_file):
                self.cache_hits[uri] += 1
                return entry
            await asyncio.to_thread(self._cache_dir.mkdir, parents=True, exist_ok=True)
            partial = self._cache_dir / f".{key}.{uuid.uuid4().hex}.part"
            try:
                await self._retrieve(uri, partial)
                await asyncio.to_thread(os.replace, partial, entry)
            finally:
                await asyncio.to_thread(partial.unlink, missing_ok=True)
            return entry

    async def _retrieve(self, uri: str, target: Path) -> None:
        """Copy or download ``uri`` to ``target`` (which the caller renames into place)."""
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            self.downloads[uri] += 1
            await self._download_http(uri, target)
        elif scheme == "file" or (not scheme and uri.startswith("/")):
            if scheme == "file" and parts.netloc not in ("", "localhost"):
                raise FetchError(f"fetch {uri} failed: file URIs must name a local path", uri=uri)
            source = Path(unquote(parts.path) if scheme else uri)
            self.downloads[uri] += 1
            try:
                await asyncio.to_thread(shutil.copyfile, source, target)
            except FileNotFoundError as exc:
                raise FetchError(f"fetch {uri} failed: no such file {source}", uri=uri) from exc
            except IsADirectoryError as exc:
                raise FetchError(f"fetch {uri} failed: {source} is a directory", uri=uri) from exc
        elif not scheme:
            raise FetchError(f"fetch {uri} failed: a URI without a scheme must be an absolute path", uri=uri)
        else:
            raise FetchError(f"fetch {uri} failed: unsupported scheme '{scheme}'", uri=uri)

    async def _download_http(self, uri: str, target: Path) -> None:
        client = self._client()
        try:
            async with client.stream("GET", uri, follow_redirects=True) as response:
                if not response.is_success:
                    raise FetchError(
                        f"fetch {uri} failed: HTTP {response.status_code} {response.reason_phrase}",
                        uri=uri,
                    )
                handle = await asyncio.to_thread(target.open, "wb")
                try:
                    async for chunk in response.aiter_bytes(_CHUNK_SIZE):
                        await asyncio.to_thread(handle.write, chunk)
                finally:
                    await asyncio.to_thread(handle.close)
        except httpx.ConnectError as exc:
            cause = "connection refused" if _refused(exc) else f"cannot connect ({exc})"
            raise FetchError(f"fetch {uri} failed: {cause}", uri=uri) from exc
        except httpx.TimeoutException as exc:
            raise FetchError(f"fetch {uri} failed: timed out ({type(exc).__name__})", uri=uri) from exc
        except httpx.TooManyRedirects as exc:
            raise FetchError(f"fetch {uri} failed: too many redirects", uri=uri) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"fetch {uri} failed: {type(exc).__name__}: {exc}", uri=uri) from exc

    def _client(self) -> httpx.AsyncClient:
        if self._http_client is None:
            self._http_client = httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(self._timeout))
        return self._http_client


# --- naming --------------------------------------------------------------------------------------


def _relative_parts(name: str) -> tuple[str, ...] | None:
    """Split a relative, sandbox-confined path into components; ``None`` if it is not one.

    Empty and ``.`` components are dropped; an absolute path, a ``..`` component or a NUL byte
    makes the name unacceptable.
    """
    if not name or "\x00" in name or name.startswith("/"):
        return None
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        return None
    return parts


def _basename(uri: str) -> str:
    """The file name a URI lands under when no ``output_file`` is given."""
    path = urlsplit(uri).path if "://" in uri else uri
    name = posixpath.basename(unquote(path))
    if name in ("", ".", "..") or "\x00" in name:
        raise ValueError(f"URI {uri} has no file name; give output_file")
    return name


def _archive_suffix(name: str) -> str | None:
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return suffix
    return None


# --- placing a fetched file (runs in a worker thread) --------------------------------------------


def _place(spec: UriSpec, destination: Path, sandbox: Path) -> list[Path]:
    """Apply ``executable`` / ``extract`` to a file already in the sandbox; return what landed."""
    if spec.executable:
        mode = destination.stat().st_mode
        destination.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return [destination]
    if not spec.extract:
        return [destination]
    suffix = _archive_suffix(destination.name)
    if suffix is not None:
        try:
            if suffix == ".zip":
                top_level = _extract_zip(destination, sandbox)
            else:
                top_level = _extract_tar(destination, sandbox)
        except _ArchiveRejected:
            destination.unlink(missing_ok=True)
            raise
        return [destination, *(sandbox.joinpath(name) for name in top_level)]
    if destination.name.lower().endswith(_GZIP_SUFFIX) and len(destination.name) > len(_GZIP_SUFFIX):
        return [_gunzip(destination)]
    return [destination]


def _gunzip(source: Path) -> Path:
    target = source.with_name(source.name[: -len(_GZIP_SUFFIX)])
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with gzip.open(source, "rb") as compressed, partial.open("wb") as plain:
            shutil.copyfileobj(compressed, plain, _CHUNK_SIZE)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    source.unlink()
    return target


class _SandboxModel:
    """Where paths inside the sandbox really lead, given the disk and the archive's links so far.

    Paths are tuples of components relative to the sandbox root. A *physical* path is one with
    every link already followed; the archive's links are kept under the physical path they are
    created at, and shadow whatever is on disk there. Other components are looked up on disk.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._root_parts = root.parts
        self._links: dict[tuple[str, ...], tuple[str, str]] = {}  # physical path -> (target, entry)
        self._directories: set[tuple[str, ...]] = set()  # physical directories the archive makes

    def add_link(self, physical_path: tuple[str, ...], target: str, entry: str) -> None:
        """Record a symbolic link the archive creates (replacing any link at that path)."""
        self._links[physical_path] = (target, entry)

    def add_written(self, physical_path: tuple[str, ...], *, is_directory: bool) -> None:
        """Record a file or directory the archive writes, with the directories made above it.

        Files, directories and hard links are written *through* a link already at their path, so
        they never change where a path leads.
        """
        for depth in range(len(physical_path) + (1 if is_directory else 0)):
            self._directories.add(physical_path[:depth])

    def is_directory(self, physical_path: tuple[str, ...]) -> bool:
        if physical_path in self._links:
            return False
        if physical_path in self._directories:
            return True
        on_disk = self._root.joinpath(*physical_path)
        return on_disk.is_dir() and not on_disk.is_symlink()

    def links(self) -> list[tuple[tuple[str, ...], str, str]]:
        """Every link the archive creates: (physical path, target, entry name)."""
        return [(path, target, entry) for path, (target, entry) in self._links.items()]

    def _link_target(self, path: tuple[str, ...]) -> str | None:
        if path in self._links:
            return self._links[path][0]
        on_disk = self._root.joinpath(*path)
        if on_disk.is_symlink():
            return os.readlink(on_disk)
        return None

    def resolve(self, start: tuple[str, ...], relative: str) -> tuple[str, ...] | None:
        """The physical path ``relative`` leads to from physical directory ``start``.

        ``None`` when the way steps above the root, follows an absolute link out of the root,
        or loops. Every link is followed, including one at the last component.
        """
        if relative.startswith("/"):
            return None
        resolved: list[str] = list(start)
        pending: list[str] = [part for part in relative.split("/") if part not in ("", ".")]
        hops = 0
        while pending:
            component = pending.pop(0)
            if component == "..":
                if not resolved:
                    return None
                resolved.pop()
                continue
            target = self._link_target((*resolved, component))
            if target is None:
                resolved.append(component)
                continue
            hops += 1
            if hops > _MAX_LINK_HOPS:
                return None
            if target.startswith("/"):
                # Only links already on disk can be absolute; follow them only while inside the root.
                target_parts = Path(os.path.normpath(target)).parts
                if target_parts[: len(self._root_parts)] != self._root_parts:
                    return None
                resolved = []
                pending = [*target_parts[len(self._root_parts) :], *pending]
            else:
                pending = [part for part in target.split("/") if part not in ("", ".")] + pending
        return tuple(resolved)


def _member_parts(archive: str, name: str) -> tuple[str, ...]:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _ArchiveRejected(f"archive {archive}: entry '{name}' has an absolute path")
    parts = _relative_parts(name)
    if parts is None:
        raise _ArchiveRejected(f"archive {archive}: entry '{name}' escapes the sandbox")
    return parts


def _check_write(
    archive: str, name: str, model: _SandboxModel, parts: tuple[str, ...], *, is_directory: bool
) -> None:
    """A file or directory written at ``parts`` must end up inside the sandbox."""
    physical = model.resolve((), "/".join(parts))
    if physical is None:
        raise _ArchiveRejected(
            f"archive {archive}: entry '{name}' escapes the sandbox through a symbolic link"
        )
    model.add_written(physical, is_directory=is_directory)


def _check_symlink(
    archive: str, name: str, model: _SandboxModel, parts: tuple[str, ...], target: str
) -> None:
    """A link is made in its (physical) parent directory and must lead somewhere inside."""
    if target.startswith("/"):
        raise _ArchiveRejected(f"archive {archive}: entry '{name}' links to the absolute path '{target}'")
    parent = model.resolve((), "/".join(parts[:-1]))
    if parent is None:
        raise _ArchiveRejected(
            f"archive {archive}: entry '{name}' escapes the sandbox through a symbolic link"
        )
    physical = (*parent, parts[-1])
    if model.is_directory(physical):
        raise _ArchiveRejected(f"archive {archive}: entry '{name}' would replace a directory with a link")
    model.add_written(parent, is_directory=True)
    model.add_link(physical, target, name)
    if model.resolve(parent, target) is None:
        raise _ArchiveRejected(f"archive {archive}: entry '{name}' links to '{target}' outside the sandbox")


def _validate_tar(archive: str, members: list[tarfile.TarInfo], root: Path) -> list[tuple[str, ...]]:
    """Check every member in archive order; return the member paths. Writes nothing."""
    model = _SandboxModel(root)
    paths: list[tuple[str, ...]] = []
    for member in members:
        name = member.name
        parts = _member_parts(archive, name)
        if not parts and not member.isdir():
            raise _ArchiveRejected(f"archive {archive}: entry '{name}' replaces the sandbox root")
        if member.issym():
            _check_symlink(archive, name, model, parts, member.linkname)
        elif member.islnk():
            if model.resolve((), member.linkname) is None:
                raise _ArchiveRejected(
                    f"archive {archive}: entry '{name}' hard-links to '{member.linkname}' outside the sandbox"
                )
            _check_write(archive, name, model, parts, is_directory=False)
        elif member.isreg() or member.isdir():
            _check_write(archive, name, model, parts, is_directory=member.isdir())
        else:
            special = (
                "device" if member.ischr() or member.isblk() else "FIFO" if member.isfifo() else "special"
            )
            raise _ArchiveRejected(f"archive {archive}: entry '{name}' is a {special} file")
        paths.append(parts)
    # Later links can change where earlier links lead: every link must be safe in the final state.
    for physical, target, entry in model.links():
        if model.resolve(physical[:-1], target) is None:
            raise _ArchiveRejected(
                f"archive {archive}: entry '{entry}' links to '{target}' outside the sandbox"
            )
    return paths


def _extract_tar(archive_path: Path, sandbox: Path) -> list[str]:
    root = sandbox.resolve()
    with tarfile.open(archive_path, "r:*") as archive:
        members = archive.getmembers()
        paths = _validate_tar(archive_path.name, members, root)
        archive.extractall(root, members=members, filter="data")
    return sorted({parts[0] for parts in paths if parts})


def _extract_zip(archive_path: Path, sandbox: Path) -> list[str]:
    root = sandbox.resolve()
    archive_name = archive_path.name
    with zipfile.ZipFile(archive_path) as archive:
        entries = archive.infolist()
        model = _SandboxModel(root)
        planned: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        for entry in entries:
            name = entry.filename
            parts = _member_parts(archive_name, name)
            unix_mode = entry.external_attr >> 16
            if stat.S_ISLNK(unix_mode):
                raise _ArchiveRejected(
                    f"archive {archive_name}: entry '{name}' is a symbolic link (not supported in zip)"
                )
            file_type = stat.S_IFMT(unix_mode)  # 0 when the archiver recorded no Unix type
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise _ArchiveRejected(f"archive {archive_name}: entry '{name}' is a special file")
            if not parts and not entry.is_dir():
                raise _ArchiveRejected(f"archive {archive_name}: entry '{name}' replaces the sandbox root")
            _check_write(archive_name, name, model, parts, is_directory=entry.is_dir())
            planned.append((entry, parts))
        for entry, parts in planned:
            target = root.joinpath(*parts)
            if entry.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, _CHUNK_SIZE)
            permissions = (entry.external_attr >> 16) & 0o777
            if permissions:
                target.chmod((permissions & 0o755) | 0o600)
    return sorted({parts[0] for _, parts in planned if parts})


# --- error wording -------------------------------------------------------------------------------


def _refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror.lower()}{where}"
    if isinstance(exc, tarfile.TarError | zipfile.BadZipFile | EOFError):
        return f"cannot read archive: {exc}"
    return str(exc) or type(exc).__name__
