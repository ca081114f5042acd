"""Unpacking fetched archives into a sandbox, safely.

:func:`extract` unpacks ``.tar .tar.gz .tgz .tar.bz2 .tbz2 .tar.xz .txz .zip`` (see
:data:`ARCHIVE_SUFFIXES`); :func:`gunzip` decompresses a lone ``.gz``.

Before anything is written, every member is checked against a model of the sandbox (what is
already on disk plus the links the archive has created so far, in archive order). Any of these
rejects the whole archive with :class:`ArchiveRejected`: a member name that is absolute or has a
``..`` component; a link whose target leaves the sandbox, directly or through other links; a write
that would pass through a link leading outside; a link that would replace a directory; a symlink
in a zip; a device, FIFO or other special entry. Tar extraction additionally runs with
``filter='data'`` as a second line of defence. Everything here blocks: call it from a worker thread.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import uuid
import zipfile
from pathlib import Path

__all__ = [
    "ARCHIVE_SUFFIXES",
    "GZIP_SUFFIX",
    "ArchiveRejected",
    "archive_suffix",
    "extract",
    "gunzip",
    "relative_parts",
]

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
#: The suffix of a lone compressed file, decompressed in place.
GZIP_SUFFIX = ".gz"
_CHUNK_SIZE = 64 * 1024
_MAX_LINK_HOPS = 40  # the same limit Linux applies to symlink resolution (ELOOP)


class ArchiveRejected(Exception):
    """An archive member would escape the sandbox or is of a forbidden kind."""


def relative_parts(name: str) -> tuple[str, ...] | None:
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


def archive_suffix(name: str) -> str | None:
    """The archive suffix of ``name`` (one of :data:`ARCHIVE_SUFFIXES`), ``None`` if it has none."""
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return suffix
    return None


def extract(archive_path: Path, sandbox: Path) -> list[str]:
    """Unpack the archive (named with one of :data:`ARCHIVE_SUFFIXES`) into ``sandbox``; return the
    top-level names it created. Raises :class:`ArchiveRejected` before writing anything unsafe."""
    if archive_suffix(archive_path.name) == ".zip":
        return _extract_zip(archive_path, sandbox)
    return _extract_tar(archive_path, sandbox)


def gunzip(source: Path) -> Path:
    """Decompress ``source`` (named ``*.gz``) into the file without the suffix; remove ``source``."""
    target = source.with_name(source.name[: -len(GZIP_SUFFIX)])
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
        raise ArchiveRejected(f"archive {archive}: entry '{name}' has an absolute path")
    parts = relative_parts(name)
    if parts is None:
        raise ArchiveRejected(f"archive {archive}: entry '{name}' escapes the sandbox")
    return parts


def _check_write(
    archive: str, name: str, model: _SandboxModel, parts: tuple[str, ...], *, is_directory: bool
) -> None:
    """A file or directory written at ``parts`` must end up inside the sandbox."""
    physical = model.resolve((), "/".join(parts))
    if physical is None:
        raise ArchiveRejected(
            f"archive {archive}: entry '{name}' escapes the sandbox through a symbolic link"
        )
    model.add_written(physical, is_directory=is_directory)


def _check_symlink(
    archive: str, name: str, model: _SandboxModel, parts: tuple[str, ...], target: str
) -> None:
    """A link is made in its (physical) parent directory and must lead somewhere inside."""
    if target.startswith("/"):
        raise ArchiveRejected(f"archive {archive}: entry '{name}' links to the absolute path '{target}'")
    parent = model.resolve((), "/".join(parts[:-1]))
    if parent is None:
        raise ArchiveRejected(
            f"archive {archive}: entry '{name}' escapes the sandbox through a symbolic link"
        )
    physical = (*parent, parts[-1])
    if model.is_directory(physical):
        raise ArchiveRejected(f"archive {archive}: entry '{name}' would replace a directory with a link")
    model.add_written(parent, is_directory=True)
    model.add_link(physical, target, name)
    if model.resolve(parent, target) is None:
        raise ArchiveRejected(f"archive {archive}: entry '{name}' links to '{target}' outside the sandbox")


def _validate_tar(archive: str, members: list[tarfile.TarInfo], root: Path) -> list[tuple[str, ...]]:
    """Check every member in archive order; return the member paths. Writes nothing."""
    model = _SandboxModel(root)
    paths: list[tuple[str, ...]] = []
    for member in members:
        name = member.name
        parts = _member_parts(archive, name)
        if not parts and not member.isdir():
            raise ArchiveRejected(f"archive {archive}: entry '{name}' replaces the sandbox root")
        if member.issym():
            _check_symlink(archive, name, model, parts, member.linkname)
        elif member.islnk():
            if model.resolve((), member.linkname) is None:
                raise ArchiveRejected(
                    f"archive {archive}: entry '{name}' hard-links to '{member.linkname}' outside the sandbox"
                )
            _check_write(archive, name, model, parts, is_directory=False)
        elif member.isreg() or member.isdir():
            _check_write(archive, name, model, parts, is_directory=member.isdir())
        else:
            special = (
                "device" if member.ischr() or member.isblk() else "FIFO" if member.isfifo() else "special"
            )
            raise ArchiveRejected(f"archive {archive}: entry '{name}' is a {special} file")
        paths.append(parts)
    # Later links can change where earlier links lead: every link must be safe in the final state.
    for physical, target, entry in model.links():
        if model.resolve(physical[:-1], target) is None:
            raise ArchiveRejected(
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
                raise ArchiveRejected(
                    f"archive {archive_name}: entry '{name}' is a symbolic link (not supported in zip)"
                )
            file_type = stat.S_IFMT(unix_mode)  # 0 when the archiver recorded no Unix type
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise ArchiveRejected(f"archive {archive_name}: entry '{name}' is a special file")
            if not parts and not entry.is_dir():
                raise ArchiveRejected(f"archive {archive_name}: entry '{name}' replaces the sandbox root")
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
