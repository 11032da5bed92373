"""The stage loop: poll, process concurrently under bounds, commit watermarks, drain on stop.

Polling never stops while the service runs (heartbeats and ``max.poll.interval.ms`` need it):
when in-flight work passes its bound (count OR bytes) the assignment is paused and polling goes
on, returning nothing, until enough work has drained.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from vl2ingest.errors import Disposition, VL2IngestError
from vl2ingest.pipeline.batcher import MicroBatcher
from vl2ingest.pipeline.models import InboundMessage, TopicPartition
from vl2ingest.pipeline.offsets import OffsetTracker
from vl2ingest.pipeline.ports import Clock, Committer, MessageSource, NullObserver, Observer
from vl2ingest.pipeline.processor import Processor
from vl2ingest.settings import PipelineSettings

log = structlog.get_logger("vl2ingest.runner")

_POLL_TIMEOUT_MS = 200


class Runner:
    def __init__(
        self,
        *,
        source: MessageSource,
        processor: Processor,
        batcher: MicroBatcher,
        settings: PipelineSettings,
        commit_interval_ms: int,
        clock: Clock,
        committer: Committer | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._observer: Observer = observer or NullObserver()
        self._source = source
        self._committer: Committer = committer or source
        self._processor = processor
        self._batcher = batcher
        self._settings = settings
        self._commit_interval_s = commit_interval_ms / 1000
        self._clock = clock
        self._tracker = OffsetTracker()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight_bytes = 0
        self._paused = False
        self._stopping = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._progress = asyncio.Condition()
        """Notified whenever a message finishes, for the revoke drain."""
        self.processed = 0

    @property
    def ready(self) -> bool:
        return self._source.assigned and not self._stopping.is_set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def stop(self) -> None:
        """Begin a graceful stop: no more polling, drain, commit, return from :meth:`run`."""
        self._stopping.set()

    async def run(self) -> None:
        self._source.on_revoke(self._on_revoke)
        async with asyncio.TaskGroup() as group:
            batcher = group.create_task(self._batcher.run(), name="batcher")
            committer = group.create_task(self._commit_loop(), name="committer")
            await self._poll_loop(group)
            log.info("draining", in_flight=self.in_flight)
            await self._drain()
            await self._commit()
            batcher.cancel()
            committer.cancel()
        log.info("stopped", processed=self.processed)

    async def _poll_loop(self, group: asyncio.TaskGroup) -> None:
        while not self._stopping.is_set():
            self._apply_backpressure()
            messages = await self._source.poll(timeout_ms=_POLL_TIMEOUT_MS)
            for message in messages:
                self._start(group, message)
            self._observer.in_flight(messages=self.in_flight, size_bytes=self._in_flight_bytes)
            for tp, records in self._source.lag().items():
                self._observer.lag(tp, records)

    def _apply_backpressure(self) -> None:
        limit_count = self._settings.max_in_flight_messages
        limit_bytes = self._settings.max_in_flight_bytes
        if not self._paused and (
            self.in_flight >= limit_count or self._in_flight_bytes >= limit_bytes
        ):
            self._source.pause()
            self._paused = True
            log.info(
                "paused: in-flight bound reached",
                in_flight=self.in_flight,
                in_flight_bytes=self._in_flight_bytes,
            )
        elif self._paused and (
            self.in_flight <= limit_count // 2 and self._in_flight_bytes <= limit_bytes // 2
        ):
            self._source.resume()
            self._paused = False
            log.info("resumed", in_flight=self.in_flight)

    def _start(self, group: asyncio.TaskGroup, message: InboundMessage) -> None:
        self._tracker.add(message.tp, message.offset)
        self._in_flight_bytes += message.size_bytes
        task = group.create_task(self._process(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, message: InboundMessage) -> None:
        try:
            await self._processor.handle(message)
            self._tracker.complete(message.tp, message.offset)
            self.processed += 1
        finally:
            self._in_flight_bytes -= message.size_bytes
            async with self._progress:
                self._progress.notify_all()

    async def _drain(self) -> None:
        try:
            async with asyncio.timeout(self._settings.drain_timeout_s):
                while self._tasks:
                    await asyncio.wait(set(self._tasks))
        except TimeoutError:
            log.warning(
                "drain timed out; unfinished messages will be redelivered",
                unfinished=len(self._tasks),
            )
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _commit_loop(self) -> None:
        while True:
            await self._clock.sleep(self._commit_interval_s)
            await self._commit()

    async def _commit(self, tps: set[TopicPartition] | None = None) -> None:
        async with self._commit_lock:
            offsets = self._tracker.committable(tps)
            if not offsets:
                return
            try:
                await self._committer.commit(offsets)
            except VL2IngestError as exc:
                if exc.disposition is Disposition.FATAL:
                    raise
                log.warning("commit failed; will retry", error=str(exc), error_code=exc.code)
                return
            self._tracker.mark_committed(offsets)

    async def _on_revoke(self, tps: set[TopicPartition]) -> None:
        """Before partitions go: let their in-flight work finish (bounded), then commit it."""
        try:
            async with asyncio.timeout(self._settings.drain_timeout_s), self._progress:
                await self._progress.wait_for(lambda: self._tracker.pending(tps) == 0)
        except TimeoutError:
            log.warning("revoke drain timed out", pending=self._tracker.pending(tps))
        await self._commit(tps)
        self._tracker.forget(tps)
