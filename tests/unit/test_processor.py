"""The processor against fakes of our own ports: outcomes, retries, dead letters."""

from __future__ import annotations

import msgspec
import pytest
from opentelemetry.trace import Tracer
from tests.support.fakes import (
    FAKE_INFO,
    VL2_INFO,
    FakeClock,
    FakeEngine,
    InlinePreparer,
    MemoryStore,
    RecordingObserver,
    RecordingSink,
    message,
    png_bytes,
)

from vl2ingest.errors import InferenceFailed, StorageUnavailable
from vl2ingest.pipeline.batcher import MicroBatcher
from vl2ingest.pipeline.budget import Budget
from vl2ingest.pipeline.models import EngineInfo
from vl2ingest.pipeline.processor import Processor
from vl2ingest.settings import PipelineSettings
from vl2ingest_events import ExtractionRequested, ImageRef, encode

BUCKET = "inbox"


class Harness:
    def __init__(
        self,
        info: EngineInfo = FAKE_INFO,
        tracer: Tracer | None = None,
        ahead: Budget | None = None,
        budget: Budget | None = None,
        **settings: object,
    ) -> None:
        self.clock = FakeClock()
        self.observer = RecordingObserver()
        self.store = MemoryStore(budget)
        self.sink = RecordingSink()
        self.engine = FakeEngine(info=info)
        self.batcher = MicroBatcher(self.engine, max_batch_images=8, linger_ms=0, clock=self.clock)
        self.processor = Processor(
            store=self.store,
            preparer=InlinePreparer(),
            batcher=self.batcher,
            sink=self.sink,
            engine_info=self.engine.info,
            settings=msgspec.convert(settings, PipelineSettings),
            allowed_buckets=[BUCKET],
            default_max_new_tokens=64,
            clock=self.clock,
            tracer=tracer,
            ahead=ahead,
            budget=budget,
            observer=self.observer,
        )

    async def handle(self, value: bytes, **kwargs: object) -> None:
        import asyncio

        runner = asyncio.create_task(self.batcher.run())
        try:
            await self.processor.handle(message(value, **kwargs))  # type: ignore[arg-type]
        finally:
            runner.cancel()


def request(
    *uris: str,
    task: str = "ocr",
    request_id: str = "r-1",
    max_new_tokens: int | None = None,
    ref: str | None = None,
) -> bytes:
    return encode(
        ExtractionRequested(
            request_id=request_id,
            images=tuple(ImageRef(uri=u) for u in uris),
            task=task,  # type: ignore[arg-type]
            attributes={"tenant": "t1"},
            max_new_tokens=max_new_tokens,
            ref=ref,
        )
    )


async def test_completed_event_carries_plan_and_attributes() -> None:
    """A good request yields one extraction.completed with image plans and passthrough data."""
    h = Harness()
    uri = h.store.put(BUCKET, "a.png", png_bytes(800, 600))
    await h.handle(request(uri))
    assert len(h.sink.results) == 1
    assert not h.sink.dlq
    event = h.sink.completed[0]
    assert event.request_id == "r-1"
    assert event.text == "800x600"
    assert event.attributes == {"tenant": "t1"}
    assert event.model.backend == "fake"
    assert event.prompt_version == "fake-prompts-1"
    (image,) = event.images
    assert (image.width, image.height, image.layout) == (800, 600, "tiled")
    assert image.image_tokens == 211 + 14 * image.tiles_h * (14 * image.tiles_w + 1)
    headers = dict(h.sink.results[0][1])
    assert headers["vl2ingest-schema"] == b"extraction.completed"
    assert headers["content-type"] == b"application/json"


async def test_event_id_is_deterministic_across_redelivery() -> None:
    """Processing the same request twice yields the same event_id (duplicates recognisable)."""
    h = Harness()
    uri = h.store.put(BUCKET, "a.png", png_bytes(64, 64))
    await h.handle(request(uri))
    await h.handle(request(uri))
    first, second = h.sink.completed
    assert first.event_id == second.event_id


