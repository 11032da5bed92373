"""Helpers to drive the real service against the real broker and S3 server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from PIL import Image, ImageDraw, ImageFont
from tests.support.servers import S3Endpoint

from vl2ingest.app import Service
from vl2ingest.pipeline.ports import Engine
from vl2ingest.settings import Settings
from vl2ingest_events import ResultEvent, decode_result


@dataclass(frozen=True)
class Topics:
    requests: str
    results: str
    dlq: str
    group: str

    def all(self) -> tuple[str, str, str]:
        return (self.requests, self.results, self.dlq)


@contextlib.asynccontextmanager
async def fresh_topics(kafka: str, *, partitions: int = 3) -> AsyncIterator[Topics]:
    """Unique requests/results/DLQ topics and consumer group, deleted afterwards."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    suffix = uuid.uuid4().hex[:10]
    names = Topics(
        requests=f"it.{suffix}.requests",
        results=f"it.{suffix}.results",
        dlq=f"it.{suffix}.dlq",
        group=f"it-{suffix}",
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=partitions, replication_factor=1)
                for name in names.all()
            ]
        )
        yield names
        await admin.delete_topics(list(names.all()))
    finally:
        await admin.close()


def service_settings(
    kafka: str, s3: S3Endpoint, topics: Topics, buckets: Iterable[str], **extra: str
) -> Settings:
    env = {
        "VL2INGEST_KAFKA__BOOTSTRAP_SERVERS": kafka,
        "VL2INGEST_KAFKA__REQUESTS_TOPIC": topics.requests,
        "VL2INGEST_KAFKA__RESULTS_TOPIC": topics.results,
        "VL2INGEST_KAFKA__DLQ_TOPIC": topics.dlq,
        "VL2INGEST_KAFKA__GROUP_ID": topics.group,
        "VL2INGEST_KAFKA__COMMIT_INTERVAL_MS": "100",
        "VL2INGEST_S3__ENDPOINT_URL": s3.url,
        "VL2INGEST_S3__ACCESS_KEY_ID": s3.access_key,
        "VL2INGEST_S3__SECRET_ACCESS_KEY": s3.secret_key,
        "VL2INGEST_S3__ADDRESSING_STYLE": "path",
        "VL2INGEST_S3__ALLOWED_BUCKETS": ",".join(buckets),
        "VL2INGEST_PIPELINE__RETRY_BASE_MS": "50",
        "VL2INGEST_HEALTH__PORT": "0",
        **extra,
    }
    return Settings.from_env(env)


@contextlib.asynccontextmanager
async def running(settings: Settings, *, engine: Engine | None = None) -> AsyncIterator[Service]:
    """Run the service in this event loop; drain and stop it on exit, surfacing its errors."""
    service = Service(settings, engine=engine)
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, timeout=60)


async def produce(kafka: str, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Received:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int = -1
    offset: int = -1


async def consume(kafka: str, topic: str, count: int, *, timeout_s: float) -> list[Received]:
    """Read ``count`` records from the start of ``topic`` (read_committed), or fail on timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
        group_id=None,
    )
    await consumer.start()
    out: list[Received] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(out) < count:
                batches = await consumer.getmany(timeout_ms=500)
                out.extend(
                    Received(r.key, r.value, dict(r.headers or ()))
                    for records in batches.values()
                    for r in records
                )
    except TimeoutError:
        raise AssertionError(f"got {len(out)} of {count} records on {topic}") from None
    finally:
        await consumer.stop()
    return out


@contextlib.asynccontextmanager
async def _assigned(kafka: str, topic: str) -> AsyncIterator[tuple[AIOKafkaConsumer, list[Any]]]:
    """A read_committed consumer assigned every partition of ``topic``, from the beginning."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(
        (TopicPartition(topic, p["partition"]) for p in described["partitions"]),
        key=lambda tp: tp.partition,
    )
    if not partitions:
        raise AssertionError(f"topic {topic} has no partitions: {described}")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        enable_auto_commit=False,
        isolation_level="read_committed",
        group_id=None,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        yield consumer, partitions
    finally:
        await consumer.stop()


def after_last_record(records: list[Received]) -> dict[int, int]:
    """Per partition, the offset after its last data record: where a complete commit stands
    (a transactional topic's end offset is one further, past the commit marker)."""
    after: dict[int, int] = {}
    for record in records:
        after[record.partition] = max(after.get(record.partition, 0), record.offset + 1)
    return after


async def end_offsets(kafka: str, topic: str) -> dict[int, int]:
    """The last stable offset of each partition of ``topic``: where a full commit stands."""
    async with _assigned(kafka, topic) as (consumer, partitions):
        ends = await consumer.end_offsets(partitions)
    return {tp.partition: offset for tp, offset in ends.items()}


async def read_to_end(kafka: str, topic: str, *, timeout_s: float = 60) -> list[Received]:
    """Every committed record of ``topic``, up to its end offsets as of the call."""
    out: list[Received] = []
    async with _assigned(kafka, topic) as (consumer, partitions):
        ends = await consumer.end_offsets(partitions)
        async with asyncio.timeout(timeout_s):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                batches = await consumer.getmany(timeout_ms=500)
                out.extend(
                    Received(r.key, r.value, dict(r.headers or ()), r.partition, r.offset)
                    for tp, records in batches.items()
                    for r in records
                    if r.offset < ends[tp]
                )
    return out


async def results(kafka: str, topic: str, count: int, *, timeout_s: float) -> list[ResultEvent]:
    return [decode_result(r.value) for r in await consume(kafka, topic, count, timeout_s=timeout_s)]


async def committed_offsets(kafka: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (absent partitions omitted)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        offsets: dict[Any, Any] = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def render_text_png(lines: Sequence[str], *, size: tuple[int, int] = (900, 300)) -> bytes:
    """A white image with large black text: what the OCR engine must read back."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    for i, line in enumerate(lines):
        draw.text((30, 30 + i * 80), line, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
