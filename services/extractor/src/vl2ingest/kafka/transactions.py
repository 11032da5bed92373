"""Exactly-once delivery: consume-transform-produce in Kafka transactions.

aiokafka lacks KIP-447 (group-metadata fencing), so zombies are fenced the pre-KIP-447 way: one
transactional producer per assigned input partition, with a stable ``transactional.id`` derived
from the group, topic and partition. When a partition moves, its new owner starts a producer
with the same id, which aborts the previous owner's open transaction and fences it.

Results and DLQ records are staged per partition as requests finish. At each commit point the
contiguous completed prefix of a partition goes out in ONE transaction together with the
partition's next offset (``send_offsets_to_transaction``): a read_committed consumer sees every
result exactly once, or not at all if the transaction aborts (then the input is re-read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from vl2ingest.errors import CommitFailed, PublishFailed
from vl2ingest.kafka.connection import connection_options, producer_options
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import InboundMessage
from vl2ingest.pipeline.models import TopicPartition as PartitionKey
from vl2ingest.settings import KafkaSettings
from vl2ingest_events import ResultEvent, encode

log = structlog.get_logger("vl2ingest.kafka.transactions")

_READY_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class _Staged:
    offset: int
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def transactional_id(settings: KafkaSettings, tp: PartitionKey) -> str:
    """Stable per input partition, so the partition's next owner fences the previous one."""
    return f"{settings.transactional_id_prefix}.{settings.group_id}.{tp[0]}.{tp[1]}"


class TransactionalOutbox(AsyncResource):
    """Implements the pipeline's ``ResultSink`` and ``Committer`` for exactly-once mode."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producers: dict[PartitionKey, AIOKafkaProducer] = {}
        self._staged: dict[PartitionKey, list[_Staged]] = {}
        self._ready: dict[PartitionKey, asyncio.Event] = {}
        """Set once a partition's producer has fenced any previous owner and can transact."""
        self._lock = asyncio.Lock()
        self._started = False

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("TransactionalOutbox already started")
        self._started = True

    async def stop(self) -> None:
        self._started = False
        producers, self._producers = self._producers, {}
        for producer in producers.values():
            await producer.stop()
        self._staged.clear()

    # --- partition ownership (called from the consumer's rebalance listener) -----------------
    async def assigned(self, tps: set[PartitionKey]) -> None:
        """Start (and thereby fence) the producer of every newly assigned partition."""
        new = sorted(tp for tp in tps if tp not in self._ready)
        # Register first: records of these partitions may be fetched while the producers start;
        # they wait in publish() until their partition's producer is ready.
        for tp in new:
            self._ready[tp] = asyncio.Event()
            self._staged[tp] = []
        for tp in new:
            producer = AIOKafkaProducer(
                transactional_id=transactional_id(self._settings, tp),
                enable_idempotence=True,
                acks="all",
                **producer_options(self._settings),
                **connection_options(self._settings),
            )
            await producer.start()  # InitProducerId: aborts and fences a previous owner
            self._producers[tp] = producer
            self._ready[tp].set()

    async def revoked(self, tps: set[PartitionKey]) -> None:
        """Drop the producers of partitions that went elsewhere (after the final commit)."""
        for tp in tps:
            self._staged.pop(tp, None)
            self._ready.pop(tp, None)
            producer = self._producers.pop(tp, None)
            if producer is not None:
                await producer.stop()

    # --- ResultSink ---------------------------------------------------------------------------
    async def publish(
        self,
        event: ResultEvent,
        *,
        headers: Sequence[tuple[str, bytes]],
        source: InboundMessage,
    ) -> None:
        await self._stage(
            source, self._settings.results_topic, event.request_id.encode(), encode(event), headers
        )

    async def dead_letter(
        self, message: InboundMessage, *, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        await self._stage(message, self._settings.dlq_topic, message.key, message.value, headers)

    async def _stage(
        self,
        source: InboundMessage,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        ready = self._ready.get(source.tp)
        if ready is not None and not ready.is_set():
            try:
                async with asyncio.timeout(_READY_TIMEOUT_S):
                    await ready.wait()
            except TimeoutError:
                raise PublishFailed(f"no transactional producer for {source.tp}") from None
        staged = self._staged.get(source.tp)
        if staged is None:
            # Revoked while this request ran: its offset will not be committed here, so the
            # partition's new owner processes it again. Dropping is what keeps it exactly-once.
            log.info("dropping a result of a revoked partition", partition=source.tp)
            return
        staged.append(_Staged(source.offset, topic, key, value, tuple(headers)))

    # --- Committer ----------------------------------------------------------------------------
    async def commit(self, offsets: Mapping[PartitionKey, int]) -> None:
        """One transaction per partition: its staged records below the offset, plus the offset."""
        async with self._lock:
            for tp, next_offset in offsets.items():
                await self._commit_partition(tp, next_offset)

    async def _commit_partition(self, tp: PartitionKey, next_offset: int) -> None:
        producer = self._producers.get(tp)
        if producer is None:
            return  # revoked meanwhile: the new owner re-reads from the last commit
        staged = self._staged.get(tp, [])
        batch = [record for record in staged if record.offset < next_offset]
        try:
            async with producer.transaction():
                sends = [
                    await producer.send(r.topic, value=r.value, key=r.key, headers=list(r.headers))
                    for r in batch
                ]
                await asyncio.gather(*sends)
                await producer.send_offsets_to_transaction(
                    {TopicPartition(tp[0], tp[1]): next_offset}, self._settings.group_id
                )
        except ProducerFenced as exc:
            raise PublishFailed(f"producer for {tp} was fenced by a newer owner") from exc
        except KafkaError as exc:
            raise CommitFailed(f"transaction for {tp} aborted: {exc}") from exc
        # Only now are the records durable: drop them from the stage.
        self._staged[tp] = [record for record in staged if record.offset >= next_offset]
        log.debug("transaction committed", partition=tp, records=len(batch), offset=next_offset)
