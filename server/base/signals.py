"""Stop signals turned into a ``threading.Event`` without taking a lock inside a signal handler.

A Python signal handler runs in the main thread between two bytecodes, possibly while that thread
holds the lock of the very event the handler would set (inside ``Event.wait``, on the way in or out
of its wait): ``Event.set()`` in the handler then waits for a lock its own thread holds, forever.
Here the handler does nothing in Python; the interpreter's C-level handler writes the signal
number to a pipe (``signal.set_wakeup_fd``), and a daemon thread reading that pipe records which
signal came and sets the event.
"""

from __future__ import annotations

import os
import signal
import threading

__all__ = ["StopSignals"]


class StopSignals:
    """``event`` is set once one of the signals arrives (``received`` says which). Create it in the
    main thread; it replaces that thread's wakeup fd and the handlers of the signals."""

    def __init__(self, *signums: signal.Signals) -> None:
        self.event = threading.Event()
        self.received: signal.Signals | None = None
        self._accepted = {int(signum) for signum in signums}
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        os.set_inheritable(read_end, False)
        os.set_inheritable(write_end, False)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        for signum in signums:
            signal.signal(signum, _ignore)
        self._read_end = read_end
        threading.Thread(target=self._watch, name="stop-signals", daemon=True).start()

    def _watch(self) -> None:
        while True:
            try:
                data = os.read(self._read_end, 64)
            except InterruptedError:
                continue
            if not data:
                return
            for number in data:
                if number in self._accepted:
                    self.received = signal.Signals(number)
                    self.event.set()
                    return


def _ignore(_signum: int, _frame: object) -> None:
    """The Python-level handler: the wakeup fd already carries the signal."""
