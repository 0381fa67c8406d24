"""Bounded retries with exponential backoff, for calls to the chat platforms.

    for delay in Backoff(attempts=3, first=0.5).delays():   # 0, ~0.5, ~1.0
        await asyncio.sleep(delay)
        ...try; on success break...

Jitter of +-20% keeps many workers from retrying in step.  The channels decide
what may be retried (bot/channels/line.py, telegram.py): a call that may have
arrived is retried only where the platform makes a repeat harmless.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    attempts: int = 3
    first: float = 0.5  # seconds before the second attempt; doubles each time
    cap: float = 8.0

    def delays(self) -> Iterator[float]:
        """The wait before each attempt: 0 for the first."""
        yield 0.0
        for n in range(self.attempts - 1):
            yield min(self.cap, self.first * 2**n) * random.uniform(0.8, 1.2)
