"""Bad input and failing dependencies: every request gets a classified outcome, nothing dies."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.faults.harness import (
    DevStack,
    Scenario,
    Tally,
    produce_many,
)
from tests.support.stack import Topics, consume, fresh_topics

from vl2ingest_events import (
    ExtractionRequested,
    ImageRef,
    InboundDecodeError,
    decode_inbound,
    encode,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]


def _request(request_id: str, uri: str, **extra: Any) -> bytes:
    return encode(ExtractionRequested(request_id=request_id, images=(ImageRef(uri=uri),), **extra))


def hypothesis_garbage(n: int) -> list[bytes]:
    """``n`` distinct hypothesis-generated inbound values (raw bytes, text, and JSON of any
    shape) that are not valid requests; derandomized, so the corpus is the same every run."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
    values = st.one_of(
        st.binary(max_size=400),
        st.text(max_size=200).map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
    )
    found: dict[bytes, None] = {}

    @settings(max_examples=n * 4, database=None, derandomize=True, phases=[Phase.generate])
    @given(values)
    def collect(value: bytes) -> None:
        try:
            decode_inbound(value)
        except InboundDecodeError:
            found.setdefault(value, None)  # only what really is invalid

    collect()
    return list(found)[:n]


def poison_corpus(s3_client: Any, bucket: str) -> dict[str, tuple[bytes, str]]:
    """request key -> (record value, expected error code)."""
    jpeg = io.BytesIO()
    Image.new("RGB", (300, 200), (9, 99, 199)).save(jpeg, format="JPEG")
    png = io.BytesIO()
    Image.new("RGB", (300, 200), (9, 99, 199)).save(png, format="PNG")
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")  # 144 Mpx, a few KB
    objects = {
        "zero.png": b"",
        "corrupt.jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 3],
        "corrupt.png": png.getvalue()[:80],
        "bomb.png": bomb.getvalue(),
        "huge.bin": b"\0" * (51 * 1024 * 1024),
        "text-named.jpg": b"this is a text file with a .jpg name",
    }
    for key, body in objects.items():
        s3_client.put_object(Bucket=bucket, Key=f"poison/{key}", Body=body)
    corpus: dict[str, tuple[bytes, str]] = {}
    for i, garbage in enumerate(hypothesis_garbage(30)):
        corpus[f"garbage-{i}"] = (garbage, "invalid_request")
    valid = _request("x", f"s3://{bucket}/img/00.png")
    corpus["truncated-json"] = (valid[: len(valid) // 2], "invalid_request")
    corpus["wrong-types"] = (
        b'{"type":"extraction.requested","request_id":5,"images":"s3://x/y"}',
        "invalid_request",
    )
    corpus["huge-string"] = (
        msgspec.json.encode(
            {
                "type": "extraction.requested",
                "request_id": "h" * 200_000,
                "images": [{"uri": f"s3://{bucket}/img/00.png"}],
            }
        ),
        "invalid_request",
    )
    corpus["file-uri"] = (
        _request("file-uri", "s3://x/y").replace(b"s3://x/y", b"file:///etc/passwd"),
        "invalid_request",
    )
    corpus["http-uri"] = (
        _request("http-uri", "s3://x/y").replace(b"s3://x/y", b"http://127.0.0.1/a"),
        "invalid_request",
    )
    corpus["forbidden-bucket"] = (
        _request("forbidden-bucket", "s3://not-ours/a.png"),
        "bucket_not_allowed",
    )
    corpus["dot-segments"] = (_request("dot-segments", f"s3://{bucket}/a/../../etc"), "invalid_uri")
    corpus["missing"] = (_request("missing", f"s3://{bucket}/poison/nope.png"), "object_not_found")
    expected_for_object = {
        "zero.png": "image_undecodable",
        "corrupt.jpg": "image_undecodable",
        "corrupt.png": "image_undecodable",
        "bomb.png": "image_too_many_pixels",
        "huge.bin": "object_too_large",
        "text-named.jpg": "image_undecodable",
    }
    for key, code in expected_for_object.items():
        corpus[key] = (_request(key, f"s3://{bucket}/poison/{key}"), code)
    return corpus


async def _run_until_done(
    scenario: Scenario, env: dict[str, str], name: str, topics: Topics, expected: int
) -> tuple[Tally, int]:
    """Run the service until ``expected`` outcomes; check it is still alive; stop it."""
    async with scenario.tally(topics) as seen:
        with scenario.service(env, name) as service:
            await seen.outcomes(expected)
            assert service.process is not None
            assert service.process.poll() is None, "the service died"
            code = service.terminate()
    return seen, code


async def test_poison_corpus_is_classified_and_good_traffic_flows(scenario: Scenario) -> None:
    """Hypothesis-generated garbage, truncated JSON, wrong types, huge strings, foreign buckets,
    file:// and http:// URIs, empty, corrupt, bomb and 50 MB objects each yield their classified
    failure and a DLQ record, interleaved good requests all complete, the process never dies."""
    corpus = poison_corpus(scenario.s3_client, scenario.bucket)
    good = scenario.requests(2000)
    async with fresh_topics(scenario.kafka) as clean:  # the same good traffic without poison
        await produce_many(scenario.kafka, clean.requests, good)
        baseline, _ = await _run_until_done(
            scenario, scenario.env(clean), "clean", clean, len(good)
        )
    records: list[tuple[bytes, bytes]] = []
    poison = [(key.encode(), value) for key, (value, _) in corpus.items()]
    for i, record in enumerate(good):
        records.append(record)
        if i % 45 == 0 and poison:
            records.append(poison.pop())
    records.extend(poison)
    await produce_many(scenario.kafka, scenario.topics.requests, records)
    seen, code = await _run_until_done(
        scenario, scenario.env(), "service", scenario.topics, len(good) + len(corpus)
    )
    dead = await consume(scenario.kafka, scenario.topics.dlq, len(corpus), timeout_s=60)
    assert code == 0
    assert {k: seen.failed_codes.get(k) for k in corpus} == {k: c for k, (_, c) in corpus.items()}
    assert all(f"r-{i:05d}" in seen.events for i in range(len(good)))
    assert not any(k.startswith("r-") for k in seen.failed_codes)
    assert len(dead) == len(corpus)
    assert all(d.headers["vl2ingest-dlq-error-code"] for d in dead)
    # Good traffic keeps its pace: results/s with poison mixed in vs the clean run (a generous
    # bound, since this 2-core machine is shared; the figure itself goes into the report).
    ratio = seen.good_rate / baseline.good_rate
    assert ratio > 0.5
    scenario.report(
        "poison corpus mixed into good traffic",
        len(records),
        seen,
        poison_records=len(corpus),
        DLQ_records=len(dead),
        good_completed=len(good),
        results_per_s_clean=f"{baseline.good_rate:.0f}",
        results_per_s_with_poison=f"{seen.good_rate:.0f}",
        ratio=f"{ratio:.2f}",
        process_died="no",
    )


async def test_s3_outage_of_20_s_is_retried_not_dead_lettered(scenario: Scenario) -> None:
    """With the S3 server stopped for 20 s mid-stream, every request still completes: transient
    failures are retried with back-off, none is dead-lettered."""
    stack = DevStack()
    n = 800
    await scenario.queue_requests(n)
    env = scenario.env(
        VL2INGEST_TEST_ENGINE_BATCH_S="0.05",
        VL2INGEST_S3__CONNECT_TIMEOUT_S="1",
        VL2INGEST_S3__MAX_ATTEMPTS="1",
    )
    async with scenario.tally() as seen:
        with scenario.service(env, "svc") as service:
            try:
                await seen.outcomes(n // 5, what="a fifth of the results before the outage")
                stack.stop_s3()
                outage_started = time.monotonic()
                at_outage = len(seen.events)
                await asyncio.sleep(20)
                stack.start()
                outage_s = time.monotonic() - outage_started
                await seen.outcomes(n, what="an outcome for every request after the outage")
                assert service.terminate() == 0
            finally:
                stack.start()  # the S3 server comes back whatever happened
    scenario.report(
        "S3 server stopped for 20 s",
        n,
        seen,
        outage=f"{outage_s:.1f} s",
        outcomes_before_outage=at_outage,
        dead_lettered=len(seen.failed_codes),
    )
    assert seen.failed_codes == {}
    assert len(seen.events) == n


async def test_broker_restart_mid_stream_loses_nothing(scenario: Scenario) -> None:
    """Kafka itself is killed and restarted mid-stream; the service rides it out (or is
    restarted, as Kubernetes would, if it exits): every request gets an outcome."""
    stack = DevStack()
    n = 800
    await scenario.queue_requests(n)
    env = scenario.env(VL2INGEST_TEST_ENGINE_BATCH_S="0.05")
    restarts = 0
    async with scenario.tally() as seen:
        with scenario.service(env, "svc") as service:
            try:
                await seen.outcomes(n // 5, what="a fifth of the results before the restart")
                stack.stop_kafka()
                stopped = time.monotonic()
                await asyncio.sleep(3)
                stack.start()
                broker_down_s = time.monotonic() - stopped
                deadline = time.monotonic() + 300
                while len(seen.events) < n:
                    assert time.monotonic() < deadline, "timed out waiting for every outcome"
                    if service.process is not None and service.process.poll() is not None:
                        restarts += 1  # what Kubernetes would do
                        service.start()
                    await asyncio.sleep(0.2)
                assert service.terminate() == 0
            finally:
                stack.start()  # the broker comes back whatever happened
    scenario.report(
        "Kafka broker killed and restarted",
        n,
        seen,
        broker_down=f"{broker_down_s:.1f} s",
        service_restarts=restarts,
        dead_lettered=len(seen.failed_codes),
    )
    assert seen.failed_codes == {}
    assert len(seen.events) == n


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


async def test_large_images_keep_memory_bounded(scenario: Scenario) -> None:
    """Thirty requests for a ~45 MB image, with 16 parallel fetches allowed: the fetch byte
    budget (96 MiB) holds downloads back, so the process's peak memory stays bounded (the same
    run with an unlimited budget peaked at 1637 MiB on the 2-core dev machine)."""
    side = 3900  # 3900x3900 RGB noise: ~45 MB as an uncompressed PNG, 15.2 Mpx
    rng = random.Random(7)  # reproducible noise, not cryptography
    noise = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG", compress_level=0)
    size_mib = len(buffer.getvalue()) / 2**20
    scenario.s3_client.put_object(
        Bucket=scenario.bucket, Key="big/noise.png", Body=buffer.getvalue()
    )
    del noise, buffer
    n = 30
    records = [
        (f"big-{i}".encode(), _request(f"big-{i}", f"s3://{scenario.bucket}/big/noise.png"))
        for i in range(n)
    ]
    await produce_many(scenario.kafka, scenario.topics.requests, records)
    env = scenario.env(
        VL2INGEST_PIPELINE__MAX_FETCHED_BYTES=str(96 * 2**20),
        VL2INGEST_S3__FETCH_CONCURRENCY="16",
    )
    async with scenario.tally() as seen:
        with scenario.service(env, "svc") as service:
            await seen.outcomes(n)
            assert service.process is not None
            peak_mib = _peak_rss_mib(service.process.pid)
            assert service.terminate() == 0
    scenario.report(
        "30 requests for a 45 MB image, 16 parallel fetches",
        n,
        seen,
        object=f"{size_mib:.0f} MiB",
        fetch_budget="96 MiB",
        peak_RSS=f"{peak_mib:.0f} MiB",
        failed=len(seen.failed_codes),
    )
    assert seen.failed_codes == {}
    # Unbounded, 16 parallel 45 MB downloads alone would hold ~720 MB.
    assert peak_mib < 600
