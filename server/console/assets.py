"""The console's files, read once from the package's ``static/`` folder.

:class:`ConsoleAssets` answers a path below ``/console/`` with the file's bytes and content type.
Only files that were in the folder when it was loaded are served; a path that names none (``..``,
absolute paths, folders included) is unknown.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

INDEX = "index.html"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Asset:
    """One file: its bytes, its content type and a strong validator of its content."""

    path: str
    data: bytes
    content_type: str
    etag: str


class ConsoleAssets:
    """The console's files by path (``""`` and ``"/"`` are the page, ``index.html``)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self._assets: dict[str, Asset] = {}
        for path, data in files.items():
            suffix = path[path.rfind(".") :] if "." in path else ""
            content_type = CONTENT_TYPES.get(suffix.lower())
            if content_type is None:
                continue  # only known kinds of file are served
            digest = hashlib.sha256(data).hexdigest()[:20]
            self._assets[path] = Asset(path=path, data=data, content_type=content_type, etag=f'"{digest}"')

    @classmethod
    def packaged(cls) -> ConsoleAssets:
        """The files of ``server/console/static``."""
        files: dict[str, bytes] = {}
        _collect(resources.files("server.console").joinpath("static"), "", files)
        return cls(files)

    def find(self, path: str) -> Asset | None:
        """The file at ``path`` (relative to ``/console/``), or None."""
        name = path.strip("/") or INDEX
        return self._assets.get(name)


def _collect(folder: Traversable, prefix: str, files: dict[str, bytes]) -> None:
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            _collect(entry, f"{prefix}{entry.name}/", files)
        elif entry.is_file():
            files[f"{prefix}{entry.name}"] = entry.read_bytes()


__all__ = ["Asset", "ConsoleAssets"]