async def test_missing_object_is_dead_lettered_with_provenance() -> None:
    """A missing object gives extraction.failed(object_not_found) and a DLQ copy of the record."""
    h = Harness()
    raw = request(f"s3://{BUCKET}/nope.png")
    await h.handle(raw, offset=41, key=b"r-1")
    (failed,) = h.sink.failed
    assert failed.error.code == "object_not_found"
    assert failed.error.retryable is False
    (dlq_message, dlq_headers) = h.sink.dlq[0]
    assert dlq_message.value == raw
    headers = dict(dlq_headers)
    assert headers["vl2ingest-dlq-original-offset"] == b"41"
    assert headers["vl2ingest-dlq-error-code"] == b"object_not_found"
    assert headers["vl2ingest-dlq-request-id"] == b"r-1"


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("s3://elsewhere/a.png", "bucket_not_allowed"),
        ("s3://inbox/../etc/passwd", "invalid_uri"),
        ("s3://inbox/a/./b.png", "invalid_uri"),
    ],
)
async def test_bad_references_fail_before_fetching(uri: str, code: str) -> None:
    """Forbidden buckets and path tricks fail with their own code and never reach the store."""
    h = Harness()
    await h.handle(request(uri))
    assert [f.error.code for f in h.sink.failed] == [code]
    assert h.store.gets == []


async def test_undecodable_bytes_fail_with_their_own_code() -> None:
    """Bytes that are not an image give image_undecodable; an empty object likewise."""
    h = Harness()
    h.store.put(BUCKET, "junk.jpg", b"\xff\xd8\xff\xe0 definitely not a jpeg")
    h.store.put(BUCKET, "empty.png", b"")
    await h.handle(request(f"s3://{BUCKET}/junk.jpg", request_id="a"))
    await h.handle(request(f"s3://{BUCKET}/empty.png", request_id="b"))
    assert [f.error.code for f in h.sink.failed] == ["image_undecodable", "image_undecodable"]


async def test_garbage_message_is_an_invalid_request_keyed_by_position() -> None:
    """Non-JSON input becomes invalid_request with a stable id from topic/partition/offset."""
    h = Harness()
    await h.handle(b"\x00\x01 not json", offset=7, partition=2)
    (failed,) = h.sink.failed
    assert failed.error.code == "invalid_request"
    assert failed.request_id == "kafka:vl2ingest.requests:2:7"
    assert len(h.sink.dlq) == 1


async def test_transient_failure_is_retried_then_succeeds() -> None:
    """A throttled GET is retried with backoff; the request completes, nothing is dead-lettered."""
    h = Harness(max_attempts=3, retry_base_ms=100, retry_max_ms=1000)
    uri = h.store.put(BUCKET, "a.png", png_bytes(10, 10))
    h.store.failures[(BUCKET, "a.png")] = [StorageUnavailable("slow down")] * 2
    await h.handle(request(uri))
    assert len(h.sink.completed) == 1
    assert not h.sink.dlq
    assert len(h.clock.sleeps) == 2
    assert 0.05 <= h.clock.sleeps[0] <= 0.1
    assert 0.1 <= h.clock.sleeps[1] <= 0.2


async def test_transient_failure_exhausting_retries_is_marked_retryable() -> None:
    """When retries run out the failure is dead-lettered as retryable with the attempt count."""
    h = Harness(max_attempts=2)
    uri = h.store.put(BUCKET, "a.png", png_bytes(10, 10))
    h.store.failures[(BUCKET, "a.png")] = [StorageUnavailable("503")] * 5
    await h.handle(request(uri))
    (failed,) = h.sink.failed
    assert (failed.error.code, failed.error.retryable, failed.error.attempts) == (
        "storage_unavailable",
        True,
        2,
    )


async def test_unsupported_task_fails_without_fetching() -> None:
    """A task the engine cannot serve fails with unsupported_task before any S3 GET."""
    h = Harness()
    await h.handle(request(f"s3://{BUCKET}/a.png", task="grounding"))
    assert [f.error.code for f in h.sink.failed] == ["unsupported_task"]
    assert h.store.gets == []


async def test_engine_item_failure_is_dead_lettered() -> None:
    """An engine error for one item fails that request with the engine's code."""
    h = Harness()
    h.engine.fail_with = InferenceFailed("boom")
    uri = h.store.put(BUCKET, "a.png", png_bytes(10, 10))
    await h.handle(request(uri))
    assert [f.error.code for f in h.sink.failed] == ["inference_failed"]


