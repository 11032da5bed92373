"""The requests-topic consumer, behind the pipeline's ``MessageSource`` port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError, UnsupportedCodecError

from vl2ingest.errors import CommitFailed, ConfigError
from vl2ingest.kafka import codecs
from vl2ingest.kafka.connection import connection_options
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import InboundMessage
from vl2ingest.pipeline.ports import RevokeCallback
from vl2ingest.settings import KafkaSettings

log = structlog.get_logger("vl2ingest.kafka.source")


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base class
    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        tps = {(tp.topic, tp.partition) for tp in revoked}
        log.info("partitions revoked", partitions=sorted(tps))
        if tps and self._source.revoke_callback is not None:
            await self._source.revoke_callback(tps)  # drain and commit first
        if tps and self._source.ownership is not None:
            await self._source.ownership.revoked(tps)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        tps = {(tp.topic, tp.partition) for tp in assigned}
        log.info("partitions assigned", partitions=sorted(tps))
        if self._source.paused and assigned:
            # A paused consumer stays paused across a rebalance: new partitions start paused too.
            self._source.consumer.pause(*assigned)
        if tps and self._source.ownership is not None:
            # Exactly-once: start (and thereby fence) each new partition's producer.
            await self._source.ownership.assigned(tps)


class PartitionOwnership(Protocol):
    """Told when partitions arrive and leave (the exactly-once outbox keeps a producer each)."""

    async def assigned(self, tps: set[tuple[str, int]]) -> None: ...

    async def revoked(self, tps: set[tuple[str, int]]) -> None: ...


class KafkaSource(AsyncResource):
    """Owns one ``AIOKafkaConsumer``: manual commits, pause/resume, rebalance callbacks."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        isolation_level: str = "read_committed",
        ownership: PartitionOwnership | None = None,
    ) -> None:
        self.ownership = ownership
        self._settings = settings
        self.consumer = AIOKafkaConsumer(
            group_id=settings.group_id,
            group_instance_id=settings.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.auto_offset_reset,
            max_poll_records=settings.max_poll_records,
            session_timeout_ms=settings.session_timeout_ms,
            max_poll_interval_ms=settings.max_poll_interval_ms,
            isolation_level=isolation_level,
            **connection_options(settings),
        )
        self.revoke_callback: RevokeCallback | None = None
        self._next_offset: dict[tuple[str, int], int] = {}
        self.paused = False
        self._started = False

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("KafkaSource already started")
        self._started = True
        self.consumer.subscribe([self._settings.requests_topic], listener=_Listener(self))
        await self.consumer.start()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.consumer.stop()  # leaves the group

    @property
    def assigned(self) -> bool:
        return bool(self.consumer.assignment())

    def on_revoke(self, callback: RevokeCallback) -> None:
        self.revoke_callback = callback

    async def poll(self, *, timeout_ms: int) -> list[InboundMessage]:
        try:
            batches: dict[Any, list[Any]] = await self.consumer.getmany(timeout_ms=timeout_ms)
        except UnsupportedCodecError as exc:
            hint = codecs.INSTALL_HINT
            raise ConfigError(f"a fetched batch cannot be decompressed: {exc}; {hint}") from exc
        for tp, records in batches.items():
            if records:
                self._next_offset[(tp.topic, tp.partition)] = records[-1].offset + 1
        return [
            InboundMessage(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                headers=tuple(record.headers or ()),
                timestamp_ms=record.timestamp or 0,
            )
            for records in batches.values()
            for record in records
        ]

    def lag(self) -> dict[tuple[str, int], int]:
        """Records between the last one fetched and the partition's end (high watermark)."""
        out: dict[tuple[str, int], int] = {}
        for tp in self.consumer.assignment():
            key = (tp.topic, tp.partition)
            highwater = self.consumer.highwater(tp)
            if highwater is not None and key in self._next_offset:
                out[key] = max(0, highwater - self._next_offset[key])
        return out

    def pause(self) -> None:
        self.paused = True
        self.consumer.pause(*self.consumer.assignment())

    def resume(self) -> None:
        self.paused = False
        self.consumer.resume(*self.consumer.assignment())

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        assigned = self.consumer.assignment()
        to_commit = {
            tp: offset
            for (topic, partition), offset in offsets.items()
            if (tp := TopicPartition(topic, partition)) in assigned
        }
        if not to_commit:
            return
        try:
            await self.consumer.commit(to_commit)
        except (CommitFailedError, KafkaError) as exc:
            raise CommitFailed(f"offset commit failed: {exc}") from exc
