"""The executor's UPDATE calls: sent one at a time, in the order they were made, while one
subscription to the agent lives.

The agent must see a task's updates in order, so a single task posts them. An UPDATE that fails
on the network (or is answered 5xx) is retried every half second while the subscription lives;
one the agent refuses with a 4xx is logged and dropped from the queue (it stays in the ledger
until acknowledged, so the next SUBSCRIBE carries it). An update acknowledged meanwhile is not
sent again. Stopping cancels the task; what was not sent rides on the next SUBSCRIBE.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import httpx

from server.executor.updates import StatusUpdate, UpdateLedger

__all__ = ["UpdateSender", "describe"]

log = logging.getLogger("server.executor.sender")

#: Wait before retrying an UPDATE that failed on the network while the stream is still up.
_UPDATE_RETRY_DELAY = 0.5


class UpdateSender:
    """Posts the updates of one subscription in order (see the module docstring).

    :param ledger: the updates still owed to the agent; one no longer pending is skipped.
    :param url: the agent's executor API endpoint.
    :param encode: the UPDATE call carrying one update, as the request body.
    """

    def __init__(self, ledger: UpdateLedger, *, url: str, encode: Callable[[StatusUpdate], str]) -> None:
        self._ledger = ledger
        self._url = url
        self._encode = encode
        self._outbox: asyncio.Queue[StatusUpdate] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a subscription is live and updates go out as they are made."""
        return self._outbox is not None

    def start(self, http: httpx.AsyncClient, backlog: Iterable[StatusUpdate]) -> None:
        """A subscription began: send ``backlog`` first, then every update :meth:`put` here."""
        self._outbox = asyncio.Queue()
        for update in backlog:
            self._outbox.put_nowait(update)
        self._task = asyncio.create_task(self._send(http, self._outbox))

    def put(self, update: StatusUpdate) -> None:
        """Queue one update (dropped unless running: the next SUBSCRIBE carries it)."""
        if self._outbox is not None:
            self._outbox.put_nowait(update)

    def stop(self) -> None:
        """The subscription ended: stop sending."""
        self._outbox = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _send(self, http: httpx.AsyncClient, outbox: asyncio.Queue[StatusUpdate]) -> None:
        while True:
            update = await outbox.get()
            while self._ledger.is_pending(update.uuid):
                started = time.monotonic()
                try:
                    response = await http.post(self._url, content=self._encode(update))
                except httpx.HTTPError as exc:
                    log.warning(
                        "UPDATE %s of task %s failed: %s; retrying",
                        update.state,
                        update.task_id,
                        describe(exc),
                    )
                else:
                    if response.status_code == 202:
                        break
                    text = response.text.strip()[:300]
                    if 400 <= response.status_code < 500:
                        log.error(
                            "agent refused UPDATE %s of task %s with HTTP %d: %s",
                            update.state,
                            update.task_id,
                            response.status_code,
                            text,
                        )
                        break
                    log.warning("UPDATE answered HTTP %d: %s; retrying", response.status_code, text)
                await asyncio.sleep(max(0.0, _UPDATE_RETRY_DELAY - (time.monotonic() - started)))


def describe(exc: BaseException) -> str:
    """An exception's message with its cause's, for one log line."""
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return text