async def test_s3_notification_yields_one_event_per_created_record() -> None:
    """An S3 event notification with two uploads and one delete yields exactly two results."""
    h = Harness()
    h.store.put(BUCKET, "scans/one page.png", png_bytes(20, 10))
    h.store.put(BUCKET, "b.png", png_bytes(30, 10))
    records = [
        {
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": BUCKET},
                "object": {"key": "scans/one+page.png", "eTag": "1"},
            },
        },
        {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": "b.png", "eTag": "2"}},
        },
        {
            "eventName": "ObjectRemoved:Delete",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": "c.png"}},
        },
    ]
    await h.handle(msgspec.json.encode({"Records": records}))
    assert sorted(e.text for e in h.sink.completed) == ["20x10", "30x10"]
    assert all(e.request_id.startswith("s3-") for e in h.sink.completed)
    assert all(e.attributes["source"] == "s3-event" for e in h.sink.completed)


async def test_three_images_are_padded_and_reported_so() -> None:
    """A 3-image turn is planned as padded 384x384 (421 tokens each) and the event says so."""
    h = Harness(info=VL2_INFO)
    uris = [h.store.put(BUCKET, f"{i}.png", png_bytes(1600, 900)) for i in range(3)]
    await h.handle(request(*uris, max_new_tokens=256))
    (event,) = h.sink.completed
    assert [(i.layout, i.tiles_w, i.tiles_h, i.image_tokens) for i in event.images] == [
        ("padded", 1, 1, 421)
    ] * 3
    assert event.prompt_version == "vl2-fake"


async def test_request_over_the_context_fails_before_inference() -> None:
    """Prompt + image tokens + max_new_tokens over 4096 fails context_overflow, engine untouched."""
    h = Harness(info=VL2_INFO)
    uri = h.store.put(BUCKET, "big.png", png_bytes(1152, 1152))  # 3x3 tiles: 2017 tokens
    await h.handle(request(uri, max_new_tokens=2500))
    (failed,) = h.sink.failed
    assert failed.error.code == "context_overflow"
    assert "over by" in failed.error.message
    assert h.engine.batches == []


async def test_request_that_fits_the_context_runs() -> None:
    """The same image with a smaller generation cap fits and completes."""
    h = Harness(info=VL2_INFO)
    uri = h.store.put(BUCKET, "big.png", png_bytes(1152, 1152))
    await h.handle(request(uri, max_new_tokens=1024))
    assert len(h.sink.completed) == 1
    assert h.engine.batches == [1]


async def test_locate_without_ref_is_an_invalid_request() -> None:
    """A locate task with no ref fails invalid_request before fetching."""
    h = Harness(info=VL2_INFO)
    await h.handle(request(f"s3://{BUCKET}/a.png", task="locate"))
    assert [f.error.code for f in h.sink.failed] == ["invalid_request"]
    assert h.store.gets == []


