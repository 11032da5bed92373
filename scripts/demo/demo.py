"""`make demo`: the whole flow on the local dev stack, printed for a person to read.

1. Upload the bundled sample images to a bucket on the S3 server.
2. Publish `extraction.requested` events for them (plus one for a missing object, and one S3
   event-notification record) to the requests topic.
3. Run the real service (`vl2ingest run`) as a child process until every request has a result.
4. Print each result event readably, then stop the service with SIGTERM (it drains and commits).

Endpoints come from the dev stack's VL2INGEST_TEST_* variables, exported by the Makefile.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import boto3
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from botocore.config import Config
from botocore.exceptions import ClientError

from vl2ingest_events import (
    ExtractionCompleted,
    ExtractionRequested,
    ImageRef,
    ResultEvent,
    decode_result,
    encode,
)

SAMPLES = Path(__file__).parent / "samples"
BUCKET = "vl2ingest-demo"
TOPICS = ("vl2ingest.requests", "vl2ingest.results", "vl2ingest.dlq")
TIMEOUT_S = 180


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"demo: {name} is not set; run it with `make demo`")
    return value


def upload(run_id: str) -> list[str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=env("VL2INGEST_TEST_S3"),
        aws_access_key_id=env("VL2INGEST_TEST_S3_ACCESS_KEY"),
        aws_secret_access_key=env("VL2INGEST_TEST_S3_SECRET_KEY"),
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    try:
        s3.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise
    keys = []
    for path in sorted(SAMPLES.iterdir()):
        key = f"{run_id}/{path.name}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        keys.append(key)
        print(f"  uploaded s3://{BUCKET}/{key} ({path.stat().st_size // 1024} KiB)")
    return keys


async def ensure_topics(kafka: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=3, replication_factor=1) for t in TOPICS if t not in existing
        ]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


async def publish(kafka: str, run_id: str, keys: list[str]) -> set[str]:
    records: list[tuple[str, bytes]] = []
    for key in keys:
        request_id = f"demo-{run_id}-{Path(key).stem}"
        event = ExtractionRequested(
            request_id=request_id,
            images=(ImageRef(uri=f"s3://{BUCKET}/{key}"),),
            task="ocr",
            attributes={"source": "make demo"},
        )
        records.append((request_id, encode(event)))
    missing_id = f"demo-{run_id}-missing"
    records.append(
        (
            missing_id,
            encode(
                ExtractionRequested(
                    request_id=missing_id,
                    images=(ImageRef(uri=f"s3://{BUCKET}/{run_id}/no-such.png"),),
                )
            ),
        )
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for request_id, value in records:
            await producer.send_and_wait(TOPICS[0], key=request_id.encode(), value=value)
            print(f"  published {request_id}")
    finally:
        await producer.stop()
    return {request_id for request_id, _ in records}


async def collect(
    kafka: str, wanted: set[str], service: asyncio.subprocess.Process
) -> list[ResultEvent]:
    consumer = AIOKafkaConsumer(
        TOPICS[1],
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: dict[str, ResultEvent] = {}
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while set(found) != wanted:
            if service.returncode is not None:
                sys.exit(f"demo: the service exited early with code {service.returncode}")
            if time.monotonic() > deadline:
                sys.exit(f"demo: timed out; missing results for {sorted(wanted - set(found))}")
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = decode_result(record.value)
                    if event.request_id in wanted:
                        found[event.request_id] = event
    finally:
        await consumer.stop()
    return [found[k] for k in sorted(found)]


def show(event: ResultEvent) -> None:
    print("─" * 78)
    if isinstance(event, ExtractionCompleted):
        image = event.images[0]
        print(
            f"✔ {event.request_id}   completed by {event.model.name} "
            f"({event.model.engine}, {event.model.backend})"
        )
        print(f"  image   {image.uri}  {image.width}x{image.height}")
        print(
            f"  timings fetch {event.timings_ms.fetch:.0f} ms, prepare "
            f"{event.timings_ms.preprocess:.0f} ms, infer {event.timings_ms.infer:.0f} ms, "
            f"total {event.timings_ms.total:.0f} ms"
        )
        print(f"  regions {len(event.regions)}   event_id {event.event_id}")
        print(textwrap.indent(event.text or "(no text found)", "  │ "))
    else:
        print(
            f"✘ {event.request_id}   failed: {event.error.code} (retryable="
            f"{str(event.error.retryable).lower()})"
        )
        print(f"  {event.error.message}")


async def main() -> None:
    kafka = env("VL2INGEST_TEST_KAFKA")
    run_id = time.strftime("%Y%m%d-%H%M%S")
    print("1. uploading the sample images")
    keys = upload(run_id)
    print("2. publishing requests")
    await ensure_topics(kafka)
    wanted = await publish(kafka, run_id, keys)
    print("3. running `vl2ingest run` until every request has a result")
    service_env = {
        **os.environ,
        "VL2INGEST_KAFKA__BOOTSTRAP_SERVERS": kafka,
        "VL2INGEST_KAFKA__GROUP_ID": "vl2ingest-demo",
        "VL2INGEST_S3__ENDPOINT_URL": env("VL2INGEST_TEST_S3"),
        "VL2INGEST_S3__ACCESS_KEY_ID": env("VL2INGEST_TEST_S3_ACCESS_KEY"),
        "VL2INGEST_S3__SECRET_ACCESS_KEY": env("VL2INGEST_TEST_S3_SECRET_KEY"),
        "VL2INGEST_S3__ADDRESSING_STYLE": "path",
        "VL2INGEST_S3__ALLOWED_BUCKETS": BUCKET,
        "VL2INGEST_HEALTH__PORT": "0",
        "VL2INGEST_LOG__FORMAT": "console",
        "VL2INGEST_LOG__LEVEL": "warning",
    }
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vl2ingest.cli", "run", env=service_env
    )
    try:
        events = await collect(kafka, wanted, service)
    finally:
        service.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(service.wait(), timeout=60)
    print("4. results")
    for event in events:
        show(event)
    print("─" * 78)
    completed = sum(isinstance(e, ExtractionCompleted) for e in events)
    print(
        f"{completed} completed, {len(events) - completed} failed; "
        f"the service drained and exited with code {code}"
    )
    print(f"results are on {TOPICS[1]!r}, failed records also on {TOPICS[2]!r}")
    if code != 0:
        sys.exit(code)


if __name__ == "__main__":
    asyncio.run(main())
