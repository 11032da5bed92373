"""Inbound contract: what upstream producers put on the requests topic."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Task = Literal["ocr", "markdown", "grounding", "locate", "caption", "prompt"]

MAX_IMAGES_PER_REQUEST = 16
MAX_REQUEST_ID_CHARS = 128


class ImageRef(msgspec.Struct, frozen=True, kw_only=True):
    """A reference to one image object. Image bytes never travel on Kafka."""

    uri: Annotated[str, msgspec.Meta(min_length=6, max_length=2048, pattern=r"^s3://")]
    """``s3://bucket/key``."""
    version_id: str | None = None
    """S3 object version to read; the latest when absent."""
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")] | None = None
    """Expected lower-case hex SHA-256 of the object bytes, checked when present."""


class ExtractionRequested(
    msgspec.Struct, frozen=True, kw_only=True, tag="extraction.requested", tag_field="type"
):
    """One extraction request: 1-16 images forming ONE conversation turn."""

    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REQUEST_ID_CHARS)]
    """Idempotency key; also the Kafka key of the request and of its result."""
    images: Annotated[
        tuple[ImageRef, ...], msgspec.Meta(min_length=1, max_length=MAX_IMAGES_PER_REQUEST)
    ]
    task: Task = "ocr"
    ref: Annotated[str, msgspec.Meta(min_length=1, max_length=512)] | None = None
    """What to locate, for ``task="locate"``."""
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=8192)] | None = None
    """Free prompt, for ``task="prompt"``."""
    max_new_tokens: Annotated[int, msgspec.Meta(ge=1, le=4096)] | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    """Passed through untouched into the result event."""
    submitted_at: datetime | None = None
