"""Fakes of OUR protocols (pipeline/ports.py) for unit tests. Never of aiokafka or boto3."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from PIL import Image

from vl2ingest.errors import ObjectNotFound, VL2IngestError
from vl2ingest.imaging.preparer import prepare_one
from vl2ingest.pipeline.budget import Budget
from vl2ingest.pipeline.models import (
    EngineInfo,
    EngineOutput,
    EngineRequest,
    FetchedObject,
    InboundMessage,
    PreparedImage,
    S3Location,
    TopicPartition,
)
from vl2ingest.pipeline.ports import NullObserver, RevokeCallback
from vl2ingest_events import ExtractionCompleted, ExtractionFailed, ResultEvent


class FakeClock:
    """Time moves only when the code under test sleeps (or a test advances it)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


class MemoryStore:
    """An in-memory object store; ``failures`` makes a key fail N times with a given error."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget
        self.objects: dict[tuple[str, str], bytes] = {}
        self.failures: dict[tuple[str, str], list[VL2IngestError]] = {}
        self.gets: list[S3Location] = []

    def put(self, bucket: str, key: str, data: bytes) -> str:
        self.objects[(bucket, key)] = data
        return f"s3://{bucket}/{key}"

    async def get(self, location: S3Location) -> FetchedObject:
        self.gets.append(location)
        pending = self.failures.get((location.bucket, location.key))
        if pending:
            raise pending.pop(0)
        data = self.objects.get((location.bucket, location.key))
        if data is None:
            raise ObjectNotFound(f"{location.uri} does not exist")
        if self.budget is not None:  # reserve like the S3 store does
            await self.budget.acquire(len(data))
        reserved = len(data) if self.budget is not None else 0
        return FetchedObject(location=location, data=data, reserved=reserved)


class InlinePreparer:
    """The real per-image preparation, run in-line instead of in a worker pool."""

    async def prepare(
        self, objects: Sequence[FetchedObject], *, engine: EngineInfo
    ) -> tuple[PreparedImage, ...]:
        return tuple(prepare_one(o, len(objects), engine, 10**8) for o in objects)


FAKE_INFO = EngineInfo(
    name="fake-model",
    revision="1",
    engine="fake",
    backend="fake",
    supported_tasks=frozenset({"ocr", "caption"}),
    prompt_version="fake-prompts-1",
)
VL2_INFO = EngineInfo(
    name="fake-vl2",
    revision="1",
    engine="fake",
    backend="fake",
    supported_tasks=frozenset({"ocr", "markdown", "grounding", "locate", "caption", "prompt"}),
    image_input="vl2_views",
    context_tokens=4096,
    prompt_version="vl2-fake",
)


@dataclass
class FakeEngine:
    """Answers each request with a text naming its image sizes; records batch sizes."""

    info: EngineInfo = FAKE_INFO
    batches: list[int] = field(default_factory=list)
    fail_with: VL2IngestError | None = None
    gate: asyncio.Event | None = None
    problems: tuple[str, ...] = ()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def check_health(self) -> bool:
        return True

    async def infer(self, batch: Sequence[EngineRequest]) -> list[EngineOutput | VL2IngestError]:
        self.batches.append(len(batch))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            return [self.fail_with for _ in batch]
        return [
            EngineOutput(
                text=" ".join(f"{i.width}x{i.height}" for i in request.images),
                input_tokens=request.image_tokens,
                output_tokens=3,
                problems=self.problems,
            )
            for request in batch
        ]


@dataclass
class RecordingSink:
    results: list[tuple[ResultEvent, list[tuple[str, bytes]]]] = field(default_factory=list)
    dlq: list[tuple[InboundMessage, list[tuple[str, bytes]]]] = field(default_factory=list)

    async def publish(
        self,
        event: ResultEvent,
        *,
        headers: Sequence[tuple[str, bytes]],
        source: InboundMessage,
    ) -> None:
        self.results.append((event, list(headers)))

    async def dead_letter(
        self, message: InboundMessage, *, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        self.dlq.append((message, list(headers)))

    @property
    def completed(self) -> list[ExtractionCompleted]:
        return [e for e, _ in self.results if isinstance(e, ExtractionCompleted)]

    @property
    def failed(self) -> list[ExtractionFailed]:
        return [e for e, _ in self.results if isinstance(e, ExtractionFailed)]


class RecordingObserver(NullObserver):
    """The pipeline's Observer port, keeping what the tests assert on."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def record_skipped(self, *, reason: str) -> None:
        self.skipped.append(reason)


class ListSource:
    """A MessageSource fed from a list; records pause/resume and commits."""

    def __init__(self, messages: Sequence[InboundMessage], *, per_poll: int = 100) -> None:
        self._pending = list(messages)
        self._per_poll = per_poll
        self.commits: list[dict[TopicPartition, int]] = []
        self.paused = False
        self.pause_count = 0
        self.revoke: RevokeCallback | None = None
        self.on_empty: Callable[[], Awaitable[None]] | None = None

    async def poll(self, *, timeout_ms: int) -> list[InboundMessage]:
        await asyncio.sleep(0.001)
        if self.paused or not self._pending:
            if not self._pending and self.on_empty is not None:
                await self.on_empty()
            return []
        batch, self._pending = self._pending[: self._per_poll], self._pending[self._per_poll :]
        return batch

    def pause(self) -> None:
        self.paused = True
        self.pause_count += 1

    def resume(self) -> None:
        self.paused = False

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def on_revoke(self, callback: RevokeCallback) -> None:
        self.revoke = callback

    @property
    def assigned(self) -> bool:
        return True

    def lag(self) -> dict[TopicPartition, int]:
        return {}

    def committed(self) -> dict[TopicPartition, int]:
        merged: dict[TopicPartition, int] = {}
        for commit in self.commits:
            merged.update(commit)
        return merged


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def message(
    value: bytes | None,
    *,
    offset: int = 0,
    partition: int = 0,
    key: bytes | None = None,
    headers: tuple[tuple[str, bytes], ...] = (),
) -> InboundMessage:
    return InboundMessage(
        topic="vl2ingest.requests",
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        headers=headers,
    )
