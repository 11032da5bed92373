"""Building the outbound events and the DLQ provenance headers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from vl2ingest.pipeline.models import EngineInfo, EngineOutput, InboundMessage, PreparedImage
from vl2ingest_events import (
    CONTENT_TYPE,
    SCHEMA_HEADER,
    ErrorInfo,
    ExtractionCompleted,
    ExtractionFailed,
    ExtractionRequested,
    ImageInfo,
    ModelInfo,
    ResultEvent,
    Task,
    Timings,
    Usage,
)

DLQ_HEADER_PREFIX = "vl2ingest-dlq-"


def model_info(info: EngineInfo) -> ModelInfo:
    return ModelInfo(
        name=info.name, revision=info.revision, engine=info.engine, backend=info.backend
    )


def event_id(request_id: str, info: EngineInfo, prompt_version: str, kind: str) -> str:
    """Deterministic: a redelivered request yields the same id, so duplicates are recognisable."""
    identity = "\x00".join((request_id, info.name, info.revision, prompt_version, kind))
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def image_info(image: PreparedImage) -> ImageInfo:
    plan = image.plan
    return ImageInfo(
        uri=image.uri,
        width=image.width,
        height=image.height,
        layout=plan.layout,
        tiles_w=plan.tiles_w,
        tiles_h=plan.tiles_h,
        image_tokens=plan.image_tokens,
    )


def completed_event(
    *,
    request: ExtractionRequested,
    info: EngineInfo,
    prompt_version: str,
    images: Sequence[PreparedImage],
    output: EngineOutput,
    timings: Timings,
    occurred_at: datetime,
    trace_id: str,
) -> ExtractionCompleted:
    finish = output.finish_reason if output.finish_reason in {"stop", "length", "abort"} else "stop"
    return ExtractionCompleted(
        event_id=event_id(request.request_id, info, prompt_version, "completed"),
        request_id=request.request_id,
        occurred_at=occurred_at,
        model=model_info(info),
        task=request.task,
        images=tuple(image_info(image) for image in images),
        text=output.text,
        regions=output.regions,
        usage=Usage(input_tokens=output.input_tokens, output_tokens=output.output_tokens),
        finish_reason=finish,  # type: ignore[arg-type]  # narrowed by the membership test
        timings_ms=timings,
        prompt_version=prompt_version,
        attributes=request.attributes,
        trace_id=trace_id,
        problems=output.problems,
    )


def failed_event(
    *,
    request_id: str,
    task: Task | None,
    attributes: dict[str, str],
    info: EngineInfo,
    prompt_version: str,
    error: ErrorInfo,
    occurred_at: datetime,
    trace_id: str,
) -> ExtractionFailed:
    return ExtractionFailed(
        event_id=event_id(request_id, info, prompt_version, "failed"),
        request_id=request_id,
        occurred_at=occurred_at,
        model=model_info(info),
        task=task,
        error=error,
        attributes=attributes,
        trace_id=trace_id,
    )


def result_headers(event: ResultEvent) -> list[tuple[str, bytes]]:
    tag = "extraction.completed" if isinstance(event, ExtractionCompleted) else "extraction.failed"
    return [("content-type", CONTENT_TYPE.encode()), (SCHEMA_HEADER, tag.encode())]


def dlq_headers(
    message: InboundMessage,
    *,
    request_id: str,
    error: ErrorInfo,
    first_failure: datetime,
    last_failure: datetime,
) -> list[tuple[str, bytes]]:
    """The original headers plus provenance, so the record can be inspected and replayed."""
    provenance = {
        "original-topic": message.topic,
        "original-partition": str(message.partition),
        "original-offset": str(message.offset),
        "request-id": request_id,
        "error-code": error.code,
        "error-message": error.message[:1000],
        "retryable": "true" if error.retryable else "false",
        "attempts": str(error.attempts),
        "first-failure-at": first_failure.isoformat(),
        "last-failure-at": last_failure.isoformat(),
    }
    return [
        *((k, v) for k, v in message.headers if not k.startswith(DLQ_HEADER_PREFIX)),
        *((DLQ_HEADER_PREFIX + k, v.encode()) for k, v in provenance.items()),
    ]
