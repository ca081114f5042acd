"""Stop signals reach a ``threading.Event`` even when the signal arrives while the main thread holds
that event's lock (as it does on its way into and out of ``Event.wait``). Python runs signal
handlers in the main thread between bytecodes (docs: "signal — Set handlers for asynchronous
events", "Execution of Python signal handlers"), so a handler calling ``Event.set()`` there waits
for a lock its own thread holds. The keeper of ``make run`` did that and, now and then, never
stopped on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SIGNAL_WHILE_HOLDING_THE_LOCK = """
import os, signal, threading
{setup}
with event._cond:  # the lock Event.wait holds on its way in and out
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(10000):  # the Python-level handler runs in here, the lock held
        pass
print("set" if event.wait(5) else "not set", {received})
"""


def run(setup: str, received: str = "''", timeout: float = 10) -> subprocess.CompletedProcess[str]:
    code = SIGNAL_WHILE_HOLDING_THE_LOCK.format(setup=textwrap.dedent(setup), received=received)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


def test_the_event_is_set_when_the_signal_comes_while_its_lock_is_held() -> None:
    done = run(
        """
        from server.base.signals import StopSignals
        stop = StopSignals(signal.SIGTERM, signal.SIGINT)
        event = stop.event
        """,
        received="stop.received.name",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["set", "SIGTERM"]


def test_setting_the_event_in_the_handler_itself_deadlocks_there() -> None:
    """The hazard the module exists for, checked on this Python: the same program with the handler
    calling ``Event.set()`` never gets past the handler."""
    try:
        run(
            """
            event = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: event.set())
            """,
            timeout=3,
        )
    except subprocess.TimeoutExpired:
        return
    raise AssertionError("Event.set() in a handler interrupting the lock's holder did not deadlock")
