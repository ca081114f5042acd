"""The operations of one ZooKeeper transaction, sized as they are serialized.

A transaction is sent as one request, and ZooKeeper drops the connection of a client whose request
exceeds its ``jute.maxbuffer`` (1 MiB by default) instead of answering: retrying such a transaction
fails the same way forever. ``TransactionOps`` therefore sizes its operations as they are
serialized, so callers split large changes into transactions of at most ``transaction_budget``
bytes (half the limit) and never commit more than ``TRANSACTION_LIMIT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kazoo.protocol.serialization import CheckVersion, Create, Delete, SetData

TRANSACTION_LIMIT = 1024 * 1024 - 64 * 1024
"""The most one transaction may carry (serialized operations): ZooKeeper's default request limit
(``jute.maxbuffer``, 1 MiB) less room for the request's framing, with a margin."""
TRANSACTION_BUDGET = 512 * 1024
"""What callers put in one transaction when they can split their changes: half the limit."""
_MULTI_HEADER = 9  # type, done flag, error code before each operation of a transaction
_INT = 4  # the length prefix of a string or buffer, a version, a count or flags


def _string_size(text: str) -> int:
    return _INT + (len(text) if text.isascii() else len(text.encode("utf-8")))


class TransactionOps:
    """The operations of one transaction, with their size as serialized for ZooKeeper.

    Has the builder methods of kazoo's ``TransactionRequest`` (``create``, ``set_data``,
    ``delete``, ``check``); the repositories' ``*_ops`` methods fill it. Paths must be the
    absolute, normalised paths ``RegistryPaths`` builds: they are not normalised again (kazoo's
    per-operation path handling was a measurable part of committing thousands of operations)."""

    __slots__ = ("_acl", "_acl_size", "_root", "operations", "size")

    def __init__(self, acl: Sequence[Any], chroot: str = "") -> None:
        self._acl = list(acl)
        self._acl_size = _INT + sum(
            _INT + _string_size(entry.id.scheme) + _string_size(entry.id.id) for entry in self._acl
        )
        self._root = chroot
        self.operations: list[Any] = []
        self.size = 0

    def __len__(self) -> int:
        return len(self.operations)

    def create(self, path: str, value: bytes = b"") -> None:
        path = self._root + path
        self.operations.append(Create(path, value, self._acl, 0))
        self.size += _MULTI_HEADER + _string_size(path) + _INT + len(value) + self._acl_size + _INT

    def set_data(self, path: str, value: bytes, version: int = -1) -> None:
        path = self._root + path
        self.operations.append(SetData(path, value, version))
        self.size += _MULTI_HEADER + _string_size(path) + _INT + len(value) + _INT

    def delete(self, path: str, version: int = -1) -> None:
        path = self._root + path
        self.operations.append(Delete(path, version))
        self.size += _MULTI_HEADER + _string_size(path) + _INT

    def check(self, path: str, version: int) -> None:
        path = self._root + path
        self.operations.append(CheckVersion(path, version))
        self.size += _MULTI_HEADER + _string_size(path) + _INT

    def extend(self, other: TransactionOps) -> None:
        """Append another builder's operations (built for the same connection)."""
        self.operations.extend(other.operations)
        self.size += other.size


class TransactionTooLarge(ValueError):
    """A transaction bigger than ZooKeeper accepts in one request: it is not sent."""
