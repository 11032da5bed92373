"""A byte budget for objects in memory, shared by the fetch and prepare stages.

A download reserves its size (from ``Content-Length``, before the body is read) and the
reservation is released once the image has been decoded and reduced. So however large the
objects, the raw bytes held at once stay within the budget; one object larger than the whole
budget is still admitted when nothing else is held, so no request can wait forever.
"""

from __future__ import annotations

import asyncio


class ByteBudget:
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
