"""S3 event-notification records as input, in the dialects real S3 servers send.

A bucket whose notifications go to the requests topic turns every upload into a request: one
request per ``ObjectCreated:*`` record, with a request_id derived deterministically from the
object's identity so that a redelivered notification is recognisably the same request.
Only the fields we read are declared; everything else in the record is ignored.

Dialects (see the README, "S3 event notifications"):

- AWS writes ``"eventName": "ObjectCreated:Put"`` and URL-encodes the object key as a form value
  (a space becomes ``+``, ``+`` becomes ``%2B``); its test event is a bare
  ``{"Service": "Amazon S3", "Event": "s3:TestEvent", ...}``.
- MinIO writes ``"s3:ObjectCreated:Put"``, encodes the key the same way, and adds top-level
  ``EventName`` and ``Key`` fields next to ``Records``.
- versitygw writes ``"s3:ObjectCreated:Put"`` and sends the key raw (``inbox/a b+1.jpg``); its
  test event is ``{"Service": "S3", "Event": "s3:TestEvent", ...}``.

No field says which server sent a record, so under the default key encoding ``auto`` the key is
decoded as AWS specifies and, where the raw text differs, the raw key is kept as a second candidate
to try when the decoded one does not exist.
"""

from __future__ import annotations

import hashlib
from typing import Literal
from urllib.parse import unquote_plus

import msgspec

from vl2ingest_events.inbound import ExtractionRequested, ImageRef, Task

KeyEncoding = Literal["auto", "url", "raw"]
"""How notification keys are written: ``url`` (AWS, MinIO), ``raw`` (versitygw), or ``auto``
(decode as AWS does; fall back to the key as sent if the decoded object does not exist)."""

SkipReason = Literal["test_event", "ignored_event", "no_records"]
"""Why a notification yields no request: a server's test event, an event kind other than
``ObjectCreated:*`` (removals, tagging, ACLs), or a ``Records`` list with nothing in it."""

_CREATED = "ObjectCreated:"
_TEST_EVENT = "s3:TestEvent"
_TEST_KIND = "TestEvent"


class S3Bucket(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class S3Object(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    """URL-encoded by AWS and MinIO (spaces as ``+``), raw from versitygw."""
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

    @property
    def event_kind(self) -> str:
        """The event name without the ``s3:`` prefix some servers write (``ObjectCreated:Put``)."""
        return self.eventName.removeprefix("s3:")

    @property
    def is_object_created(self) -> bool:
        return self.event_kind.startswith(_CREATED)


class S3EventNotification(msgspec.Struct, frozen=True, kw_only=True):
    Records: tuple[S3EventRecord, ...] = ()


class S3TestEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What AWS and versitygw send once when notifications are configured: not a request."""

    Event: str
    Service: str | None = None
    Bucket: str | None = None
    Time: str | None = None

    @property
    def is_test_event(self) -> bool:
        return self.Event == _TEST_EVENT


class NotificationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request from one ``ObjectCreated`` record, with other spellings of its object key."""

    request: ExtractionRequested
    alternate_keys: tuple[str, ...] = ()
    """Keys to try, in order, if the request's own key does not exist (``auto`` encoding)."""


class SkippedRecord(msgspec.Struct, frozen=True, kw_only=True):
    reason: SkipReason
    event_name: str = ""
    index: int = 0
    """Position of the record in ``Records``."""


class NotificationOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one notification yields: requests to run and records skipped on purpose."""

    requests: tuple[NotificationRequest, ...] = ()
    skipped: tuple[SkippedRecord, ...] = ()


def request_id_for_object(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Deterministic request id for one object version: ``s3-`` + 40 hex digits. ``key`` is the
    notification's key field as the server sent it (encoded or raw)."""
    identity = "\x00".join((bucket, key, version_id or "", (etag or "").strip('"')))
    return "s3-" + hashlib.sha256(identity.encode()).hexdigest()[:40]


def candidate_keys(key: str, encoding: KeyEncoding) -> tuple[str, ...]:
    """The object keys a notification's ``key`` field may mean, most likely first."""
    if encoding == "raw":
        return (key,)
    decoded = unquote_plus(key)
    if encoding == "url" or decoded == key:
        return (decoded,)
    return (decoded, key)


def requests_from_notification(
    notification: S3EventNotification | S3TestEvent,
    *,
    task: Task,
    key_encoding: KeyEncoding = "auto",
) -> NotificationOutcome:
    """One request per ``ObjectCreated:*`` record; every other record is a named skip."""
    if isinstance(notification, S3TestEvent):
        return NotificationOutcome(
            skipped=(SkippedRecord(reason="test_event", event_name=notification.Event),)
        )
    if not notification.Records:
        return NotificationOutcome(skipped=(SkippedRecord(reason="no_records"),))
    requests: list[NotificationRequest] = []
    skipped: list[SkippedRecord] = []
    for index, record in enumerate(notification.Records):
        if not record.is_object_created:
            reason: SkipReason = (
                "test_event" if record.event_kind == _TEST_KIND else "ignored_event"
            )
            skipped.append(SkippedRecord(reason=reason, event_name=record.eventName, index=index))
            continue
        requests.append(_request_of(record, task=task, key_encoding=key_encoding))
    return NotificationOutcome(requests=tuple(requests), skipped=tuple(skipped))


def _request_of(
    record: S3EventRecord, *, task: Task, key_encoding: KeyEncoding
) -> NotificationRequest:
    bucket, sent = record.s3.bucket.name, record.s3.object.key
    key, *alternates = candidate_keys(sent, key_encoding)
    version = record.s3.object.versionId or None
    return NotificationRequest(
        request=ExtractionRequested(
            # From the key as sent, not as interpreted: the id of a redelivered record never
            # depends on the key-encoding setting.
            request_id=request_id_for_object(bucket, sent, version, record.s3.object.eTag),
            images=(ImageRef(uri=f"s3://{bucket}/{key}", version_id=version),),
            task=task,
            attributes={"source": "s3-event", "s3.event_name": record.eventName},
        ),
        alternate_keys=tuple(alternates),
    )
