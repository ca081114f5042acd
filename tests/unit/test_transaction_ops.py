"""Specification of ``TransactionOps``: the operations kazoo would build, sized exactly as kazoo
serializes them (the size decides how the scheduler splits its transactions)."""

from __future__ import annotations

from kazoo.protocol.serialization import Transaction
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl

from server.registry.transaction_ops import TransactionOps

END_OF_TRANSACTION = 9  # the closing multi header


def fill(ops: TransactionOps) -> None:
    ops.check("/ns/config/job/a", -1)
    ops.create("/ns/state/running/a", b"")
    ops.create("/ns/state/running/a/a@-@0", "a@-@0@-@READY@-@agent@-@ünïcode".encode())
    ops.set_data("/ns/state/ready/b", b"3", 7)
    ops.delete("/ns/state/ready/a", 0)
    ops.delete("/ns/state/failover/jöb/jöb@-@1")


def test_the_size_is_what_kazoo_serializes() -> None:
    for acl in (OPEN_ACL_UNSAFE, [make_digest_acl("user", "secret", all=True)]):
        ops = TransactionOps(acl)
        fill(ops)

        assert ops.size == len(Transaction(ops.operations).serialize()) - END_OF_TRANSACTION


def test_operations_carry_the_acl_and_versions_as_kazoo_builds_them() -> None:
    ops = TransactionOps(OPEN_ACL_UNSAFE)
    fill(ops)

    check, parent, task, set_data, delete, default_delete = ops.operations
    assert (check.path, check.version) == ("/ns/config/job/a", -1)
    assert (parent.path, parent.data, list(parent.acl), parent.flags) == (
        "/ns/state/running/a",
        b"",
        list(OPEN_ACL_UNSAFE),
        0,
    )
    assert task.data == "a@-@0@-@READY@-@agent@-@ünïcode".encode()
    assert (set_data.path, set_data.data, set_data.version) == ("/ns/state/ready/b", b"3", 7)
    assert (delete.version, default_delete.version) == (0, -1)


def test_paths_are_put_under_the_chroot() -> None:
    ops = TransactionOps(OPEN_ACL_UNSAFE, "/chroot")
    ops.create("/ns/config/app/a", b"x")

    assert ops.operations[0].path == "/chroot/ns/config/app/a"


def test_extend_adds_operations_and_size() -> None:
    first, second = TransactionOps(OPEN_ACL_UNSAFE), TransactionOps(OPEN_ACL_UNSAFE)
    first.create("/a", b"1")
    second.delete("/b")
    size = first.size + second.size

    first.extend(second)

    assert len(first) == 2
    assert first.size == size


def test_the_size_counts_the_chroot() -> None:
    ops = TransactionOps(OPEN_ACL_UNSAFE, "/chroot")
    fill(ops)

    assert ops.size == len(Transaction(ops.operations).serialize()) - END_OF_TRANSACTION
