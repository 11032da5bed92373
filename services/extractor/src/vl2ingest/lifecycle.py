"""The shape every resource shares: explicit ``start()``/``stop()``, usable as ``async with``."""

from __future__ import annotations

from typing import Self


class AsyncResource:
    """Mixin: ``async with resource`` starts it and stops it, like aiokafka's clients.

    Subclasses implement ``start()`` (refusing a double start) and an idempotent ``stop()``.
    """

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
