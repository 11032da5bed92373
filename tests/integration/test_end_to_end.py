"""The service end to end on the real broker and S3 server, with the real CPU OCR engine."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support.http import http_get
from tests.support.servers import S3Endpoint
from tests.support.stack import (
    Topics,
    committed_offsets,
    consume,
    produce,
    render_text_png,
    results,
    running,
    service_settings,
)

from vl2ingest_events import ExtractionCompleted, ExtractionFailed, ExtractionRequested, ImageRef
from vl2ingest_events import encode as encode_event

pytestmark = pytest.mark.integration


def request(request_id: str, *uris: str, task: str = "ocr") -> bytes:
    return encode_event(
        ExtractionRequested(
            request_id=request_id,
            images=tuple(ImageRef(uri=u) for u in uris),
            task=task,  # type: ignore[arg-type]
            attributes={"suite": "integration"},
        )
    )


async def test_rendered_words_come_back_as_text(
    kafka: str, s3: S3Endpoint, s3_client: Any, bucket: str, topics: Topics, run_timeout: float
) -> None:
    """A request for a rendered image yields one completed event containing the rendered words,
    and the input offset is committed after the result was published."""
    s3_client.put_object(
        Bucket=bucket,
        Key="scans/invoice.png",
        Body=render_text_png(["INVOICE 4711", "TOTAL 42.50 EUR"]),
    )
    await produce(
        kafka, topics.requests, [(b"req-1", request("req-1", f"s3://{bucket}/scans/invoice.png"))]
    )
    settings = service_settings(kafka, s3, topics, [bucket])
    async with running(settings) as service:
        (event,) = await results(kafka, topics.results, 1, timeout_s=run_timeout)
        assert service.health_port is not None
        status, metrics = await http_get(service.health_port, "/metrics")
    assert status == 200
    assert (
        b'vl2ingest_requests_total{backend="onnxruntime-cpu",code="",engine="rapidocr",'
        b'outcome="completed"} 1.0'
    ) in metrics
    assert isinstance(event, ExtractionCompleted), event
    assert event.request_id == "req-1"
    assert "INVOICE" in event.text
    assert "4711" in event.text
    assert "42.50" in event.text
    assert len(event.regions) >= 2
    assert event.images[0].width == 900
    assert event.images[0].height == 300
    assert event.attributes == {"suite": "integration"}
    assert event.model.engine == "rapidocr"
    offsets = await committed_offsets(kafka, topics.group, topics.requests)
    assert sum(offsets.values()) == 1  # one record on one of 3 partitions, committed at 0 + 1


async def test_missing_object_fails_and_is_dead_lettered(
    kafka: str, s3: S3Endpoint, bucket: str, topics: Topics, run_timeout: float
) -> None:
    """A request for an object that does not exist yields extraction.failed(object_not_found)
    and the raw record on the DLQ topic with provenance headers."""
    raw = request("req-missing", f"s3://{bucket}/absent.png")
    await produce(kafka, topics.requests, [(b"req-missing", raw)])
    async with running(service_settings(kafka, s3, topics, [bucket])):
        (event,) = await results(kafka, topics.results, 1, timeout_s=run_timeout)
        (dead,) = await consume(kafka, topics.dlq, 1, timeout_s=run_timeout)
    assert isinstance(event, ExtractionFailed)
    assert event.error.code == "object_not_found"
    assert event.error.retryable is False
    assert dead.value == raw
    assert dead.key == b"req-missing"
    assert dead.headers["vl2ingest-dlq-error-code"] == b"object_not_found"
    assert dead.headers["vl2ingest-dlq-original-topic"] == topics.requests.encode()


async def test_bad_input_is_classified_and_the_service_keeps_going(
    kafka: str, s3: S3Endpoint, s3_client: Any, bucket: str, topics: Topics, run_timeout: float
) -> None:
    """Undecodable bytes, a forbidden bucket and garbage each fail with their own code, and a
    good request sent after them still completes."""
    s3_client.put_object(Bucket=bucket, Key="not-an-image.jpg", Body=b"\xff\xd8 nope")
    s3_client.put_object(Bucket=bucket, Key="ok.png", Body=render_text_png(["HELLO 12"]))
    await produce(
        kafka,
        topics.requests,
        [
            (b"bad-bytes", request("bad-bytes", f"s3://{bucket}/not-an-image.jpg")),
            (b"bad-bucket", request("bad-bucket", "s3://someone-elses-bucket/x.png")),
            (b"garbage", b"{this is not json"),
            (b"good", request("good", f"s3://{bucket}/ok.png")),
        ],
    )
    async with running(service_settings(kafka, s3, topics, [bucket])):
        events = await results(kafka, topics.results, 4, timeout_s=run_timeout)
        dead = await consume(kafka, topics.dlq, 3, timeout_s=run_timeout)
    by_id = {e.request_id: e for e in events}
    codes = {k: v.error.code if isinstance(v, ExtractionFailed) else None for k, v in by_id.items()}
    assert codes == {
        "bad-bytes": "image_undecodable",
        "bad-bucket": "bucket_not_allowed",
        "garbage": "invalid_request",
        "good": None,
    }
    assert "HELLO" in by_id["good"].text  # type: ignore[union-attr]
    assert len(dead) == 3


async def test_s3_event_notification_is_a_request(
    kafka: str, s3: S3Endpoint, s3_client: Any, bucket: str, topics: Topics, run_timeout: float
) -> None:
    """An AWS S3 ObjectCreated notification record for an upload yields a completed event with a
    request id derived from the object, read from the S3 server."""
    put = s3_client.put_object(
        Bucket=bucket, Key="inbox/receipt 7.png", Body=render_text_png(["RECEIPT 990"])
    )
    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-28T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "to-kafka",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": "inbox/receipt+7.png", "size": 1, "eTag": put["ETag"]},
                },
            }
        ]
    }
    await produce(kafka, topics.requests, [(None, json.dumps(notification).encode())])
    async with running(service_settings(kafka, s3, topics, [bucket])):
        (event,) = await results(kafka, topics.results, 1, timeout_s=run_timeout)
    assert isinstance(event, ExtractionCompleted), event
    assert event.request_id.startswith("s3-")
    assert event.images[0].uri == f"s3://{bucket}/inbox/receipt 7.png"
    assert "RECEIPT" in event.text
