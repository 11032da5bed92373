"""Prometheus metrics on a registry of our own (no global registry), served at ``/metrics``.

Implements the pipeline's ``Observer`` port. Every series carries the engine and the backend
that really runs, so a silent TurboMind -> PyTorch fallback is visible in dashboards too.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from vl2ingest.pipeline.models import EngineInfo, TopicPartition

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class PrometheusMetrics:
    def __init__(self, engine: EngineInfo) -> None:
        self.registry = CollectorRegistry()
        self._labels = {"engine": engine.engine, "backend": engine.backend}
        names = ["engine", "backend"]
        self._requests = Counter(
            "vl2ingest_requests",
            "Requests finished, by outcome and error code",
            [*names, "outcome", "code"],
            registry=self.registry,
        )
        self._images = Counter(
            "vl2ingest_images",
            "Images in finished requests",
            [*names, "outcome"],
            registry=self.registry,
        )
        self._stage = Histogram(
            "vl2ingest_stage_seconds",
            "Time per request spent in each stage",
            [*names, "stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._batch = Histogram(
            "vl2ingest_batch_images",
            "Images per engine batch",
            names,
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self._busy = Counter(
            "vl2ingest_engine_busy_seconds",
            "Seconds the engine spent running batches (rate() of it is the busy ratio)",
            names,
            registry=self.registry,
        )
        self._tokens = Counter(
            "vl2ingest_tokens", "Model tokens", [*names, "kind"], registry=self.registry
        )
        self._in_flight = Gauge(
            "vl2ingest_in_flight_messages", "Kafka records being processed", registry=self.registry
        )
        self._in_flight_bytes = Gauge(
            "vl2ingest_in_flight_bytes",
            "Bytes of Kafka records being processed",
            registry=self.registry,
        )
        self._skipped = Counter(
            "vl2ingest_records_skipped",
            "Inbound records that yield no request on purpose, by reason (test_event: an S3 "
            "server's test event; ignored_event: an S3 event other than ObjectCreated; "
            "no_records: a notification with an empty Records list)",
            ["reason"],
            registry=self.registry,
        )
        self._lag = Gauge(
            "vl2ingest_consumer_lag",
            "Records behind the end of each assigned partition",
            ["topic", "partition"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def request_finished(
        self, *, outcome: str, code: str, images: int, stage_ms: Mapping[str, float]
    ) -> None:
        self._requests.labels(**self._labels, outcome=outcome, code=code).inc()
        self._images.labels(**self._labels, outcome=outcome).inc(images)
        for stage, ms in stage_ms.items():
            self._stage.labels(**self._labels, stage=stage).observe(ms / 1000)

    def batch_finished(self, *, images: int, busy_s: float) -> None:
        self._batch.labels(**self._labels).observe(images)
        self._busy.labels(**self._labels).inc(busy_s)

    def record_skipped(self, *, reason: str) -> None:
        self._skipped.labels(reason=reason).inc()

    def tokens(self, *, input_tokens: int, output_tokens: int) -> None:
        self._tokens.labels(**self._labels, kind="input").inc(input_tokens)
        self._tokens.labels(**self._labels, kind="output").inc(output_tokens)

    def in_flight(self, *, messages: int, size_bytes: int) -> None:
        self._in_flight.set(messages)
        self._in_flight_bytes.set(size_bytes)

    def lag(self, tp: TopicPartition, records: int) -> None:
        self._lag.labels(topic=tp[0], partition=str(tp[1])).set(records)
