"""Garbage collection kept out of the way of launches: no cyclic collection runs during a step of
the core (``collector_paused``), and after a large load the heap is collected and frozen
(``freeze_heap``), so the long-lived configuration is not walked by every later full collection.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator

log = logging.getLogger("server.scheduler")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during a step: a burst of launches makes tens of thousands of
    short-lived objects (reference counting frees them), and collections inside it walk them again
    and again, a full one the whole heap, while fires wait. Collections resume after the step."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def freeze_heap() -> None:
    """Collect, then move every object alive (the loaded state, the modules) to the collector's
    permanent generation, so full collections no longer walk it. Objects frozen by an earlier
    call are unfrozen first, so a replaced core's state is collected."""
    started = time.monotonic()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info(
        "froze %d objects after loading (%.0f ms)",
        gc.get_freeze_count(),
        (time.monotonic() - started) * 1000,
    )
