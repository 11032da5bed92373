"""Static group membership (KIP-345) on the real broker: a restarted instance gets its
partitions back without making the other members rebalance."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from tests.support.stack import Topics

from vl2ingest.kafka.source import KafkaSource
from vl2ingest.settings import Settings

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_MS = 10_000


class Member:
    """One group member through our KafkaSource, polled in the background, counting the
    rebalances it goes through (the eager protocol revokes every partition on each)."""

    def __init__(self, settings: Settings) -> None:
        self.source = KafkaSource(settings.kafka)
        self.rebalances = 0
        self.source.on_revoke(self._revoked)
        self._task: asyncio.Task[None] | None = None

    async def _revoked(self, tps: set[tuple[str, int]]) -> None:
        self.rebalances += 1

    async def _poll(self) -> None:
        while True:
            await self.source.poll(timeout_ms=100)

    @property
    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self.source.consumer.assignment()}

    async def start(self) -> None:
        await self.source.start()
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.source.stop()


@contextlib.asynccontextmanager
async def member(settings: Settings) -> AsyncIterator[Member]:
    started = Member(settings)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def settled(*members: Member, partitions: int, timeout_s: float = 60) -> None:
    """Until every partition is assigned to exactly one of ``members``."""
    async with asyncio.timeout(timeout_s):
        while True:
            owned = [tp for m in members for tp in m.assignment]
            if (
                len(owned) == partitions
                and len(set(owned)) == partitions
                and all(m.assignment for m in members)
            ):
                return
            await asyncio.sleep(0.1)


def settings_for(kafka: str, topics: Topics, instance: str | None) -> Settings:
    env = {
        "VL2INGEST_KAFKA__BOOTSTRAP_SERVERS": kafka,
        "VL2INGEST_KAFKA__REQUESTS_TOPIC": topics.requests,
        "VL2INGEST_KAFKA__GROUP_ID": topics.group,
        "VL2INGEST_KAFKA__SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
        "VL2INGEST_S3__ALLOWED_BUCKETS": "unused",
    }
    if instance is not None:
        env["VL2INGEST_KAFKA__GROUP_INSTANCE_ID"] = instance
    return Settings.from_env(env)


@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
async def test_a_restart_within_the_session_timeout_rebalances_nobody(
    static: bool, kafka: str, topics: Topics
) -> None:
    """With group instance ids, restarting one member within the session timeout gives it its
    own partitions back and the other member goes through no rebalance; without them (the
    control, showing the test sees a rebalance when there is one), the other member does."""
    other_settings = settings_for(kafka, topics, "other" if static else None)
    pod_settings = settings_for(kafka, topics, "pod-0" if static else None)
    async with member(other_settings) as other:
        await settled(other, partitions=3)
        pod = Member(pod_settings)
        await pod.start()
        await settled(other, pod, partitions=3)
        before, theirs, rebalances = pod.assignment, other.assignment, other.rebalances
        await pod.stop()
        async with member(pod_settings) as restarted:
            # A rebalance, had there been one, revoked the other member's partitions before
            # the restarted member could be assigned any (eager protocol).
            await settled(other, restarted, partitions=3)
            if static:
                assert restarted.assignment == before
                assert other.rebalances == rebalances
                assert other.assignment == theirs
            else:
                assert other.rebalances > rebalances
