"""Uploads to a real S3 server that publishes its own notifications to Kafka become results.

The producer of the notifications is versitygw itself (its Kafka event target), not a record we
wrote: whatever dialect it really sends is what the service must understand.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.support.http import http_get
from tests.support.notifying_s3 import client_for, notifying_versitygw
from tests.support.stack import (
    Topics,
    committed_offsets,
    end_offsets,
    read_to_end,
    render_text_png,
    results,
    running,
    service_settings,
)

from vl2ingest_events import ExtractionCompleted, ExtractionFailed
from vl2ingest_events.s3_notification import request_id_for_object

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "s3_events"
KEYS = [
    "inbox/plain.png",
    "inbox/sign photo.png",
    "inbox/sign photo+1.png",
    "inbox/100% done.png",
    "inbox/ünïcødé 画像.png",
    "inbox/deep/a/b/c/d/e/scan.png",
]


def shape(value: object) -> object:
    """The field names of a JSON document, nested, without the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__ if value is not None else "null"


def assert_fixtures_match(notes: list[dict[str, Any]]) -> None:
    """The unit tests' versitygw fixtures have the shape of what versitygw really sent."""
    created = next(n for n in notes if "Records" in n)
    test = next(n for n in notes if "Event" in n)
    keys = [n["Records"][0]["s3"]["object"]["key"] for n in notes if "Records" in n]
    assert "inbox/sign photo+1.png" in keys  # sent raw, as the fixture says
    for real, name in (
        (created, "versitygw-object-created.json"),
        (test, "versitygw-test-event.json"),
    ):
        fixture = json.loads((FIXTURES / name).read_text())
        assert shape(real) == shape(fixture), name


async def test_uploads_to_a_notifying_server_all_come_out_as_results(
    kafka: str, topics: Topics, tmp_path: Path, run_timeout: float
) -> None:
    """versitygw publishes its own notifications to the requests topic: every image PUT into an
    allowed bucket (keys with spaces, '+', '%', unicode, deep prefixes) completes under its real
    URI, the PUT into a forbidden bucket fails bucket_not_allowed, the server's test event and a
    removal are skipped and counted, nothing else is produced, and every offset is committed."""
    allowed, forbidden = f"up-{uuid.uuid4().hex[:10]}", f"no-{uuid.uuid4().hex[:10]}"
    with notifying_versitygw(kafka, topics.requests, tmp_path) as s3:
        client = client_for(s3)
        client.create_bucket(Bucket=allowed)
        client.create_bucket(Bucket=forbidden)
        etags = {
            key: client.put_object(
                Bucket=allowed, Key=key, Body=render_text_png([f"SCAN {i}"], size=(420, 120))
            )["ETag"]
            for i, key in enumerate(KEYS)
        }
        forbidden_etag = client.put_object(
            Bucket=forbidden, Key="x.png", Body=render_text_png(["NO"], size=(200, 100))
        )["ETag"]
        client.delete_object(Bucket=forbidden, Key="x.png")

        expected_ids = {request_id_for_object(allowed, k, None, e): k for k, e in etags.items()}
        forbidden_id = request_id_for_object(forbidden, "x.png", None, forbidden_etag)
        settings = service_settings(kafka, s3, topics, [allowed])
        async with running(settings) as service:
            events = await results(kafka, topics.results, len(KEYS) + 1, timeout_s=run_timeout)
            assert service.health_port is not None
            _, metrics = await http_get(service.health_port, "/metrics")
    requests = await read_to_end(kafka, topics.requests)
    produced = await read_to_end(kafka, topics.results)
    dead = await read_to_end(kafka, topics.dlq)
    offsets = await committed_offsets(kafka, topics.group, topics.requests)
    ends = await end_offsets(kafka, topics.requests)

    notes = [json.loads(r.value) for r in requests]
    assert sum(1 for n in notes if n.get("Event") == "s3:TestEvent") == 1, notes
    assert len(notes) == len(KEYS) + 3  # test event, 6 + 1 PUTs, 1 DELETE
    assert_fixtures_match(notes)

    assert len(produced) == len(events) == len(KEYS) + 1  # nothing else was produced
    completed = {e.request_id: e for e in events if isinstance(e, ExtractionCompleted)}
    failed = {e.request_id: e for e in events if isinstance(e, ExtractionFailed)}
    assert set(completed) == set(expected_ids)
    for request_id, event in completed.items():
        assert event.images[0].uri == f"s3://{allowed}/{expected_ids[request_id]}"
        assert "SCAN" in event.text
    assert {i: e.error.code for i, e in failed.items()} == {forbidden_id: "bucket_not_allowed"}
    assert len(dead) == 1
    assert b'vl2ingest_records_skipped_total{reason="test_event"} 1.0' in metrics
    assert b'vl2ingest_records_skipped_total{reason="ignored_event"} 1.0' in metrics
    assert offsets == {p: end for p, end in ends.items() if end > 0}  # committed to the end
