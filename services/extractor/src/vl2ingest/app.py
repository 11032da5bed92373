"""Composition root: builds every component from settings and runs them as one unit.

Resources are entered into one ``AsyncExitStack`` so teardown runs in reverse order, which is
the drain order of DESIGN section 4: readiness goes 503 and polling stops (runner), in-flight
work finishes and is committed (runner), then the producer stops, then the consumer leaves the
group, then the engine stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from vl2ingest.engines.rapidocr_engine import RapidOcrEngine
from vl2ingest.health import HealthServer
from vl2ingest.imaging.preparer import ImagePreparer
from vl2ingest.kafka import codecs
from vl2ingest.kafka.sink import KafkaResultSink
from vl2ingest.kafka.source import KafkaSource
from vl2ingest.kafka.transactions import TransactionalOutbox
from vl2ingest.pipeline.batcher import MicroBatcher
from vl2ingest.pipeline.budget import Budget
from vl2ingest.pipeline.clock import SystemClock
from vl2ingest.pipeline.ports import Clock, Committer, Engine, ResultSink
from vl2ingest.pipeline.processor import Processor
from vl2ingest.pipeline.runner import Runner
from vl2ingest.settings import EngineSettings, Settings
from vl2ingest.storage.s3 import S3ObjectStore
from vl2ingest.telemetry.metrics import PrometheusMetrics

log = structlog.get_logger("vl2ingest.app")


def build_engine(settings: EngineSettings) -> Engine:
    """The engine named in settings. Test engines are injected into :class:`Service` instead."""
    match settings.name:
        case "rapidocr":
            return RapidOcrEngine(settings)
        case "lmdeploy":
            # Imported here: the module is light, but keeps GPU concerns out of CPU start-up.
            from vl2ingest.engines.lmdeploy_engine import LmdeployEngine

            return LmdeployEngine(settings)


class Service:
    """The whole extractor. ``engine`` may be injected (tests); otherwise it comes from settings."""

    def __init__(
        self, settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
    ) -> None:
        self._settings = settings
        self._engine = engine or build_engine(settings.engine)
        self._clock = clock or SystemClock()
        self._runner: Runner | None = None
        self._stop_requested = False
        self.health_port: int | None = None

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def stop(self) -> None:
        self._stop_requested = True
        if self._runner is not None:
            self._runner.stop()

    async def run(self) -> None:
        settings = self._settings
        engine = self._engine
        # Before the engine loads (minutes on a GPU) and before any partition is claimed.
        codecs.require_all()
        async with contextlib.AsyncExitStack() as stack:
            await engine.start()
            stack.push_async_callback(engine.stop)
            log.info(
                "engine started",
                engine=engine.info.engine,
                model=engine.info.name,
                backend=engine.info.backend,
            )
            metrics = PrometheusMetrics(engine.info)
            budget = Budget(settings.pipeline.max_fetched_bytes)
            store = await stack.enter_async_context(S3ObjectStore(settings.s3, budget=budget))
            preparer = await stack.enter_async_context(ImagePreparer(settings.imaging))
            sink: ResultSink
            committer: Committer | None = None
            if settings.delivery == "exactly_once":
                outbox = await stack.enter_async_context(TransactionalOutbox(settings.kafka))
                source = await stack.enter_async_context(
                    KafkaSource(settings.kafka, ownership=outbox)
                )
                sink, committer = outbox, outbox
            else:
                source = await stack.enter_async_context(KafkaSource(settings.kafka))
                sink = await stack.enter_async_context(KafkaResultSink(settings.kafka))
            batcher = MicroBatcher(
                engine,
                max_batch_images=settings.pipeline.max_batch_images,
                max_batch_image_tokens=settings.pipeline.max_batch_image_tokens,
                observer=metrics,
                linger_ms=settings.pipeline.linger_ms,
                clock=self._clock,
            )
            processor = Processor(
                store=store,
                preparer=preparer,
                batcher=batcher,
                sink=sink,
                engine_info=engine.info,
                settings=settings.pipeline,
                allowed_buckets=settings.s3.allowed_buckets,
                default_max_new_tokens=settings.engine.max_new_tokens,
                clock=self._clock,
                budget=budget,
                ahead=Budget(settings.pipeline.max_images_ahead),
                observer=metrics,
            )
            runner = Runner(
                source=source,
                processor=processor,
                batcher=batcher,
                settings=settings.pipeline,
                commit_interval_ms=settings.kafka.commit_interval_ms,
                clock=self._clock,
                committer=committer,
                observer=metrics,
            )
            self._runner = runner
            health = await stack.enter_async_context(
                HealthServer(settings.health, ready=lambda: runner.ready, metrics=metrics.render)
            )
            self.health_port = health.port
            if self._stop_requested:
                runner.stop()
            log.info(
                "service started",
                requests_topic=settings.kafka.requests_topic,
                group=settings.kafka.group_id,
                health_port=health.port,
                codecs=sorted(name for name, ok in codecs.available().items() if ok),
                compression=settings.kafka.compression_type,
            )
            await runner.run()


async def serve(service: Service) -> None:
    """Run until SIGTERM/SIGINT; the first signal drains, a second cancels at once."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal(signum: signal.Signals) -> None:
        if service.stopping and main is not None:
            log.warning("second signal: stopping now", signal=signum.name)
            main.cancel()
            return
        log.info("signal received: draining", signal=signum.name)
        service.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await service.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
