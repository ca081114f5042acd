"""``/files/read``, ``/files/browse`` and ``/files/download``: the agent's sandboxes over HTTP.

A ``path`` is an absolute path inside the sandbox of an executor run the agent knows (live or
completed; a ``runs/latest`` link counts as the run it points to). It is resolved (symlinks,
``..``) before it is checked, so nothing outside the sandboxes, and nothing else under the
agent's work directory, can be read. A path that is outside them or missing answers ``404``.

* ``/files/read?path=&offset=&length=`` answers ``{"data", "offset"}``: at most ``length`` bytes
  (capped at :data:`MAX_READ_LENGTH`; ``-1`` or absent means up to the cap) from ``offset``.
  ``offset=-1`` (or an offset at or past the end) answers the file's size with empty data, as in
  Mesos, so a reader can start at the end and follow. ``data`` is the bytes as UTF-8 text; a
  multi-byte character cut by the end of the read is left for the next one (or completed, when
  ``length`` is shorter than the character), so ``offset + len(data.encode())`` is where the
  next read starts; invalid UTF-8 is replaced. A path without
  ``offset`` reads from 0. Not integers, or below ``-1``: ``400``. A directory: ``400``.
* ``/files/browse?path=`` lists a directory: ``[{"path", "nlink", "size", "mtime", "mode",
  "uid", "gid"}]`` with ``mode`` as ``ls -l`` shows it and ``uid`` / ``gid`` as names.
* ``/files/download?path=`` sends a file as ``application/octet-stream``.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from aiohttp import web

from server.cluster.agent.core import Agent
from server.cluster.endpoints import add_get

__all__ = ["MAX_READ_LENGTH", "FileRefused", "SandboxFiles", "group_name", "user_name"]

#: The most bytes one ``/files/read`` answers (Mesos caps a read at 16 pages).
MAX_READ_LENGTH = 16 * 4096

_UTF8_LEAD_LENGTH = ((0xF0, 4), (0xE0, 3), (0xC0, 2))


class FileRefused(Exception):
    """A sandbox path or read the agent refuses: ``status`` (400, 404) and why."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def _incomplete_tail(data: bytes) -> tuple[int, int]:
    """How many bytes at the end of ``data`` are the start of a multi-byte character, and how
    many bytes that character still lacks (``(0, 0)`` when it ends on a whole character)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): does its character fit?
            for mask, length in _UTF8_LEAD_LENGTH:
                if byte & mask == mask:
                    return (back, length - back) if length > back else (0, 0)
            return (0, 0)
    return (0, 0)


def user_name(uid: int) -> str:
    """The name of a user id (the number when it has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """The name of a group id (the number when it has none)."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _integer(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise FileRefused(400, f"Failed to parse {name}: '{text[:40]}' is not an integer") from None
    if value < -1:
        raise FileRefused(400, f"Negative {name} provided: {value}")
    return value


class SandboxFiles:
    """The aiohttp handlers of the ``/files`` endpoints of one agent."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    def routes(self, app: web.Application) -> None:
        for name, handler in (("read", self.read), ("browse", self.browse), ("download", self.download)):
            add_get(app, f"/files/{name}", handler)
            add_get(app, f"/files/{name}.json", handler)

    def resolve(self, path: str | None) -> Path:
        """The real path of a sandbox path; raises the ``400`` / ``404`` refusal."""
        if not path:
            raise FileRefused(400, "Expecting 'path=value' in query")
        if not os.path.isabs(path) or "\x00" in path:
            raise FileRefused(404, f"'{path[:200]}' is not an absolute sandbox path")
        real = Path(os.path.realpath(path))
        work_dir = Path(os.path.realpath(self._agent.work_dir))
        for run in self._agent.executors():
            sandbox = Path(os.path.realpath(run.sandbox))
            if work_dir in sandbox.parents and (real == sandbox or sandbox in real.parents):
                if not real.exists():
                    break
                return real
        raise FileRefused(404, f"'{path[:200]}' is not a file or directory in a sandbox")

    def read_chunk(
        self, path: str | None, offset: int, length: int, *, whole_characters: bool = True
    ) -> tuple[int, bytes]:
        """``(offset, bytes)`` read as ``/files/read`` does (the file's size and no bytes at
        ``offset`` -1 or past the end; with ``whole_characters`` no partial UTF-8 character at
        the end); raises :class:`FileRefused`."""
        real = self.resolve(path)
        if real.is_dir():
            raise FileRefused(400, "Cannot read a directory")
        try:
            with real.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if offset == -1 or offset >= size:
                    return size, b""
                wanted = MAX_READ_LENGTH if length == -1 else min(length, MAX_READ_LENGTH)
                handle.seek(offset)
                data = handle.read(wanted)
                partial, missing = _incomplete_tail(data) if whole_characters else (0, 0)
                if partial and partial == len(data):  # part of one character only: finish it
                    data += handle.read(missing)
                elif partial:
                    data = data[:-partial]
                return offset, data
        except OSError as error:
            raise FileRefused(404, f"Failed to read the file: {error.strerror}") from error

    def entries(self, path: str | None) -> list[tuple[str, os.stat_result]]:
        """The entries of a sandbox directory as ``(path, lstat)``, by name; raises
        :class:`FileRefused`."""
        real = self.resolve(path)
        if not real.is_dir():
            raise FileRefused(400, "Cannot browse a file")
        assert path is not None
        try:
            return [
                (os.path.join(path.rstrip("/") or "/", entry.name), entry.stat(follow_symlinks=False))
                for entry in sorted(os.scandir(real), key=lambda item: item.name)
            ]
        except OSError as error:
            raise FileRefused(404, f"Failed to browse the directory: {error.strerror}") from error

    async def read(self, request: web.Request) -> web.Response:
        try:
            query = dict(request.query)
            offset = _integer(query, "offset", 0)
            length = _integer(query, "length", -1)
            at, data = self.read_chunk(query.get("path"), offset, length)
            return web.json_response({"data": data.decode("utf-8", errors="replace"), "offset": at})
        except FileRefused as refusal:
            return web.Response(status=refusal.status, text=refusal.text)

    async def browse(self, request: web.Request) -> web.Response:
        try:
            listed = self.entries(request.query.get("path"))
        except FileRefused as refusal:
            return web.Response(status=refusal.status, text=refusal.text)
        return web.json_response(
            [
                {
                    "path": path,
                    "nlink": info.st_nlink,
                    "size": info.st_size,
                    "mtime": info.st_mtime,
                    "mode": stat.filemode(info.st_mode),
                    "uid": user_name(info.st_uid),
                    "gid": group_name(info.st_gid),
                }
                for path, info in listed
            ]
        )

    async def download(self, request: web.Request) -> web.StreamResponse:
        try:
            real = self.resolve(request.query.get("path"))
            if real.is_dir():
                raise FileRefused(400, "Cannot download a directory")
        except FileRefused as refusal:
            return web.Response(status=refusal.status, text=refusal.text)
        return web.FileResponse(
            real,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f"attachment; filename={real.name}",
            },
        )
