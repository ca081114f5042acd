"""Job configuration nodes: ``/config/job/{job}``, and removal of everything a job owns.

Survives a lost session: nodes are persistent. Creating or updating a job checks its app in the
same ZooKeeper transaction, so a job never points at an app that vanished in between; a create
or update ZooKeeper did not confirm in time raises ``RegistryUnavailable`` saying that its outcome
is unknown. Removing a
job deletes its config and its state nodes (ready, running, failover, disabled) in one
transaction, so a crash never leaves half a job behind.

The scheduler reads the nodes asynchronously: ``aget`` one job, ``aread_all`` every job at once
(concurrently, decoding only the nodes modified since the zxids it is given), each with the
``JobStamp`` of its node, which launch transactions check (``check_ops``). ZooKeeper's check
compares data versions only, and a job registered again starts at version 0 as the earlier one
did; so a removal also moves the jobs' generation (the data version of ``/config/job``), and a
stamp holds the generation read before its node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any, NamedTuple

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError, RolledBackError
from kazoo.protocol.states import ZnodeStat

from server.domain.errors import AppNotFound, Conflict, ElasticJobError, JobAlreadyExists, JobNotFound
from server.domain.job import JobConfig
from server.registry import codec
from server.registry.paths import RegistryPaths
from server.registry.transaction_ops import TransactionOps
from server.registry.writes import outcome_unknown_on_timeout
from server.registry.zookeeper import ZooKeeper

_ANY_VERSION = -1
_DELETE_ATTEMPTS = 10
_DECODES_PER_SLICE = 50  # decoding yields to the event loop this often (about 5 ms)


class UnreadableJob(ElasticJobError):
    """A job node whose value is not a job configuration."""


class JobDocument(NamedTuple):
    """A job node's raw document and data version (what ``replace`` compares)."""

    document: dict[str, Any]
    version: int


class JobStamp(NamedTuple):
    """Which job node was read, and when: its data ``version``, creation and modification zxids
    (``created`` tells a job registered again from the earlier one; ``modified`` tells a later read
    whether the node changed) and the jobs' ``generation`` read before it."""

    version: int
    created: int
    modified: int
    generation: int


class StoredJob(NamedTuple):
    """One job as read: its configuration and its stamp."""

    job: JobConfig
    stamp: JobStamp


@dataclass(frozen=True, slots=True)
class StoredJobs:
    """One read of every job node. ``stamps``: each node's stamp (its name is a job present in
    ZooKeeper); ``jobs``: the configurations of the nodes that changed since the zxids the read
    was given; ``unreadable``: changed nodes that did not decode, with the reason."""

    stamps: dict[str, JobStamp]
    jobs: dict[str, JobConfig]
    unreadable: dict[str, str]

    @property
    def zxids(self) -> dict[str, int]:
        """Each node's modification zxid."""
        return {name: stamp.modified for name, stamp in self.stamps.items()}


