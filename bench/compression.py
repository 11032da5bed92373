"""What compressing result events costs and saves, per codec (part of `make bench`).

Result events are produced exactly as the service's sink produces them (aiokafka, idempotent,
acks=all, linger 5 ms) to a fresh topic per codec, in two load shapes: one event at a time
(a quiet service: every batch holds one event) and pipelined (a busy one: batches fill). The
producer's CPU time comes from this process (aiokafka compresses on the event loop thread), the
bytes from the broker's own log segments (bench/segments.py). The events are realistic OCR
results: 10 to 40 lines of receipt- and form-like text with one region per line.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.segments import stored_batches
from vl2ingest_events import (
    ExtractionCompleted,
    ImageInfo,
    ModelInfo,
    Region,
    Timings,
    Usage,
    encode,
)

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
_VOCABULARY = (
    "invoice total subtotal tax net gross amount due date order customer account number "
    "reference item quantity unit price description payment card visa cash change receipt "
    "store street road avenue city postcode phone email thank you please keep this copy "
    "delivery shipping address name signature approved department form section page of "
    "patient sample result normal range units report lab doctor clinic value test batch"
)
WORDS = tuple(_VOCABULARY.split())


def result_event(i: int, rng: random.Random) -> ExtractionCompleted:
    """One OCR result as the service publishes it: text, a region per line, timings, usage."""
    lines, regions = [], []
    width, height = 1240, 1754
    for n in range(rng.randint(10, 40)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 8))]
        if rng.random() < 0.6:
            words.append(f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}")
        line = " ".join(words).upper() if rng.random() < 0.2 else " ".join(words)
        lines.append(line)
        top = 40 + n * 40
        box = (60, top, 60 + 14 * len(line), top + 32)
        regions.append(
            Region(
                image_index=0,
                label=line,
                box_px=box,
                box_norm=(
                    box[0] * 999 // width,
                    box[1] * 999 // height,
                    box[2] * 999 // width,
                    box[3] * 999 // height,
                ),
            )
        )
    request_id = f"bench-{i:06d}-{uuid.uuid4().hex[:8]}"
    return ExtractionCompleted(
        event_id=uuid.uuid4().hex,
        request_id=request_id,
        occurred_at=datetime.now(UTC),
        model=ModelInfo(name="rapidocr-ppocr", revision="3.4", engine="rapidocr", backend="cpu"),
        task="ocr",
        images=(
            ImageInfo(
                uri=f"s3://scans/inbox/{request_id}.jpg",
                width=width,
                height=height,
                layout="tiled",
                tiles_w=2,
                tiles_h=3,
                image_tokens=211 + 14 * 3 * (14 * 2 + 1),
            ),
        ),
        text="\n".join(lines),
        regions=tuple(regions),
        usage=Usage(input_tokens=1500, output_tokens=len(lines) * 12),
        finish_reason="stop",
        timings_ms=Timings(queued=3.1, fetch=21.4, preprocess=48.0, infer=612.5, total=690.2),
        prompt_version="rapidocr-1",
        attributes={"tenant": "acme", "source": "scanner-7"},
        trace_id=uuid.uuid4().hex,
    )


@dataclass(frozen=True)
class CodecRow:
    codec: str
    shape: str
    events: int
    event_bytes: float
    """Mean encoded event (JSON) size."""
    stored_bytes_per_event: float | None
    """Broker log bytes per event, batch headers included (None: broker not the dev stack)."""
    cpu_us_per_event: float
    """Producer process CPU per event, this codec included."""


async def _produce(
    kafka: str, topic: str, codec: str, values: list[bytes], pipelined: bool
) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        compression_type=None if codec == "none" else codec,
    )
    await producer.start()
    try:
        started = time.process_time()
        if pipelined:
            futures = [await producer.send(topic, value=v, key=v[:16]) for v in values]
            await asyncio.gather(*futures)
        else:
            for value in values:
                await producer.send_and_wait(topic, value=value, key=value[:16])
        return time.process_time() - started
    finally:
        await producer.stop()


async def measure(kafka: str, *, pipelined_events: int, single_events: int) -> list[CodecRow]:
    """One row per codec and load shape, all on the same events."""
    rng = random.Random(7)  # noqa: S311  # reproducible data, not cryptography
    values = [encode(result_event(i, rng)) for i in range(max(pipelined_events, single_events))]
    tag = uuid.uuid4().hex[:8]
    shapes = {"pipelined": pipelined_events, "one at a time": single_events}
    topics = {
        (c, s): f"bench.{tag}.compress.{c}.{s.replace(' ', '-')}" for c in CODECS for s in shapes
    }
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(t, num_partitions=1, replication_factor=1) for t in topics.values()]
        )
    finally:
        await admin.close()
    rows = []
    for (codec, shape), topic in topics.items():
        n = shapes[shape]
        cpu_s = await _produce(kafka, topic, codec, values[:n], shape == "pipelined")
        batches = stored_batches(topic)
        stored = sum(b.size_bytes for b in batches) / n if batches else None
        rows.append(
            CodecRow(
                codec=codec,
                shape=shape,
                events=n,
                event_bytes=sum(len(v) for v in values[:n]) / n,
                stored_bytes_per_event=stored,
                cpu_us_per_event=cpu_s / n * 1e6,
            )
        )
    return rows


def render(rows: list[CodecRow]) -> list[str]:
    """The docs/benchmarks.md section: size and CPU of each codec against none."""
    base = {r.shape: r for r in rows if r.codec == "none"}
    lines = [
        "",
        "## Compression of result events",
        "",
        f"Realistic OCR result events (mean {rows[0].event_bytes:.0f} B of JSON) produced as the "
        "sink produces them (bench/compression.py); bytes as the broker stored them; CPU of the "
        "producing process. `VL2INGEST_KAFKA__COMPRESSION_TYPE` picks the codec.",
        "",
        "| load | codec | events | stored B/event | vs none | producer CPU µs/event | vs none |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ref = base[row.shape]
        if row.stored_bytes_per_event is None or ref.stored_bytes_per_event is None:
            size, ratio = "n/a", "n/a"
        else:
            size = f"{row.stored_bytes_per_event:.0f}"
            ratio = f"{row.stored_bytes_per_event / ref.stored_bytes_per_event:.2f}"
        lines.append(
            f"| {row.shape} | {row.codec} | {row.events} | {size} | {ratio} | "
            f"{row.cpu_us_per_event:.0f} | {row.cpu_us_per_event / ref.cpu_us_per_event:.2f} |"
        )
    return lines
