"""S3 event notifications in the dialects real servers send (AWS, MinIO, versitygw).

The fixtures under ``fixtures/s3_events/`` were written from each server's documented format
(AWS's event message structure, MinIO's Kafka target, versitygw's ``s3event`` package) and the
versitygw ones checked against what versitygw 1.7 really publishes (tests/integration).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from vl2ingest_events import (
    S3EventNotification,
    S3TestEvent,
    decode_inbound,
    requests_from_notification,
)
from vl2ingest_events.s3_notification import candidate_keys, request_id_for_object

FIXTURES = Path(__file__).parent / "fixtures" / "s3_events"
KEY = "inbox/sign photo+1.jpg"

AWKWARD_KEYS = [
    "plain.png",
    "with space.png",
    "plus+sign.png",
    "sign photo+1.jpg",
    "100%.png",
    "already%20encoded.png",
    "percent%2Bplus.png",
    "ünïcødé/画像 スキャン.png",
    "deep/a/b/c/d/e/f/g/h/scan.tiff",
    "odd !'()*&$@=;:,?#[]~.png",
]


def outcome_of(name: str, **kwargs: object):  # type: ignore[no-untyped-def]
    inbound = decode_inbound((FIXTURES / name).read_bytes())
    assert isinstance(inbound, S3EventNotification | S3TestEvent)
    return requests_from_notification(inbound, task="ocr", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    ["aws-object-created.json", "minio-object-created.json", "versitygw-object-created.json"],
)
def test_every_dialect_yields_one_request_for_the_same_object(name: str) -> None:
    """AWS ('ObjectCreated:Put', encoded key), MinIO ('s3:' prefix, encoded key, extra top-level
    fields) and versitygw ('s3:' prefix, raw key) each yield one request whose candidate keys
    include the real key."""
    outcome = outcome_of(name)
    assert outcome.skipped == ()
    (work,) = outcome.requests
    request = work.request
    candidates = [request.images[0].uri.removeprefix("s3://scans/"), *work.alternate_keys]
    assert KEY in candidates
    assert request.task == "ocr"
    assert request.attributes["source"] == "s3-event"
    assert request.request_id.startswith("s3-")


def test_encoded_dialects_resolve_without_a_second_try() -> None:
    """For AWS and MinIO the decoded key is the first candidate, so the first GET finds it."""
    for name in ("aws-object-created.json", "minio-object-created.json"):
        (work,) = outcome_of(name).requests
        assert work.request.images[0].uri == f"s3://scans/{KEY}"


def test_versitygw_raw_key_is_tried_after_the_decoded_one() -> None:
    """versitygw's raw key 'sign photo+1.jpg' decodes to 'sign photo 1.jpg'; the raw key stays
    as the fallback, and is the only key under key_encoding=raw."""
    (auto,) = outcome_of("versitygw-object-created.json").requests
    assert auto.request.images[0].uri == "s3://scans/inbox/sign photo 1.jpg"
    assert auto.alternate_keys == (KEY,)
    (raw,) = outcome_of("versitygw-object-created.json", key_encoding="raw").requests
    assert raw.request.images[0].uri == f"s3://scans/{KEY}"
    assert raw.alternate_keys == ()


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_survive_aws_encoding(key: str) -> None:
    """A key encoded as AWS does (form encoding, '/' kept) decodes to exactly that key first."""
    encoded = quote_plus(key, safe="/")
    assert candidate_keys(encoded, "auto")[0] == key
    assert candidate_keys(encoded, "url") == (key,)


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_survive_minio_encoding(key: str) -> None:
    """MinIO's query escaping ('/' as %2F too) decodes to exactly that key first."""
    assert candidate_keys(quote_plus(key, safe=""), "auto")[0] == key


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_survive_raw_sending(key: str) -> None:
    """A key sent raw (versitygw) is among the auto candidates, and is the key under raw."""
    assert key in candidate_keys(key, "auto")
    assert candidate_keys(key, "raw") == (key,)


def test_percent_encoded_path_style_keys_decode() -> None:
    """A key with %20 (path-style encoding, as some proxies re-encode) decodes to a space."""
    assert candidate_keys(quote("with space.png"), "auto")[0] == "with space.png"


@pytest.mark.parametrize("name", ["aws-test-event.json", "versitygw-test-event.json"])
def test_test_events_are_skips_not_failures(name: str) -> None:
    """The bare test events of AWS and versitygw decode, and yield one 'test_event' skip."""
    outcome = outcome_of(name)
    assert outcome.requests == ()
    assert [s.reason for s in outcome.skipped] == ["test_event"]


def test_other_event_kinds_are_skipped_by_name() -> None:
    """A removal is skipped on purpose as 'ignored_event', naming the event."""
    outcome = outcome_of("aws-object-removed.json")
    assert outcome.requests == ()
    ((skip),) = outcome.skipped
    assert (skip.reason, skip.event_name) == ("ignored_event", "ObjectRemoved:Delete")


def test_mixed_records_keep_created_and_name_the_rest() -> None:
    """In one notification, created records become requests and the others named skips."""
    created = json.loads((FIXTURES / "versitygw-object-created.json").read_text())["Records"][0]
    removed = json.loads((FIXTURES / "aws-object-removed.json").read_text())["Records"][0]
    test = {**created, "eventName": "s3:TestEvent"}
    raw = json.dumps({"Records": [removed, created, test]}).encode()
    inbound = decode_inbound(raw)
    assert isinstance(inbound, S3EventNotification)
    outcome = requests_from_notification(inbound, task="markdown")
    assert len(outcome.requests) == 1
    assert outcome.requests[0].request.task == "markdown"
    assert [(s.reason, s.index) for s in outcome.skipped] == [
        ("ignored_event", 0),
        ("test_event", 2),
    ]


def test_empty_records_is_a_named_skip() -> None:
    """'{"Records": []}' yields no request and one 'no_records' skip."""
    inbound = decode_inbound(b'{"Records": []}')
    assert isinstance(inbound, S3EventNotification)
    outcome = requests_from_notification(inbound, task="ocr")
    assert outcome.requests == ()
    assert [s.reason for s in outcome.skipped] == ["no_records"]


def test_request_id_comes_from_the_key_as_sent() -> None:
    """The id is the object's identity with the key exactly as the server sent it, so it does
    not depend on the key-encoding setting, and a redelivered record gets the same id."""
    (aws,) = outcome_of("aws-object-created.json").requests
    assert aws.request.request_id == request_id_for_object(
        "scans",
        "inbox/sign+photo%2B1.jpg",
        "096fKKXTRTtl3on89fVO.nfljtsv6qko",
        "d41d8cd98f00b204e9800998ecf8427e",
    )
    (auto,) = outcome_of("versitygw-object-created.json").requests
    (raw,) = outcome_of("versitygw-object-created.json", key_encoding="raw").requests
    assert auto.request.request_id == raw.request.request_id
    assert outcome_of("aws-object-created.json") == outcome_of("aws-object-created.json")
