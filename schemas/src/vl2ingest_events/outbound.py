"""Outbound contract: exactly one result event per request, on the results topic."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from vl2ingest_events.inbound import Task

Layout = Literal["tiled", "padded"]
FinishReason = Literal["stop", "length", "error", "abort"]
Box = Annotated[tuple[int, int, int, int], msgspec.Meta(description="x1, y1, x2, y2")]


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What produced the result. ``backend`` is what actually ran, never what was asked for."""

    name: str
    revision: str
    engine: str
    backend: str


class ImageInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One input image as the model saw it."""

    uri: str
    width: int
    height: int
    layout: Layout
    tiles_w: int
    tiles_h: int
    image_tokens: int


class Region(msgspec.Struct, frozen=True, kw_only=True):
    """A labelled box: a grounding hit or an OCR line."""

    image_index: int
    label: str
    box_px: Box
    """In pixels of the original image."""
    box_norm: Box
    """On the model's 0-999 grid relative to the original width and height."""


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    input_tokens: int
    output_tokens: int


class Timings(msgspec.Struct, frozen=True, kw_only=True):
    """Milliseconds spent per stage for this request."""

    queued: float
    fetch: float
    preprocess: float
    infer: float
    total: float


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    """Stable machine-readable code, e.g. ``object_not_found``."""
    message: str
    retryable: bool
    """Whether replaying the request later may succeed (e.g. after an outage)."""
    attempts: int


class ExtractionCompleted(
    msgspec.Struct, frozen=True, kw_only=True, tag="extraction.completed", tag_field="type"
):
    event_id: str
    """Deterministic from request_id + model + prompt version: duplicates are recognisable."""
    request_id: str
    occurred_at: datetime
    model: ModelInfo
    task: Task
    images: tuple[ImageInfo, ...]
    text: str
    regions: tuple[Region, ...] = ()
    usage: Usage
    finish_reason: FinishReason
    timings_ms: Timings
    prompt_version: str = ""
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    trace_id: str = ""
    problems: tuple[str, ...] = ()
    """Malformed pieces of the model output that were skipped (e.g. an odd-length box list)."""


class ExtractionFailed(
    msgspec.Struct, frozen=True, kw_only=True, tag="extraction.failed", tag_field="type"
):
    event_id: str
    request_id: str
    occurred_at: datetime
    model: ModelInfo
    task: Task | None = None
    error: ErrorInfo
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    trace_id: str = ""


ResultEvent = ExtractionCompleted | ExtractionFailed
