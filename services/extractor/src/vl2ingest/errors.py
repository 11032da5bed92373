"""The error classes of the service, each carrying its disposition.

Adapters translate library exceptions into these with ``raise ... from exc``; the processor is
the one place that reads ``disposition`` and decides: retry, dead-letter, or stop the process.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class Disposition(enum.Enum):
    RETRY = "retry"
    """Transient: back off and try again; do not commit past the message."""
    DEAD_LETTER = "dead_letter"
    """Permanent for this message: publish extraction.failed + a DLQ record, then commit."""
    FATAL = "fatal"
    """The process is broken: stop and exit non-zero so the orchestrator restarts it."""


class VL2IngestError(Exception):
    """Base of every classified error. ``code`` is stable and goes onto the wire."""

    code: ClassVar[str] = "internal_error"
    disposition: ClassVar[Disposition] = Disposition.FATAL


# --- the request itself is bad (dead letter) ---------------------------------------------------
class InvalidRequest(VL2IngestError):
    code = "invalid_request"
    disposition = Disposition.DEAD_LETTER


class InvalidUri(VL2IngestError):
    code = "invalid_uri"
    disposition = Disposition.DEAD_LETTER


class BucketNotAllowed(VL2IngestError):
    code = "bucket_not_allowed"
    disposition = Disposition.DEAD_LETTER


class UnsupportedTask(VL2IngestError):
    code = "unsupported_task"
    disposition = Disposition.DEAD_LETTER


# --- the object is bad or absent (dead letter) -------------------------------------------------
class ObjectNotFound(VL2IngestError):
    code = "object_not_found"
    disposition = Disposition.DEAD_LETTER


class AccessDenied(VL2IngestError):
    code = "access_denied"
    disposition = Disposition.DEAD_LETTER


class ObjectTooLarge(VL2IngestError):
    code = "object_too_large"
    disposition = Disposition.DEAD_LETTER


class ChecksumMismatch(VL2IngestError):
    code = "checksum_mismatch"
    disposition = Disposition.DEAD_LETTER


class ImageUndecodable(VL2IngestError):
    code = "image_undecodable"
    disposition = Disposition.DEAD_LETTER


class ImageTooManyPixels(VL2IngestError):
    code = "image_too_many_pixels"
    disposition = Disposition.DEAD_LETTER


class ContextOverflow(VL2IngestError):
    code = "context_overflow"
    disposition = Disposition.DEAD_LETTER


# --- transient (retry) -------------------------------------------------------------------------
class StorageUnavailable(VL2IngestError):
    """Throttling, 5xx, timeouts, connection failures of the object store."""

    code = "storage_unavailable"
    disposition = Disposition.RETRY


class EngineOverloaded(VL2IngestError):
    code = "engine_overloaded"
    disposition = Disposition.RETRY


# --- per-item engine failure (dead letter) and broken engine (fatal) ---------------------------
class InferenceFailed(VL2IngestError):
    code = "inference_failed"
    disposition = Disposition.DEAD_LETTER


class EngineOutOfMemory(VL2IngestError):
    """The GPU ran out of memory on this item; the item fails, the batch and engine go on."""

    code = "engine_out_of_memory"
    disposition = Disposition.DEAD_LETTER


class DeadlineExceeded(VL2IngestError):
    """The item outlived its per-request deadline in the engine (overload): retried, bounded."""

    code = "deadline_exceeded"
    disposition = Disposition.RETRY


class EngineDead(VL2IngestError):
    code = "engine_dead"
    disposition = Disposition.FATAL


class ConfigError(VL2IngestError):
    """A setting is missing or invalid; the message names the environment variable."""

    code = "config_error"
    disposition = Disposition.FATAL


class PublishFailed(VL2IngestError):
    """The broker did not acknowledge a result after the producer's own retries.

    Fatal: nothing past the message was committed, so a restart redelivers it.
    """

    code = "publish_failed"
    disposition = Disposition.FATAL


class CommitFailed(VL2IngestError):
    """An offset commit was refused (typically during a rebalance); the next commit retries."""

    code = "commit_failed"
    disposition = Disposition.RETRY
