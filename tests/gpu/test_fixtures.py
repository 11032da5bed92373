"""The GPU checks' fixture set-up, checked where there is no GPU: a session-scoped async
fixture (as the engine is) and the tests share one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tests.gpu.conftest import in_session_loop, session_async_fixture

pytestmark = in_session_loop


@session_async_fixture
async def fixture_loop() -> AsyncIterator[asyncio.AbstractEventLoop]:
    yield asyncio.get_running_loop()


async def test_a_session_fixture_runs_on_the_tests_loop(
    fixture_loop: asyncio.AbstractEventLoop,
) -> None:
    assert asyncio.get_running_loop() is fixture_loop


async def test_and_so_does_the_next_test(fixture_loop: asyncio.AbstractEventLoop) -> None:
    assert asyncio.get_running_loop() is fixture_loop
