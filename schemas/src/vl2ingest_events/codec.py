"""Encoders and decoders, each built once at import and reused for every message."""

from __future__ import annotations

from typing import Final

import msgspec

from vl2ingest_events.inbound import ExtractionRequested
from vl2ingest_events.outbound import ExtractionCompleted, ExtractionFailed, ResultEvent
from vl2ingest_events.s3_notification import S3EventNotification, S3TestEvent

CONTENT_TYPE: Final = "application/json"
SCHEMA_HEADER: Final = "vl2ingest-schema"
"""Kafka header carrying the event's tag, so consumers can route without decoding."""


class InboundDecodeError(ValueError):
    """The inbound bytes are not a valid request: the message is permanently unprocessable."""


class _Probe(msgspec.Struct):
    """Just enough of an inbound document to tell which kind it is."""

    type: str | None = None
    Records: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    Event: str | None = None
    """Set in the bare test events of AWS and versitygw (``"s3:TestEvent"``)."""


_encoder: Final = msgspec.json.Encoder()
_probe_decoder: Final = msgspec.json.Decoder(_Probe)
_request_decoder: Final = msgspec.json.Decoder(ExtractionRequested)
_notification_decoder: Final = msgspec.json.Decoder(S3EventNotification)
_test_event_decoder: Final = msgspec.json.Decoder(S3TestEvent)
_result_decoder: Final[msgspec.json.Decoder[ExtractionCompleted | ExtractionFailed]] = (
    msgspec.json.Decoder(ExtractionCompleted | ExtractionFailed)
)


def encode(event: msgspec.Struct) -> bytes:
    """Serialise any contract Struct to UTF-8 JSON."""
    return _encoder.encode(event)


def decode_inbound(data: bytes) -> ExtractionRequested | S3EventNotification | S3TestEvent:
    """Decode a requests-topic value, or raise :class:`InboundDecodeError` saying what is wrong."""
    try:
        probe = _probe_decoder.decode(data)
        if probe.type == "extraction.requested":
            return _request_decoder.decode(data)
        if probe.type is None and probe.Records is not msgspec.UNSET:
            return _notification_decoder.decode(data)
        if probe.type is None and probe.Event == "s3:TestEvent":
            return _test_event_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise InboundDecodeError(f"invalid request: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise InboundDecodeError(f"not valid JSON: {exc}") from exc
    if probe.type is not None:
        raise InboundDecodeError(f"unknown event type {probe.type[:64]!r}")
    raise InboundDecodeError("neither an 'extraction.requested' event nor an S3 event notification")


def decode_result(data: bytes) -> ResultEvent:
    """Decode a results-topic value (for consumers and tests)."""
    return _result_decoder.decode(data)
