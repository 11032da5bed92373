"""The vl2ingest wire contract.

Every event is a frozen, keyword-only msgspec Struct, tagged by its ``type`` field and carried as
UTF-8 JSON. Evolution rules: new fields only with defaults; never change a field's type or
meaning; a breaking change is a new tag. Inbound decoding ignores unknown fields.
"""

from vl2ingest_events.codec import (
    CONTENT_TYPE,
    SCHEMA_HEADER,
    InboundDecodeError,
    decode_inbound,
    decode_result,
    encode,
)
from vl2ingest_events.inbound import ExtractionRequested, ImageRef, Task
from vl2ingest_events.outbound import (
    ErrorInfo,
    ExtractionCompleted,
    ExtractionFailed,
    ImageInfo,
    ModelInfo,
    Region,
    ResultEvent,
    Timings,
    Usage,
)
from vl2ingest_events.s3_notification import (
    KeyEncoding,
    NotificationOutcome,
    NotificationRequest,
    S3EventNotification,
    S3EventRecord,
    S3TestEvent,
    SkippedRecord,
    SkipReason,
    requests_from_notification,
)

__all__ = [
    "CONTENT_TYPE",
    "SCHEMA_HEADER",
    "ErrorInfo",
    "ExtractionCompleted",
    "ExtractionFailed",
    "ExtractionRequested",
    "ImageInfo",
    "ImageRef",
    "InboundDecodeError",
    "KeyEncoding",
    "ModelInfo",
    "NotificationOutcome",
    "NotificationRequest",
    "Region",
    "ResultEvent",
    "S3EventNotification",
    "S3EventRecord",
    "S3TestEvent",
    "SkipReason",
    "SkippedRecord",
    "Task",
    "Timings",
    "Usage",
    "decode_inbound",
    "decode_result",
    "encode",
    "requests_from_notification",
]
