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


async def test_waiters_are_admitted_in_arrival_order() -> None:
    """A large reservation queued first is not overtaken by smaller ones that would fit."""
    budget = Budget(100)
    await budget.acquire(90)
    order: list[int] = []

    async def take(size: int) -> None:
        await budget.acquire(size)
        order.append(size)

    large = asyncio.create_task(take(80))
    await asyncio.sleep(0)
    small = asyncio.create_task(take(5))
    await asyncio.sleep(0.01)
    assert order == []  # 5 would fit, but the 80 queued before it
    await budget.release(90)
    await asyncio.wait_for(asyncio.gather(large, small), timeout=1)
    assert order == [80, 5]
    assert budget.used == 85


async def test_a_cancelled_waiter_leaves_the_queue_and_unblocks_the_next() -> None:
    """Cancelling a queued reservation removes it; those behind it are admitted if they fit."""
    budget = Budget(100)
    await budget.acquire(50)
    blocked = asyncio.create_task(budget.acquire(80))
    await asyncio.sleep(0)
    behind = asyncio.create_task(budget.acquire(30))
    await asyncio.sleep(0.01)
    assert not behind.done()
    blocked.cancel()
    await asyncio.wait_for(behind, timeout=1)
    assert blocked.cancelled()
    assert budget.used == 80


async def test_a_release_wakes_only_the_waiters_it_admits() -> None:
    """Many queued waiters: one release of one unit admits exactly one of them."""
    budget = Budget(4)
    await budget.acquire(4)
    waiters = [asyncio.create_task(budget.acquire(1)) for _ in range(200)]
    await asyncio.sleep(0.01)
    await budget.release(1)
    await asyncio.sleep(0.01)
    assert sum(w.done() for w in waiters) == 1
    await budget.release(4)
    await asyncio.sleep(0.01)
    assert sum(w.done() for w in waiters) == 5
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert budget.used == 4  # the five admitted: one of the first 4 units, then 4 more


async def test_cancelling_every_waiter_at_once_raises_only_cancellation() -> None:
    """A forced stop cancels all queued requests together: each ends cancelled, none with an
    error of the budget's own (which the pipeline would dead-letter), and nothing stays held."""
    budget = Budget(2)
    await budget.acquire(2)
    waiters = [asyncio.create_task(budget.acquire(1)) for _ in range(50)]
    await asyncio.sleep(0.01)
    for waiter in waiters:
        waiter.cancel()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results), results
    await budget.release(2)
    assert budget.used == 0
    await asyncio.wait_for(budget.acquire(2), timeout=1)  # the queue is clear again