class JobRepository:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    @property
    def zookeeper(self) -> ZooKeeper:
        """The connection this repository reads and writes through."""
        return self._zk

    def get_document(self, job_name: str) -> JobDocument:
        """The raw stored document; JobNotFound when absent."""
        path = self._paths.job(job_name)
        try:
            data, stat = self._zk.call(lambda c: c.get_async(path))
        except NoNodeError:
            raise JobNotFound(job_name) from None
        return JobDocument(codec.decode(data, path), stat.version)

    def get(self, job_name: str) -> JobConfig:
        return JobConfig.from_document(self.get_document(job_name).document)

    def list_all(self) -> list[JobConfig]:
        """Every job that decodes, in name order (a node that does not hold a job is left out)."""
        return [job for job, _ in self._list_versions()]

    def _list_versions(self, exclude: Set[str] = frozenset()) -> list[tuple[JobConfig, int]]:
        """Every job that decodes (but those named in ``exclude``) with its node's data version."""
        children = self._zk.call(lambda c: c.get_children_async(self._paths.jobs))
        names = sorted(name for name in children if name not in exclude)
        nodes = self._zk.get_many([self._paths.job(name) for name in names])
        jobs: list[tuple[JobConfig, int]] = []
        for name, node in zip(names, nodes, strict=True):
            if node is None:
                continue  # deleted since the children were listed
            try:
                jobs.append((_decode_job(node[0], self._paths.job(name)), int(node[1].version)))
            except UnreadableJob:
                continue
        return jobs

    async def ageneration(self) -> int:
        """The jobs' generation: moved by every removal of a job."""
        _, stat = await self._zk.acall(lambda c: c.get_async(self._paths.jobs))
        return int(stat.version)

    async def aget(self, job_name: str) -> StoredJob | None:
        """The job (the generation read first); None when absent, UnreadableJob when the node
        does not hold a job."""
        path = self._paths.job(job_name)
        generation = await self.ageneration()
        try:
            data, stat = await self._zk.acall(lambda c: c.get_async(path))
        except NoNodeError:
            return None
        return StoredJob(_decode_job(data, path), _stamp(stat, generation))

    async def aread_all(self, known: Mapping[str, int]) -> StoredJobs:
        """Every job node (the generation read first), read concurrently; only nodes whose zxid
        differs from ``known`` are decoded (the event loop gets a turn every few dozen)."""
        generation = await self.ageneration()
        nodes = await self._zk.achanged_children(self._paths.jobs, known)
        jobs: dict[str, JobConfig] = {}
        unreadable: dict[str, str] = {}
        for index, (name, data) in enumerate(nodes.changed.items()):
            if index and index % _DECODES_PER_SLICE == 0:
                await asyncio.sleep(0)
            try:
                jobs[name] = _decode_job(data, self._paths.job(name))
            except UnreadableJob as exc:
                unreadable[name] = str(exc)
        stamps = {name: _stamp(stat, generation) for name, stat in nodes.stats.items()}
        return StoredJobs(stamps, jobs, unreadable)

    def create(self, job: JobConfig) -> None:
        """Create the job if its app exists: one transaction (check app, create job)."""
        app_path, job_path = self._paths.app(job.app_name), self._paths.job(job.job_name)
        data = codec.encode(job.to_document(), "job")

        def build(transaction: TransactionOps) -> None:
            transaction.check(app_path, _ANY_VERSION)
            transaction.create(job_path, data)

        with outcome_unknown_on_timeout(self._zk, f"job '{job.job_name}'"):
            results = self._zk.commit(build)
        if isinstance(results[0], NoNodeError):
            raise AppNotFound(job.app_name)
        if isinstance(results[1], NodeExistsError):
            raise JobAlreadyExists(job.job_name)
        _raise_first_error(results)

    def replace(self, job: JobConfig, version: int) -> None:
        """Overwrite the job if its node still has ``version`` and its app exists (one transaction)."""
        app_path, job_path = self._paths.app(job.app_name), self._paths.job(job.job_name)
        data = codec.encode(job.to_document(), "job")

        def build(transaction: TransactionOps) -> None:
            transaction.check(app_path, _ANY_VERSION)
            transaction.set_data(job_path, data, version)

        with outcome_unknown_on_timeout(self._zk, f"job '{job.job_name}'"):
            results = self._zk.commit(build)
        if isinstance(results[0], NoNodeError):
            raise AppNotFound(job.app_name)
        if isinstance(results[1], NoNodeError):
            raise JobNotFound(job.job_name)
        if isinstance(results[1], BadVersionError):
            raise Conflict(f"job '{job.job_name}' changed concurrently")
        _raise_first_error(results)

    def delete(self, job_name: str) -> None:
        """Delete the job's config and all its state nodes in one transaction, or nothing:
        ``Conflict`` when the state changed between reading it and the transaction (a scheduler
        launched or ended a task meanwhile), so the caller reads again and retries. A state node
        that was absent is asserted absent in the transaction (created and deleted again in it:
        the create fails if a scheduler created it meanwhile), so none can be left behind. The
        jobs' generation moves in the same transaction."""
        (removal,) = self._removals([(job_name, _ANY_VERSION)])

        def build(transaction: TransactionOps) -> None:
            transaction.set_data(self._paths.jobs, b"", _ANY_VERSION)
            removal.ops(transaction)

        results = self._zk.commit(build)
        if isinstance(results[-1], NoNodeError):
            raise JobNotFound(job_name)
        if any(isinstance(result, NotEmptyError | NoNodeError | NodeExistsError) for result in results):
            raise Conflict(f"job '{job_name}' state changed while it was being removed")
        _raise_first_error(results)

    def delete_app(self, app_name: str) -> list[str]:
        """Delete the app, its disabled flag, and every job of it with all the jobs' state nodes
        (as ``delete``), in one transaction, or nothing; returns the names of the jobs removed.
        ``AppNotFound`` when the app is absent; ``Conflict`` when anything read changed before the
        commit (a job updated, a task launched or ended, the app modified), so the caller retries.
        A removal too large for one transaction is refused unsent (``TransactionTooLarge``). A job
        registered for the app while it was being removed is removed right after."""
        app_path = self._paths.app(app_name)
        try:
            _, app_stat = self._zk.call(lambda c: c.get_async(app_path))
        except NoNodeError:
            raise AppNotFound(app_name) from None
        listed = self._list_versions()
        jobs = [(job.job_name, version) for job, version in listed if job.app_name == app_name]
        removals = self._removals(jobs)
        flag = self._paths.disabled_app(app_name)
        flag_exists = self._zk.call(lambda c: c.exists_async(flag)) is not None

        def build(transaction: TransactionOps) -> None:
            transaction.set_data(self._paths.jobs, b"", _ANY_VERSION)
            for removal in removals:
                removal.ops(transaction)
            if not flag_exists:
                transaction.create(flag, b"")
            transaction.delete(flag)
            transaction.delete(app_path, app_stat.version)

        results = self._zk.commit(build)
        if isinstance(results[-1], NoNodeError):
            raise AppNotFound(app_name)
        if any(
            isinstance(result, NotEmptyError | NoNodeError | NodeExistsError | BadVersionError)
            for result in results
        ):
            raise Conflict(f"app '{app_name}' or its jobs changed while it was being removed")
        _raise_first_error(results)
        removed = [name for name, _ in jobs]
        # A job registered between the listing and the commit passed its create's check of the
        # app; it is removed now, so no job outlives its app.
        seen = {job.job_name for job, _ in listed}
        for job, _ in self._list_versions(exclude=seen):
            if job.app_name == app_name:
                with contextlib.suppress(JobNotFound):
                    self._delete_retried(job.job_name)
                removed.append(job.job_name)
        return removed

    def _delete_retried(self, job_name: str) -> None:
        for attempt in range(_DELETE_ATTEMPTS):
            try:
                self.delete(job_name)
                return
            except Conflict:
                if attempt == _DELETE_ATTEMPTS - 1:
                    raise

    def _roots(self, job_name: str) -> list[str]:
        """The roots of the job's state nodes."""
        return [
            self._paths.running_job(job_name),
            self._paths.failover_job(job_name),
            self._paths.ready_job(job_name),
            self._paths.disabled_job(job_name),
        ]

    def _removals(self, jobs: list[tuple[str, int]]) -> list[_Removal]:
        """What removing each (job, version) deletes: its state subtrees (read now, level by level
        for all the jobs at once) and its config node."""
        roots = {name: self._roots(name) for name, _ in jobs}
        subtrees = self._subtrees([root for job_roots in roots.values() for root in job_roots])
        removals: list[_Removal] = []
        for name, version in jobs:
            owned = [path for root in roots[name] for path in subtrees[root]]
            absent = [root for root in roots[name] if not subtrees[root]]
            removals.append(_Removal(owned, absent, self._paths.job(name), version))
        return removals

    def _subtrees(self, roots: list[str]) -> dict[str, list[str]]:
        """The paths under and including each root, children before parents (none when the root
        is absent), one bulk read per level of depth."""
        found: dict[str, list[str]] = {root: [] for root in roots}
        level = [(root, root) for root in roots]  # (node, the root it is under)
        levels: list[list[tuple[str, str]]] = []
        while level:
            present: list[tuple[str, str]] = []
            below: list[tuple[str, str]] = []
            for (path, root), children in zip(
                level, self._zk.children_many([p for p, _ in level]), strict=True
            ):
                if children is None:
                    continue  # absent (or deleted since its parent was listed)
                present.append((path, root))
                below.extend((RegistryPaths.child(path, child), root) for child in children)
            levels.append(present)
            level = below
        for present in reversed(levels):  # children before parents
            for path, root in present:
                found[root].append(path)
        return found

    def check_ops(self, transaction: TransactionOps, job_name: str, stamp: JobStamp | None = None) -> None:
        """Make ``transaction`` fail if the job's node is gone (deregistered meanwhile); with
        ``stamp``, also if the node is not the one read at that version (updated, or the job
        removed since: the generation moved)."""
        if stamp is None:
            transaction.check(self._paths.job(job_name), _ANY_VERSION)
            return
        transaction.check(self._paths.jobs, stamp.generation)
        transaction.check(self._paths.job(job_name), stamp.version)


@dataclass(frozen=True, slots=True)
class _Removal:
    """The deletes that remove one job: the state nodes read (children before parents), the state
    roots that were absent (asserted absent), then the config node at ``version``."""

    owned: list[str]
    absent: list[str]
    config_path: str
    version: int

    def ops(self, transaction: TransactionOps) -> None:
        for path in self.absent:
            transaction.create(path, b"")
            transaction.delete(path)
        for path in self.owned:
            transaction.delete(path)
        transaction.delete(self.config_path, self.version)


def _stamp(stat: ZnodeStat, generation: int) -> JobStamp:
    return JobStamp(int(stat.version), int(stat.czxid), int(stat.mzxid), generation)


def _decode_job(data: bytes, path: str) -> JobConfig:
    try:
        return JobConfig.from_document(codec.decode(data, path))
    except (codec.UnreadableNode, ElasticJobError) as exc:
        raise UnreadableJob(f"{path}: {exc}") from exc


def _raise_first_error(results: list[Any]) -> None:
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, RolledBackError):
            raise result
