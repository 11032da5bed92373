"""The wire contract: codecs, S3 notifications, evolution rules, committed JSON Schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from vl2ingest_events import (
    ErrorInfo,
    ExtractionCompleted,
    ExtractionFailed,
    ExtractionRequested,
    ImageInfo,
    ImageRef,
    InboundDecodeError,
    ModelInfo,
    Region,
    S3EventNotification,
    Timings,
    Usage,
    decode_inbound,
    decode_result,
    encode,
    requests_from_notification,
)
from vl2ingest_events.jsonschema import render

SCHEMA_DIR = Path(__file__).parents[2] / "schemas" / "jsonschema"
MODEL = ModelInfo(name="m", revision="r", engine="e", backend="b")


def test_request_round_trips_and_ignores_unknown_fields() -> None:
    """A request decodes from JSON with extra unknown fields (lenient inbound evolution)."""
    raw = (
        b'{"type":"extraction.requested","request_id":"a","images":[{"uri":"s3://b/k.png"}],'
        b'"task":"ocr","from_the_future":{"x":1}}'
    )
    request = decode_inbound(raw)
    assert isinstance(request, ExtractionRequested)
    assert request.images == (ImageRef(uri="s3://b/k.png"),)
    assert decode_inbound(encode(request)) == request


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "Expected `object`"),
        (b"{}", "neither"),
        (
            b'{"type":"extraction.requested","request_id":"","images":[{"uri":"s3://b/k"}]}',
            "request_id",
        ),
        (b'{"type":"extraction.requested","request_id":"a","images":[]}', "images"),
        (
            b'{"type":"extraction.requested","request_id":"a","images":[{"uri":"http://x/y"}]}',
            "uri",
        ),
        (
            b'{"type":"extraction.requested","request_id":"a","images":[{"uri":"s3://b/k"}],'
            b'"task":"dance"}',
            "task",
        ),
        (
            b'{"type":"extraction.requested","request_id":"a","images":'
            + b"["
            + b",".join([b'{"uri":"s3://b/k"}'] * 17)
            + b"]}",
            "images",
        ),
        (b'{"type":"extraction.deleted"}', "unknown event type"),
    ],
)
def test_invalid_inbound_is_rejected_with_a_reason(raw: bytes, fragment: str) -> None:
    """Malformed requests raise InboundDecodeError whose message names the problem."""
    with pytest.raises(InboundDecodeError, match=fragment):
        decode_inbound(raw)


def test_result_events_round_trip_with_tags() -> None:
    """Completed and failed events encode with their tag and decode back to equal values."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    completed = ExtractionCompleted(
        event_id="e",
        request_id="a",
        occurred_at=now,
        model=MODEL,
        task="ocr",
        images=(
            ImageInfo(
                uri="s3://b/k",
                width=10,
                height=20,
                layout="tiled",
                tiles_w=1,
                tiles_h=1,
                image_tokens=421,
            ),
        ),
        text="hi",
        regions=(
            Region(image_index=0, label="hi", box_px=(0, 0, 5, 5), box_norm=(0, 0, 499, 249)),
        ),
        usage=Usage(input_tokens=1, output_tokens=2),
        finish_reason="length",
        timings_ms=Timings(queued=0, fetch=1, preprocess=2, infer=3, total=6),
    )
    failed = ExtractionFailed(
        event_id="f",
        request_id="a",
        occurred_at=now,
        model=MODEL,
        error=ErrorInfo(code="object_not_found", message="m", retryable=False, attempts=1),
    )
    for event in (completed, failed):
        data = encode(event)
        assert msgspec.json.decode(data)["type"] == type(event).__struct_config__.tag
        assert decode_result(data) == event


def test_s3_notification_request_ids_are_deterministic_and_keys_unquoted() -> None:
    """The same object version always maps to the same request id; '+' in keys means space."""
    raw = (
        b'{"Records":[{"eventName":"ObjectCreated:Put","eventSource":"aws:s3",'
        b'"s3":{"bucket":{"name":"bkt"},"object":{"key":"a+b%2Fc.png","eTag":"\\"x\\"",'
        b'"versionId":"v1","size":3}}}]}'
    )
    notification = decode_inbound(raw)
    assert isinstance(notification, S3EventNotification)
    first = requests_from_notification(notification, task="ocr")
    second = requests_from_notification(notification, task="ocr")
    assert first == second
    (work,) = first.requests
    request = work.request
    assert request.images[0].uri == "s3://bkt/a b/c.png"
    assert request.images[0].version_id == "v1"
    assert request.request_id.startswith("s3-")
    assert len(request.request_id) == 43


def test_committed_json_schema_matches_the_structs() -> None:
    """The committed JSON Schema equals the generated one (run `make schemas` after a change)."""
    generated = render()
    committed = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.schema.json")}
    assert committed == generated
