"""AWS S3 event-notification records as input.

A bucket whose notifications go to the requests topic turns every upload into a request: one
request per ``ObjectCreated:*`` record, with a request_id derived deterministically from the
object's identity so that a redelivered notification is recognisably the same request.
Only the fields we read are declared; everything else in the record is ignored.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote_plus

import msgspec

from vl2ingest_events.inbound import ExtractionRequested, ImageRef, Task


class S3Bucket(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class S3Object(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    """URL-encoded as AWS sends it (spaces as ``+``)."""
    size: int | None = None
    eTag: str | None = None
    versionId: str | None = None


class S3Entity(msgspec.Struct, frozen=True, kw_only=True):
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    eventName: str
    s3: S3Entity
    eventSource: str = "aws:s3"
    eventTime: str | None = None


class S3EventNotification(msgspec.Struct, frozen=True, kw_only=True):
    Records: tuple[S3EventRecord, ...] = ()


def request_id_for_object(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Deterministic request id for one object version: ``s3-`` + 40 hex digits."""
    identity = "\x00".join((bucket, key, version_id or "", (etag or "").strip('"')))
    return "s3-" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def requests_from_notification(
    notification: S3EventNotification, *, task: Task
) -> list[ExtractionRequested]:
    """One request per ``ObjectCreated:*`` record; other event kinds yield nothing."""
    requests: list[ExtractionRequested] = []
    for record in notification.Records:
        if not record.eventName.startswith("ObjectCreated:"):
            continue
        bucket = record.s3.bucket.name
        key = unquote_plus(record.s3.object.key)
        version = record.s3.object.versionId or None
        requests.append(
            ExtractionRequested(
                request_id=request_id_for_object(bucket, key, version, record.s3.object.eTag),
                images=(ImageRef(uri=f"s3://{bucket}/{key}", version_id=version),),
                task=task,
                attributes={"source": "s3-event", "s3.event_name": record.eventName},
            )
        )
    return requests
