"""The protocols the pipeline needs. Adapters implement them; the pipeline imports no adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from vl2ingest.errors import VL2IngestError
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
from vl2ingest_events import ResultEvent

RevokeCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class Engine(Protocol):
    """A model server. ``infer`` returns one output or one classified error per request."""

    @property
    def info(self) -> EngineInfo: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def infer(
        self, batch: Sequence[EngineRequest]
    ) -> list[EngineOutput | VL2IngestError]: ...

    async def check_health(self) -> bool: ...


class ObjectStore(Protocol):
    async def get(self, location: S3Location) -> FetchedObject:
        """Fetch one object; raise a classified :class:`VL2IngestError` on failure."""
        ...


class Preparer(Protocol):
    async def prepare(
        self, objects: Sequence[FetchedObject], *, engine: EngineInfo
    ) -> tuple[PreparedImage, ...]:
        """Decode, orient and plan the images of ONE turn, off the event loop, into the input
        the engine consumes (``engine.image_input``): images leave this stage at final size."""
        ...


class ResultSink(Protocol):
    async def publish(
        self,
        event: ResultEvent,
        *,
        headers: Sequence[tuple[str, bytes]],
        source: InboundMessage,
    ) -> None:
        """Publish the result of a request read from ``source``.

        At-least-once: returns once the broker acknowledged it. Exactly-once: returns once it is
        staged in the transaction that will also commit ``source``'s offset.
        """
        ...

    async def dead_letter(
        self, message: InboundMessage, *, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Copy the raw inbound record to the DLQ with provenance headers; wait for the ack."""
        ...


class MessageSource(Protocol):
    async def poll(self, *, timeout_ms: int) -> list[InboundMessage]: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None: ...

    def on_revoke(self, callback: RevokeCallback) -> None: ...

    @property
    def assigned(self) -> bool: ...

    def lag(self) -> Mapping[TopicPartition, int]:
        """Records behind the partition's end, per assigned partition, as of the last poll."""
        ...


class Committer(Protocol):
    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Make ``offsets`` (next offset to read, per partition) durable for the group."""
        ...


class Observer(Protocol):
    """What the pipeline reports for metrics; telemetry/metrics.py implements it."""

    def request_finished(
        self, *, outcome: str, code: str, images: int, stage_ms: Mapping[str, float]
    ) -> None: ...

    def batch_finished(self, *, images: int, busy_s: float) -> None: ...

    def record_skipped(self, *, reason: str) -> None:
        """An inbound record that yields no request on purpose (e.g. an S3 test event)."""
        ...

    def tokens(self, *, input_tokens: int, output_tokens: int) -> None: ...

    def in_flight(self, *, messages: int, size_bytes: int) -> None: ...

    def lag(self, tp: TopicPartition, records: int) -> None: ...


class NullObserver:
    """Reports nowhere (tests, tools)."""

    def request_finished(
        self, *, outcome: str, code: str, images: int, stage_ms: Mapping[str, float]
    ) -> None:
        return None

    def batch_finished(self, *, images: int, busy_s: float) -> None:
        return None

    def record_skipped(self, *, reason: str) -> None:
        return None

    def tokens(self, *, input_tokens: int, output_tokens: int) -> None:
        return None

    def in_flight(self, *, messages: int, size_bytes: int) -> None:
        return None

    def lag(self, tp: TopicPartition, records: int) -> None:
        return None


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...
