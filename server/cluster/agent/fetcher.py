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

An archive that :mod:`~server.cluster.agent.archives` rejects as unsafe is not extracted at all,
and the archive file is removed from the sandbox.

All blocking work (copying, extraction, decompression, chmod) runs in worker threads.
Every failure is a :class:`FetchError` naming the URI and the cause, chained with ``from``.
"""

from __future__ import annotations

import asyncio
import collections
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

from server.cluster.agent.archives import (
    GZIP_SUFFIX,
    ArchiveRejected,
    archive_suffix,
    extract,
    gunzip,
    relative_parts,
)

__all__ = ["FetchError", "Fetcher", "UriSpec"]

_CHUNK_SIZE = 64 * 1024


class FetchError(Exception):
    """A URI could not be put into the sandbox; the task must fail without starting.

    ``uri`` is the URI that failed (``None`` when the failure is not about one URI); the message
    names it and the cause, and the underlying exception, if any, is chained as ``__cause__``.
    """

    def __init__(self, message: str, *, uri: str | None = None) -> None:
        super().__init__(message)
        self.uri = uri


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
        if self.output_file is not None and relative_parts(self.output_file) is None:
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
        except ArchiveRejected as exc:
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


def _basename(uri: str) -> str:
    """The file name a URI lands under when no ``output_file`` is given."""
    path = urlsplit(uri).path if "://" in uri else uri
    name = posixpath.basename(unquote(path))
    if name in ("", ".", "..") or "\x00" in name:
        raise ValueError(f"URI {uri} has no file name; give output_file")
    return name


def _place(spec: UriSpec, destination: Path, sandbox: Path) -> list[Path]:
    """Apply ``executable`` / ``extract`` to a file already in the sandbox; return what landed."""
    if spec.executable:
        mode = destination.stat().st_mode
        destination.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return [destination]
    if not spec.extract:
        return [destination]
    if archive_suffix(destination.name) is not None:
        try:
            top_level = extract(destination, sandbox)
        except ArchiveRejected:
            destination.unlink(missing_ok=True)
            raise
        return [destination, *(sandbox.joinpath(name) for name in top_level)]
    if destination.name.lower().endswith(GZIP_SUFFIX) and len(destination.name) > len(GZIP_SUFFIX):
        return [gunzip(destination)]
    return [destination]


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
