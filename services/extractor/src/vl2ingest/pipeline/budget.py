"""Counting budgets that bound what the pipeline holds in memory.

Two are used: raw object bytes (a download reserves its ``Content-Length`` before the body is
read, released once the image is decoded and reduced), and prepared images waiting for the
engine (reserved before a request is fetched, released after inference), so the fetch and
prepare stages run only a bounded distance ahead of the engine. A reservation larger than the
whole budget is still admitted when nothing else is held, so no request can wait forever.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Budget:
    """``acquire(n)`` waits until ``n`` more units fit; ``release(n)`` gives them back.

    Waiters are served first come, first served: a release wakes only the waiters it admits
    (not every waiter, as a condition variable's ``notify_all`` would), so hundreds of queued
    requests cost nothing per release, and a large reservation is never overtaken forever by
    smaller ones.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, size: int) -> bool:
        return self.used == 0 or self.used + size <= self.capacity

    def _take(self, size: int) -> None:
        self.used += size
        self.peak = max(self.peak, self.used)

    async def acquire(self, size: int) -> None:
        if not self._waiters and self._fits(size):
            self._take(size)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((size, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.cancelled():
                self.used = max(0, self.used - size)  # admitted, then cancelled: give back
            # A cancelled waiter stays queued until it reaches the head, where _admit drops it
            # (removing it here would race with other cancelled waiters that _admit dropped).
            self._admit()
            raise

    async def release(self, size: int) -> None:
        self.used = max(0, self.used - size)
        self._admit()

    def _admit(self) -> None:
        """Admit waiters from the head of the queue while they fit."""
        while self._waiters:
            size, waiter = self._waiters[0]
            if waiter.done():  # cancelled while queued
                self._waiters.popleft()
                continue
            if not self._fits(size):
                return
            self._waiters.popleft()
            self._take(size)
            waiter.set_result(None)
