"""The results and DLQ producer, behind the pipeline's ``ResultSink`` port."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from vl2ingest.errors import PublishFailed
from vl2ingest.kafka.connection import connection_options, producer_options
from vl2ingest.lifecycle import AsyncResource
from vl2ingest.pipeline.models import InboundMessage
from vl2ingest.settings import KafkaSettings
from vl2ingest_events import ResultEvent, encode


class KafkaResultSink(AsyncResource):
    """Idempotent producer, ``acks=all``: a result counts only once the broker has it."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self.producer = AIOKafkaProducer(
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            **producer_options(settings),
            **connection_options(settings),
        )
        self._started = False

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("KafkaResultSink already started")
        self._started = True
        await self.producer.start()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.producer.stop()  # flushes what is pending

    async def publish(
        self,
        event: ResultEvent,
        *,
        headers: Sequence[tuple[str, bytes]],
        source: InboundMessage,
    ) -> None:
        await self._send(
            self._settings.results_topic, event.request_id.encode(), encode(event), headers
        )

    async def dead_letter(
        self, message: InboundMessage, *, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        await self._send(self._settings.dlq_topic, message.key, message.value, headers)

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        try:
            await self.producer.send_and_wait(topic, value=value, key=key, headers=list(headers))
        except KafkaError as exc:
            raise PublishFailed(f"publishing to {topic!r} failed: {exc}") from exc
