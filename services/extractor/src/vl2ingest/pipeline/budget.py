"""Counting budgets that bound what the pipeline holds in memory.

Two are used: raw object bytes (a download reserves its ``Content-Length`` before the body is
read, released once the image is decoded and reduced), and prepared images waiting for the
engine (reserved before a request is fetched, released after inference), so the fetch and
prepare stages run only a bounded distance ahead of the engine. A reservation larger than the
whole budget is still admitted when nothing else is held, so no request can wait forever.
"""

from __future__ import annotations

import asyncio


class Budget:
    """``acquire(n)`` waits until ``n`` more units fit; ``release(n)`` gives them back."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self._changed = asyncio.Condition()

    async def acquire(self, size: int) -> None:
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.used == 0 or self.used + size <= self.capacity
            )
            self.used += size
            self.peak = max(self.peak, self.used)

    async def release(self, size: int) -> None:
        async with self._changed:
            self.used = max(0, self.used - size)
            self._changed.notify_all()
