"""The fetch byte budget: waits for room, never starves an oversized object."""

from __future__ import annotations

import asyncio

from vl2ingest.pipeline.budget import Budget


async def test_acquire_waits_until_enough_is_released() -> None:
    """A reservation that would pass the capacity waits for a release, then proceeds."""
    budget = Budget(100)
    await budget.acquire(60)
    waiter = asyncio.create_task(budget.acquire(50))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await budget.release(60)
    await asyncio.wait_for(waiter, timeout=1)
    assert budget.used == 50
    assert budget.peak == 60


async def test_an_object_larger_than_the_budget_passes_alone() -> None:
    """An object bigger than the capacity is admitted when nothing else is held."""
    budget = Budget(100)
    await budget.acquire(10)
    big = asyncio.create_task(budget.acquire(500))
    await asyncio.sleep(0.01)
    assert not big.done()
    await budget.release(10)
    await asyncio.wait_for(big, timeout=1)
    assert budget.used == 500
