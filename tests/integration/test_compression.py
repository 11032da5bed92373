"""Compressed batches in and out, with a third-party client: librdkafka (confluent-kafka).

Producers upstream compress with whatever they like, and warehouse consumers read what we
compress. Both sides are tested with librdkafka, the client behind most non-Java producers, on
the real broker; the broker's own log segments show each batch really was compressed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from tests.support.fakes import png_bytes
from tests.support.fast_engine import FastEngine
from tests.support.segments import stored_codecs
from tests.support.servers import S3Endpoint
from tests.support.stack import (
    Topics,
    after_last_record,
    committed_offsets,
    produce,
    read_to_end,
    results,
    running,
    service_settings,
)

from vl2ingest_events import ExtractionCompleted, ExtractionRequested, ImageRef, decode_result
from vl2ingest_events import encode as encode_event

pytestmark = pytest.mark.integration

CODECS = ("gzip", "snappy", "lz4", "zstd")
PER_CODEC = 6


def request(request_id: str, uri: str) -> bytes:
    return encode_event(ExtractionRequested(request_id=request_id, images=(ImageRef(uri=uri),)))


def produce_with_librdkafka(kafka: str, topic: str, uri: str, *, transactional: bool) -> set[str]:
    """For each codec, one librdkafka producer sends PER_CODEC requests in one batch: half to
    partition 0 (every codec mixed in one partition), half to partition 1."""
    ids: set[str] = set()
    for codec in CODECS:
        config: dict[str, Any] = {
            "bootstrap.servers": kafka,
            "compression.type": codec,
            "linger.ms": 50,
            "enable.idempotence": True,
        }
        if transactional:
            config["transactional.id"] = f"it-librdkafka-{uuid.uuid4().hex[:8]}"
        producer = Producer(config)
        if transactional:
            producer.init_transactions(30)
            producer.begin_transaction()
        for i in range(PER_CODEC):
            request_id = f"{codec}-{i}"
            producer.produce(topic, key=request_id, value=request(request_id, uri), partition=i % 2)
            ids.add(request_id)
        if transactional:
            producer.commit_transaction(30)
        assert producer.flush(30) == 0
    return ids


def consume_with_librdkafka(kafka: str, topic: str, count: int, timeout_s: float) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": f"it-reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            value = message.value()
            assert value is not None
            values.append(value)
    finally:
        consumer.close()
    return values


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_requests_compressed_with_every_codec_are_all_answered(
    delivery: str,
    kafka: str,
    s3: S3Endpoint,
    s3_client: Any,
    bucket: str,
    topics: Topics,
    run_timeout: float,
) -> None:
    """librdkafka batches compressed with gzip, snappy, lz4 and zstd (mixed in one partition;
    transactional in exactly-once mode) are all answered: the set of result ids is the set
    produced, and the group's offsets reach the end of the requests topic."""
    s3_client.put_object(Bucket=bucket, Key="a.png", Body=png_bytes(64, 48))
    produced = await asyncio.to_thread(
        produce_with_librdkafka,
        kafka,
        topics.requests,
        f"s3://{bucket}/a.png",
        transactional=delivery == "exactly_once",
    )
    assert set(stored_codecs(topics.requests)) == set(CODECS)  # really compressed, each codec
    settings = service_settings(kafka, s3, topics, [bucket], VL2INGEST_DELIVERY=delivery)
    async with running(settings, engine=FastEngine()):
        await results(kafka, topics.results, len(produced), timeout_s=run_timeout)
    events = [decode_result(r.value) for r in await read_to_end(kafka, topics.results)]
    assert {e.request_id for e in events} == produced
    assert all(isinstance(e, ExtractionCompleted) for e in events)
    inputs = await read_to_end(kafka, topics.requests)
    committed = await committed_offsets(kafka, topics.group, topics.requests)
    assert committed == after_last_record(inputs)


@pytest.mark.parametrize("codec", ["none", *CODECS])
async def test_results_are_compressed_as_set_and_librdkafka_reads_them(
    codec: str,
    kafka: str,
    s3: S3Endpoint,
    s3_client: Any,
    bucket: str,
    topics: Topics,
    run_timeout: float,
) -> None:
    """With VL2INGEST_KAFKA__COMPRESSION_TYPE=<codec>, the result and DLQ batches are stored
    with that codec, and a librdkafka consumer reads and decodes every result."""
    s3_client.put_object(Bucket=bucket, Key="a.png", Body=png_bytes(64, 48))
    ids = [f"r-{i}" for i in range(8)]
    records = [(i.encode(), request(i, f"s3://{bucket}/a.png")) for i in ids]
    records.append((b"gone", request("gone", f"s3://{bucket}/missing.png")))
    await produce(kafka, topics.requests, records)
    settings = service_settings(
        kafka, s3, topics, [bucket], VL2INGEST_KAFKA__COMPRESSION_TYPE=codec
    )
    async with running(settings, engine=FastEngine()):
        values = await asyncio.to_thread(
            consume_with_librdkafka, kafka, topics.results, len(records), run_timeout
        )
    events = [decode_result(v) for v in values]
    assert {e.request_id for e in events} == {*ids, "gone"}
    assert set(stored_codecs(topics.results)) == {codec}
    assert set(stored_codecs(topics.dlq)) == {codec}
