"""Jittered exponential backoff between reconnection attempts (no IO, no clock)."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    """Exponential backoff with a cap and jitter.

    Attempt ``n`` (0-based) waits ``min(maximum, initial * multiplier**n)`` seconds, reduced by a
    random fraction of at most ``jitter`` so that many clients do not retry in step. The caller
    keeps the attempt counter (and restarts it after a success).
    """

    initial: float = 0.5
    maximum: float = 15.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial or self.multiplier < 1:
            raise ValueError("Backoff needs 0 <= initial <= maximum and multiplier >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("Backoff.jitter must be in [0, 1)")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        delay = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        if self.jitter:
            delay *= 1.0 - random.random() * self.jitter
        return delay
