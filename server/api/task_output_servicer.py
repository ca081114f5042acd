"""TaskOutputService: a task's ``stdout`` / ``stderr`` through the Mesos agent's ``/files/read``.

:class:`MesosTaskOutput` finds the task's sandbox from the master (this framework's live and
completed tasks) and reads the file from the agent that holds it, with ``server.mesos.operator``'s
``task_sandbox`` and ``read_file``; the servicer checks the request and shapes the chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import grpc
from elasticjob.cloud.v1 import task_output_pb2, task_output_pb2_grpc

from server.domain.errors import InvalidArgument, MesosUnavailable, NotFound
from server.mesos import operator
from server.mesos.errors import MesosError

FILES = ("stdout", "stderr")
DEFAULT_LENGTH = 65536
MAX_LENGTH = 1 << 20
MAX_TASK_ID_LENGTH = 1024
TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, kw_only=True, slots=True)
class OutputChunk:
    """Bytes of a sandbox file from ``offset``, the file's size, and the agent's host name."""

    data: bytes
    offset: int
    size: int
    hostname: str


class TaskOutputReader(Protocol):
    """Reads a task's sandbox file: ``offset`` None reads the last ``length`` bytes."""

    def read(self, task_id: str, file: str, *, offset: int | None, length: int) -> OutputChunk: ...


class MesosTaskOutput:
    """A :class:`TaskOutputReader` on a Mesos master: ``master_url`` names the leading master (a
    ``zk://`` URL is resolved by ``detect``), ``framework_id`` gives this framework's id."""

    def __init__(
        self,
        master_url: str | None,
        framework_id: Callable[[], Awaitable[str | None]],
        *,
        detect: Callable[[str], Awaitable[str]],
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._master_url = master_url
        self._framework_id = framework_id
        self._detect = detect
        self._timeout = timeout

    def read(self, task_id: str, file: str, *, offset: int | None, length: int) -> OutputChunk:
        return asyncio.run(self._read(task_id, file, offset=offset, length=length))

    async def _read(self, task_id: str, file: str, *, offset: int | None, length: int) -> OutputChunk:
        if self._master_url is None:
            raise MesosUnavailable("no Mesos master is configured (ELASTICJOB_MESOS_URL): tasks do not run")
        try:
            framework_id = await self._framework_id()
            if framework_id is None:
                raise NotFound(f"no task {task_id!r}: the framework has not registered with Mesos yet")
            master = await self._detect(self._master_url)
            sandbox = await operator.task_sandbox(master, framework_id, task_id, timeout=self._timeout)
            if sandbox is None:
                raise NotFound(f"no sandbox of task {task_id!r} is known to the Mesos master")
            path = f"{sandbox.directory.rstrip('/')}/{file}"
            size = (await operator.read_file(sandbox.agent_url, path, offset=-1, length=0)).offset
            start = max(0, size - length) if offset is None else offset
            chunk = await operator.read_file(sandbox.agent_url, path, offset=start, length=length)
        except operator.FileNotFound as exc:  # the agent's 404 of /files/read
            raise NotFound(f"task {task_id!r} has no {file} in its sandbox") from exc
        except MesosError as exc:  # a master or agent unreachable, or answering what Mesos does not
            raise MesosUnavailable(f"reading {file} of task {task_id!r} failed: {exc}") from exc
        size = max(size, chunk.offset + len(chunk.data))
        return OutputChunk(data=chunk.data, offset=chunk.offset, size=size, hostname=sandbox.hostname)


class TaskOutputServicer(task_output_pb2_grpc.TaskOutputServiceServicer):
    def __init__(self, reader: TaskOutputReader) -> None:
        self._reader = reader

    def ReadTaskOutput(
        self, request: task_output_pb2.ReadTaskOutputRequest, context: grpc.ServicerContext
    ) -> task_output_pb2.TaskOutputChunk:
        task_id = request.task_id
        if not task_id or len(task_id) > MAX_TASK_ID_LENGTH:
            raise InvalidArgument(f"taskId must be 1 to {MAX_TASK_ID_LENGTH} characters", field="taskId")
        file = request.file or "stdout"
        if file not in FILES:
            raise InvalidArgument(f"file must be stdout or stderr, not {file[:40]!r}", field="file")
        offset = request.offset if request.HasField("offset") else None
        if offset is not None and offset < 0:
            raise InvalidArgument(f"offset must be at least 0, got {offset}", field="offset")
        length = request.length if request.HasField("length") else DEFAULT_LENGTH
        if not 1 <= length <= MAX_LENGTH:
            raise InvalidArgument(f"length must be between 1 and {MAX_LENGTH}, got {length}", field="length")
        chunk = self._reader.read(task_id, file, offset=offset, length=length)
        data = _whole_characters(chunk.data, at_end=chunk.offset + len(chunk.data) >= chunk.size)
        return task_output_pb2.TaskOutputChunk(
            data=data.decode("utf-8", errors="replace"),
            offset=chunk.offset,
            size=chunk.size,
            hostname=chunk.hostname,
            next_offset=chunk.offset + len(data),
        )


def _whole_characters(data: bytes, *, at_end: bool) -> bytes:
    """``data`` without a UTF-8 sequence cut at its end (the next read starts with it), unless the
    file ends there or nothing would be left (a read always moves on)."""
    if at_end:
        return data
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data  # ASCII: nothing is cut
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= needed or back == len(data) else data[:-back]
    return data
