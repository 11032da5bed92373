"""One inbound message in, exactly one result event per request out.

The processor is the ONE place that reads an error's disposition: RETRY backs off and tries
again (bounded), DEAD_LETTER publishes ``extraction.failed`` plus the raw record to the DLQ,
FATAL propagates so the process stops and Kubernetes restarts it. A message counts as done only
once every outcome is acknowledged by the broker; only then may its offset be committed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from opentelemetry import trace

from vl2ingest import vl2
from vl2ingest.errors import (
    ContextOverflow,
    Disposition,
    InvalidRequest,
    InvalidUri,
    ObjectNotFound,
    UnsupportedTask,
    VL2IngestError,
)
from vl2ingest.pipeline import events, tracecontext
from vl2ingest.pipeline.batcher import MicroBatcher
from vl2ingest.pipeline.budget import Budget
from vl2ingest.pipeline.models import (
    EngineInfo,
    EngineOutput,
    EngineRequest,
    FetchedObject,
    InboundMessage,
    PreparedImage,
    S3Location,
)
from vl2ingest.pipeline.ports import (
    Clock,
    NullObserver,
    ObjectStore,
    Observer,
    Preparer,
    ResultSink,
)
from vl2ingest.pipeline.uris import parse_image_ref
from vl2ingest.settings import PipelineSettings
from vl2ingest_events import (
    ErrorInfo,
    ExtractionRequested,
    ImageRef,
    InboundDecodeError,
    NotificationOutcome,
    NotificationRequest,
    Task,
    Timings,
    decode_inbound,
    requests_from_notification,
)

log = structlog.get_logger("vl2ingest.processor")


class _InternalError(VL2IngestError):
    """An unexpected exception while handling one request: dead-lettered so nothing is lost."""

    code = "internal_error"
    disposition = Disposition.DEAD_LETTER


@dataclass(frozen=True, slots=True)
class _Extraction:
    images: tuple[PreparedImage, ...]
    output: EngineOutput
    fetch_ms: float
    preprocess_ms: float


class Processor:
    def __init__(
        self,
        *,
        store: ObjectStore,
        preparer: Preparer,
        batcher: MicroBatcher,
        sink: ResultSink,
        engine_info: EngineInfo,
        settings: PipelineSettings,
        allowed_buckets: Collection[str],
        default_max_new_tokens: int,
        clock: Clock,
        rng: random.Random | None = None,
        tracer: trace.Tracer | None = None,
        budget: Budget | None = None,
        ahead: Budget | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._observer: Observer = observer or NullObserver()
        self._budget = budget
        self._ahead = ahead
        """Images allowed between the start of fetching and the end of inference."""
        self._store = store
        self._preparer = preparer
        self._batcher = batcher
        self._sink = sink
        self._info = engine_info
        self._prompt_version = engine_info.prompt_version
        self._settings = settings
        self._allowed = frozenset(allowed_buckets)
        self._default_max_new_tokens = default_max_new_tokens
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311  # jitter, not cryptography
        self._tracer = tracer or trace.get_tracer("vl2ingest.pipeline")

    async def handle(self, message: InboundMessage) -> None:
        """Process one record; return once every outcome has been acknowledged."""
        received = self._clock.monotonic()
        try:
            outcome = self._requests_of(message)
        except InvalidRequest as exc:
            await self._fail(
                message,
                request_id=_fallback_request_id(message),
                task=None,
                attributes={},
                error=exc,
                attempts=1,
                first_failure=self._clock.now(),
                trace_id="",
            )
            return
        for skipped in outcome.skipped:
            # Never silent: each record that yields no request is counted and logged once.
            self._observer.record_skipped(reason=skipped.reason)
            log.info(
                "record skipped",
                reason=skipped.reason,
                event_name=skipped.event_name,
                record_index=skipped.index,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
        requests = outcome.requests
        if not requests:
            return
        if len(requests) == 1:
            await self._handle_request(message, requests[0], received)
            return
        async with asyncio.TaskGroup() as group:
            for request in requests:
                group.create_task(self._handle_request(message, request, received))

    def _requests_of(self, message: InboundMessage) -> NotificationOutcome:
        if message.value is None:
            raise InvalidRequest("the record has no value (tombstone)")
        try:
            inbound = decode_inbound(message.value)
        except InboundDecodeError as exc:
            raise InvalidRequest(str(exc)) from exc
        if isinstance(inbound, ExtractionRequested):
            return NotificationOutcome(requests=(NotificationRequest(request=inbound),))
        return requests_from_notification(
            inbound,
            task=self._settings.default_task,
            key_encoding=self._settings.s3_event_key_encoding,
        )

    async def _handle_request(
        self, message: InboundMessage, work: NotificationRequest, received: float
    ) -> None:
        request = work.request
        parent = tracecontext.extract(message.headers)
        with self._tracer.start_as_current_span(
            f"process {message.topic}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": message.topic,
                "messaging.destination.partition.id": str(message.partition),
                "messaging.kafka.offset": message.offset,
                "messaging.message.id": request.request_id,
            },
        ) as span:
            trace_id = _trace_id(span)
            bound = log.bind(request_id=request.request_id, task=request.task)
            attempts = 0
            first_failure: datetime | None = None
            while True:
                attempts += 1
                try:
                    extraction = await self._extract(request, work.alternate_keys)
                    break
                except VL2IngestError as exc:
                    error: VL2IngestError = exc
                except Exception as exc:  # noqa: BLE001  # a bug must not lose the message: DLQ it
                    bound.exception("unexpected error while processing a request")
                    error = _InternalError(f"{type(exc).__name__}: {exc}")
                span.record_exception(error)
                first_failure = first_failure or self._clock.now()
                if error.disposition is Disposition.FATAL:
                    raise error
                if (
                    error.disposition is Disposition.RETRY
                    and attempts < self._settings.max_attempts
                ):
                    delay = self._backoff_s(attempts)
                    bound.warning(
                        "transient failure, retrying",
                        error_code=error.code,
                        attempt=attempts,
                        delay_s=round(delay, 3),
                        error=str(error),
                    )
                    await self._clock.sleep(delay)
                    continue
                span.set_status(trace.StatusCode.ERROR, error.code)
                await self._fail(
                    message,
                    request_id=request.request_id,
                    task=request.task,
                    attributes=request.attributes,
                    error=error,
                    attempts=attempts,
                    first_failure=first_failure,
                    trace_id=trace_id,
                )
                return
            total_ms = (self._clock.monotonic() - received) * 1000
            output = extraction.output
            fetch_ms, prepare_ms = extraction.fetch_ms, extraction.preprocess_ms
            timings = Timings(
                # Whatever no stage accounts for: waiting for a batch slot, retry back-off.
                queued=round(max(0.0, total_ms - fetch_ms - prepare_ms - output.infer_ms), 3),
                fetch=round(fetch_ms, 3),
                preprocess=round(prepare_ms, 3),
                infer=round(output.infer_ms, 3),
                total=round(total_ms, 3),
            )
            event = events.completed_event(
                request=request,
                info=self._info,
                prompt_version=self._prompt_version,
                images=extraction.images,
                output=output,
                timings=timings,
                occurred_at=self._clock.now(),
                trace_id=trace_id,
            )
            if span.is_recording():
                span.set_attribute("gen_ai.usage.output_tokens", output.output_tokens)
                span.set_attribute("gen_ai.usage.input_tokens", output.input_tokens)
            headers = events.result_headers(event)
            tracecontext.inject(headers)
            await self._sink.publish(event, headers=headers, source=message)
            self._observer.request_finished(
                outcome="completed",
                code="",
                images=len(extraction.images),
                stage_ms={
                    "fetch": timings.fetch,
                    "prepare": timings.preprocess,
                    "infer": timings.infer,
                    "total": timings.total,
                },
            )
            self._observer.tokens(
                input_tokens=output.input_tokens, output_tokens=output.output_tokens
            )
            if output.problems:
                bound.warning("model output had malformed pieces", problems=list(output.problems))
            bound.debug("request completed", total_ms=timings.total, images=len(extraction.images))

    async def _extract(
        self, request: ExtractionRequested, alternate_keys: Sequence[str]
    ) -> _Extraction:
        if request.task not in self._info.supported_tasks:
            raise UnsupportedTask(
                f"task {request.task!r} is not supported by engine {self._info.engine!r} "
                f"(supported: {', '.join(sorted(self._info.supported_tasks))})"
            )
        if request.task == "locate" and not request.ref:
            raise InvalidRequest("task 'locate' needs 'ref' (what to locate)")
        if request.task == "prompt" and not request.prompt:
            raise InvalidRequest("task 'prompt' needs 'prompt'")
        locations = [parse_image_ref(ref, allowed_buckets=self._allowed) for ref in request.images]
        fallbacks = self._fallbacks(locations[0], alternate_keys)
        if self._ahead is None:
            return await self._fetch_prepare_infer(request, locations, fallbacks)
        await self._ahead.acquire(len(locations))
        try:
            return await self._fetch_prepare_infer(request, locations, fallbacks)
        finally:
            await self._ahead.release(len(locations))

    def _fallbacks(
        self, first: S3Location, alternate_keys: Sequence[str]
    ) -> tuple[S3Location, ...]:
        """Other spellings of the first image's key (S3 notifications), each validated like the
        key itself; one that is not a valid reference is never fetched."""
        fallbacks: list[S3Location] = []
        for key in alternate_keys:
            other = ImageRef(uri=f"s3://{first.bucket}/{key}", version_id=first.version_id)
            try:
                fallbacks.append(parse_image_ref(other, allowed_buckets=self._allowed))
            except InvalidUri:
                continue
        return tuple(fallbacks)

    async def _fetch_prepare_infer(
        self,
        request: ExtractionRequested,
        locations: list[S3Location],
        fallbacks: tuple[S3Location, ...],
    ) -> _Extraction:
        started = self._clock.monotonic()
        with self._tracer.start_as_current_span("s3 get", kind=trace.SpanKind.CLIENT):
            objects = await self._fetch_all(locations, fallbacks)
        fetched = self._clock.monotonic()
        try:
            with self._tracer.start_as_current_span("prepare"):
                images = await self._preparer.prepare(objects, engine=self._info)
        finally:
            # The raw bytes are no longer needed: decoded, reduced pixels carry on.
            if self._budget is not None:
                await self._budget.release(sum(obj.reserved for obj in objects))
        prepared = self._clock.monotonic()

        engine_request = EngineRequest(
            request=request,
            images=images,
            max_new_tokens=request.max_new_tokens or self._default_max_new_tokens,
        )
        self._check_context(engine_request)
        with self._tracer.start_as_current_span(
            f"{_operation(request.task)} {self._info.name}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": _operation(request.task),
                "gen_ai.request.model": self._info.name,
                "gen_ai.provider.name": self._info.engine,
                "vl2ingest.engine.backend": self._info.backend,
                "gen_ai.request.max_tokens": engine_request.max_new_tokens,
            },
        ):
            result = await self._batcher.submit(engine_request)
        if isinstance(result, VL2IngestError):
            raise result
        return _Extraction(
            images=images,
            output=result,
            fetch_ms=(fetched - started) * 1000,
            preprocess_ms=(prepared - fetched) * 1000,
        )

    async def _fetch_all(
        self, locations: Sequence[S3Location], fallbacks: tuple[S3Location, ...]
    ) -> tuple[FetchedObject, ...]:
        """All images of a turn, concurrently. If any fails, the others' byte reservations are
        returned and the most decisive error is raised. ``fallbacks`` are other spellings of
        the first image's key, tried in order when it does not exist."""
        results = await asyncio.gather(
            *(
                self._get(location, fallbacks if index == 0 else ())
                for index, location in enumerate(locations)
            ),
            return_exceptions=True,
        )
        fetched = [r for r in results if isinstance(r, FetchedObject)]
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            if self._budget is not None:
                await self._budget.release(sum(obj.reserved for obj in fetched))
            raise _most_severe(tuple(errors))
        return tuple(fetched)

    async def _get(self, location: S3Location, fallbacks: tuple[S3Location, ...]) -> FetchedObject:
        try:
            return await self._store.get(location)
        except ObjectNotFound as missing:
            for other in fallbacks:
                try:
                    found = await self._store.get(other)
                except ObjectNotFound:
                    continue
                log.info("object found under the key as sent", tried=location.uri, uri=other.uri)
                return found
            if not fallbacks:
                raise
            tried = ", ".join(other.uri for other in fallbacks)
            raise ObjectNotFound(f"{missing} (also tried {tried})") from missing

    def _check_context(self, request: EngineRequest) -> None:
        """Refuse, before any inference, a request that cannot fit the model's context."""
        if self._info.context_tokens is None:
            return
        task = request.request
        try:
            prompt = vl2.build_prompt(
                task.task, request.image_count, ref=task.ref, prompt=task.prompt
            )
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        budget = vl2.check_budget(
            vl2.estimate_prompt_tokens(prompt),
            [image.plan for image in request.images],
            request.max_new_tokens,
            self._info.context_tokens,
        )
        if not budget.fits:
            raise ContextOverflow(budget.describe())

    async def _fail(
        self,
        message: InboundMessage,
        *,
        request_id: str,
        task: Task | None,
        attributes: dict[str, str],
        error: VL2IngestError,
        attempts: int,
        first_failure: datetime,
        trace_id: str,
    ) -> None:
        info = ErrorInfo(
            code=error.code,
            message=str(error)[:2000],
            retryable=error.disposition is Disposition.RETRY,
            attempts=attempts,
        )
        now = self._clock.now()
        event = events.failed_event(
            request_id=request_id,
            task=task,
            attributes=attributes,
            info=self._info,
            prompt_version=self._prompt_version,
            error=info,
            occurred_at=now,
            trace_id=trace_id,
        )
        headers = events.result_headers(event)
        tracecontext.inject(headers)
        await self._sink.publish(event, headers=headers, source=message)
        await self._sink.dead_letter(
            message,
            headers=events.dlq_headers(
                message,
                request_id=request_id,
                error=info,
                first_failure=first_failure,
                last_failure=now,
            ),
        )
        self._observer.request_finished(outcome="failed", code=info.code, images=0, stage_ms={})
        log.warning(
            "request failed",
            request_id=request_id,
            error_code=info.code,
            retryable=info.retryable,
            attempts=attempts,
            error=info.message,
        )

    def _backoff_s(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(
            self._settings.retry_max_ms, self._settings.retry_base_ms * 2 ** (attempt - 1)
        )
        return self._rng.uniform(ceiling / 2, ceiling) / 1000


def _most_severe(errors: tuple[BaseException, ...]) -> BaseException:
    """Of several image failures in one turn, report the one that decides the outcome."""
    order = {Disposition.FATAL: 0, Disposition.DEAD_LETTER: 1, Disposition.RETRY: 2}
    classified = [e for e in errors if isinstance(e, VL2IngestError)]
    return min(classified, key=lambda e: order[e.disposition]) if classified else errors[0]


def _operation(task: Task) -> str:
    return "chat" if task in {"prompt", "caption"} else "extract"


def _trace_id(span: trace.Span) -> str:
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def _fallback_request_id(message: InboundMessage) -> str:
    """The Kafka key is the request id by contract; else a stable id from the record position."""
    if message.key:
        try:
            key = message.key.decode("utf-8")
        except UnicodeDecodeError:
            key = ""
        if 0 < len(key) <= 128 and key.isprintable():
            return key
    return f"kafka:{message.topic}:{message.partition}:{message.offset}"