async def test_trace_continues_from_the_producer_into_the_result() -> None:
    """The process span joins the producer's trace; the event and its headers carry it on, and
    the inference span names the backend that really ran."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    h = Harness(tracer=provider.get_tracer("test"))
    uri = h.store.put(BUCKET, "a.png", png_bytes(20, 20))
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    traceparent = f"00-{trace_id}-b7ad6b7169203331-01".encode()
    await h.handle(request(uri), headers=(("traceparent", traceparent),))
    (event,) = h.sink.completed
    assert event.trace_id == trace_id
    headers = dict(h.sink.results[0][1])
    assert headers["traceparent"].decode().split("-")[1] == trace_id
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert spans["process vl2ingest.requests"].context.trace_id == int(trace_id, 16)
    infer = next(s for name, s in spans.items() if name.startswith("extract"))
    assert infer.attributes is not None
    assert infer.attributes["vl2ingest.engine.backend"] == "fake"


async def test_fetching_runs_only_a_bounded_distance_ahead_of_the_engine() -> None:
    """With room for 2 images ahead and the engine stalled, only 2 of 5 requests are fetched."""
    import asyncio

    h = Harness(ahead=Budget(2))
    h.engine.gate = asyncio.Event()
    uri = h.store.put(BUCKET, "a.png", png_bytes(10, 10))
    runner = asyncio.create_task(h.batcher.run())
    tasks = [
        asyncio.create_task(h.processor.handle(message(request(uri, request_id=f"r{i}"))))
        for i in range(5)
    ]
    await asyncio.sleep(0.05)
    assert len(h.store.gets) == 2
    h.engine.gate.set()
    await asyncio.gather(*tasks)
    runner.cancel()
    assert len(h.sink.completed) == 5


async def test_byte_reservations_are_returned_on_success_and_on_partial_failure() -> None:
    """Fetched bytes are released after preparation, and when one image of a turn fails, the
    reservations of the others are released too (no leak that would stall later fetches)."""
    budget = Budget(10**6)
    h = Harness(budget=budget)
    good = h.store.put(BUCKET, "a.png", png_bytes(10, 10))
    await h.handle(request(good, request_id="ok"))
    await h.handle(request(good, f"s3://{BUCKET}/missing.png", request_id="half"))
    assert [e.request_id for e in h.sink.completed] == ["ok"]
    assert [f.error.code for f in h.sink.failed] == ["object_not_found"]
    assert budget.used == 0
    assert budget.peak > 0


async def test_malformed_output_pieces_are_reported_in_the_event() -> None:
    """What the engine's output parser skipped reaches the event's `problems`."""
    h = Harness()
    h.engine.problems = ("det block 1: odd-length coordinate list",)
    uri = h.store.put(BUCKET, "a.png", png_bytes(10, 10))
    await h.handle(request(uri))
    (event,) = h.sink.completed
    assert event.problems == ("det block 1: odd-length coordinate list",)


def notification(key: str, *, event: str = "s3:ObjectCreated:Put", bucket: str = BUCKET) -> bytes:
    record = {
        "eventName": event,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": '"e"'}},
    }
    return msgspec.json.encode({"Records": [record]})


async def test_raw_notification_key_is_fetched_when_the_decoded_one_is_missing() -> None:
    """versitygw sends keys raw: 'a b+1.png' decodes to 'a b 1.png', which does not exist; the
    key as sent is fetched next and the request completes under its real URI."""
    h = Harness()
    h.store.put(BUCKET, "scans/a b+1.png", png_bytes(64, 64))
    await h.handle(notification("scans/a b+1.png"))
    (event,) = h.sink.completed
    assert event.images[0].uri == f"s3://{BUCKET}/scans/a b+1.png"
    assert [g.key for g in h.store.gets] == ["scans/a b 1.png", "scans/a b+1.png"]
    assert not h.sink.dlq


async def test_encoded_notification_key_needs_one_get() -> None:
    """An AWS-encoded key ('a+b%2B1.png') is found with its decoded spelling, in one GET."""
    h = Harness()
    h.store.put(BUCKET, "a b+1.png", png_bytes(64, 64))
    await h.handle(notification("a+b%2B1.png"))
    (event,) = h.sink.completed
    assert event.images[0].uri == f"s3://{BUCKET}/a b+1.png"
    assert len(h.store.gets) == 1


async def test_notification_for_a_missing_object_names_every_key_tried() -> None:
    """When neither spelling exists the request fails object_not_found, naming both keys."""
    h = Harness()
    await h.handle(notification("x+y.png"))
    (failed,) = h.sink.failed
    assert failed.error.code == "object_not_found"
    assert "x y.png" in failed.error.message
    assert "x+y.png" in failed.error.message
    assert len(h.sink.dlq) == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"Service":"S3","Event":"s3:TestEvent","Bucket":"Test-Bucket"}', "test_event"),
        (b'{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"inbox"}', "test_event"),
        (notification("gone.png", event="ObjectRemoved:Delete"), "ignored_event"),
        (b'{"Records":[]}', "no_records"),
    ],
)
async def test_records_without_a_request_are_counted_never_failed(
    value: bytes, reason: str
) -> None:
    """Test events, other event kinds and empty notifications publish nothing and reach no DLQ,
    and each is counted by reason."""
    h = Harness()
    await h.handle(value)
    assert h.sink.results == []
    assert h.sink.dlq == []
    assert h.observer.skipped == [reason]


async def test_notification_for_a_bucket_outside_the_allow_list_fails() -> None:
    """An upload notification for a forbidden bucket is a failure with a code, not a skip."""
    h = Harness()
    await h.handle(notification("a.png", bucket="elsewhere"))
    (failed,) = h.sink.failed
    assert failed.error.code == "bucket_not_allowed"
    assert h.observer.skipped == []


async def test_created_record_without_object_fails_invalid_request() -> None:
    """An ObjectCreated record that names no object is an invalid_request failure."""
    h = Harness()
    await h.handle(
        b'{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"inbox"}}}]}'
    )
    (failed,) = h.sink.failed
    assert failed.error.code == "invalid_request"
    assert len(h.sink.dlq) == 1
