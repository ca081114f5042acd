"""Why a job's waiting work does not run: ``/state/diagnosis/{job}`` holds the leader's reason
(``Diagnosis``) while it holds, so every replica's API can answer it.

The leader writes a node only when the reason changes and deletes it when the job runs, has
nothing waiting or is removed. Persistent: a reason survives a lost session and a change of
leader; the next leader reads the names on hand at its first step and rewrites or deletes them
from what it sees itself. The node is ours; ElasticJob-Cloud 3.0 neither writes nor reads it.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass

from kazoo.exceptions import NodeExistsError, NoNodeError

from server.registry.zookeeper import ZooKeeper


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A reason and since when it holds (epoch seconds)."""

    reason: str
    since: float

    def encode(self) -> bytes:
        return json.dumps({"reason": self.reason, "since": round(self.since, 3)}).encode()

    @staticmethod
    def decode(data: bytes) -> Diagnosis | None:
        """The diagnosis of a node's data; None when it is not one."""
        try:
            value = json.loads(data)
            reason, since = value["reason"], float(value["since"])
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(reason, str) or not math.isfinite(since):
            return None
        return Diagnosis(reason, since)


class DiagnosisStore:
    def __init__(self, zookeeper: ZooKeeper) -> None:
        self._zk = zookeeper
        self._paths = zookeeper.paths

    def get(self, job_name: str) -> Diagnosis | None:
        """The job's diagnosis; None when there is none (or it cannot be read)."""
        path = self._paths.diagnosis_job(job_name)
        try:
            data, _ = self._zk.call(lambda c: c.get_async(path))
        except NoNodeError:
            return None
        return Diagnosis.decode(data)

    async def anames(self) -> set[str]:
        """The jobs that have a node."""
        try:
            return set(await self._zk.achildren(self._paths.diagnosis))
        except NoNodeError:
            return set()

    async def aput(self, job_name: str, diagnosis: Diagnosis) -> None:
        """Write the job's node (created when absent)."""
        path = self._paths.diagnosis_job(job_name)
        data = diagnosis.encode()
        try:
            await self._zk.acall(lambda c: c.set_async(path, data))
        except NoNodeError:
            try:
                await self._zk.acall(lambda c: c.create_async(path, data, makepath=True))
            except NodeExistsError:
                await self._zk.acall(lambda c: c.set_async(path, data))

    async def adelete(self, job_name: str) -> None:
        """Delete the job's node (nothing when it is absent)."""
        path = self._paths.diagnosis_job(job_name)
        with contextlib.suppress(NoNodeError):
            await self._zk.acall(lambda c: c.delete_async(path))
