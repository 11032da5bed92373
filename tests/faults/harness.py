"""Tools for fault scenarios: the service as a killable process, a live results tally, and the
figures each scenario reports into docs/reliability.md."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from tests.support.fakes import png_bytes
from tests.support.servers import S3Endpoint
from tests.support.stack import Topics

from vl2ingest_events import ExtractionFailed, ExtractionRequested, ImageRef, decode_result, encode

ROOT = Path(__file__).parents[2]


class ServiceProcess:
    """``python -m tests.faults.service_main`` with the given settings environment."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = {**os.environ, **env}
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(  # our own module, fixed arguments
                [sys.executable, "-m", "tests.faults.service_main"],
                env=self._env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no drain, no commit, no goodbye."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def terminate(self, timeout_s: float = 60) -> int:
        """SIGTERM and wait for the drain; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def stop_quietly(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_quietly()  # whatever happened, leave no process behind


@dataclass
class Tally:
    """Every result event seen on the results topic, by request id."""

    events: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failed_codes: dict[str, str] = field(default_factory=dict)
    count: int = 0
    last_at: float = 0.0
    produced_at: list[datetime] = field(default_factory=list)
    """``occurred_at`` of every event: when the service produced it, whatever our read lag."""
    good_times: list[float] = field(default_factory=list)
    """Arrival times of completed results (the good traffic)."""

    def add(self, data: bytes) -> None:
        event = decode_result(data)
        self.events[event.request_id].append(event.event_id)
        if isinstance(event, ExtractionFailed):
            self.failed_codes[event.request_id] = event.error.code
        else:
            self.good_times.append(time.monotonic())
        self.count += 1
        self.last_at = time.monotonic()
        self.produced_at.append(event.occurred_at)

    async def outcomes(self, n: int, *, timeout_s: float = 240, what: str = "") -> None:
        """Wait until ``n`` distinct requests have an outcome."""
        await wait_until(
            lambda: len(self.events) >= n,
            timeout_s=timeout_s,
            what=what or f"an outcome for {n} requests",
        )

    def first_after(self, moment: datetime) -> datetime | None:
        """The earliest event produced after ``moment`` (e.g. a restart), if any yet."""
        later = [at for at in self.produced_at if at > moment]
        return min(later) if later else None

    @property
    def good_rate(self) -> float:
        """Completed results per second, between the first and the last completed one."""
        span = self.good_times[-1] - self.good_times[0] if self.good_times else 0.0
        return len(self.good_times) / span if span > 0 else float("inf")

    @property
    def duplicates(self) -> int:
        return self.count - len(self.events)

    def consistent_event_ids(self) -> bool:
        """Every duplicate of a request carries the same event_id."""
        return all(len(set(ids)) == 1 for ids in self.events.values())


@contextlib.asynccontextmanager
async def tally(kafka: str, topic: str) -> AsyncIterator[Tally]:
    """Consume ``topic`` from the start in the background while the scenario runs."""
    result = Tally()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()

    async def pump() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    result.add(record.value)

    task = asyncio.create_task(pump())
    try:
        yield result
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def wait_until(predicate: object, *, timeout_s: float, what: str) -> None:
    """Poll a condition (a zero-argument callable) until it holds, or fail naming it."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


async def produce_many(kafka: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Publish quickly (pipelined sends), then wait for every acknowledgement."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=10
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass
class Figures:
    """One scenario's measured figures, written into docs/reliability.md by the suite."""

    scenario: str
    requests: int
    lost: int
    duplicates: int
    details: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, scenario: str, requests: int, seen: Tally, **details: object) -> Figures:
        """Lost and duplicates from the tally; details as given (names with _ as spaces)."""
        return cls(
            scenario=scenario,
            requests=requests,
            lost=requests - len(seen.events),
            duplicates=seen.duplicates,
            details={k.replace("_", " "): str(v) for k, v in details.items()},
        )


class DevStack:
    """Stop and restart the dev stack's servers (only processes our script started, by PID)."""

    STATE = ROOT / ".cache" / "devstack"

    def __init__(self) -> None:
        if not (self.STATE / "kafka" / "kafka.pid").exists():
            raise AssertionError(
                "this scenario stops and restarts servers: it needs the dev stack "
                "(scripts/devstack.sh up), not external endpoints"
            )

    def _stop(self, pid_file: Path) -> None:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        raise AssertionError(f"pid {pid} did not exit")

    def stop_s3(self) -> None:
        self._stop(self.STATE / "s3" / "versitygw.pid")

    def stop_kafka(self) -> None:
        self._stop(self.STATE / "kafka" / "kafka.pid")

    def start(self) -> None:
        """Start whatever is stopped (the script is idempotent for what runs)."""
        subprocess.run(  # noqa: S603  # our own script
            [str(ROOT / "scripts" / "devstack.sh"), "up"], check=True, capture_output=True
        )


OBJECTS = 20


def service_env(kafka: str, s3: S3Endpoint, topics: Topics, bucket: str) -> dict[str, str]:
    return {
        "VL2INGEST_KAFKA__BOOTSTRAP_SERVERS": kafka,
        "VL2INGEST_KAFKA__REQUESTS_TOPIC": topics.requests,
        "VL2INGEST_KAFKA__RESULTS_TOPIC": topics.results,
        "VL2INGEST_KAFKA__DLQ_TOPIC": topics.dlq,
        "VL2INGEST_KAFKA__GROUP_ID": topics.group,
        "VL2INGEST_KAFKA__COMMIT_INTERVAL_MS": "200",
        "VL2INGEST_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "VL2INGEST_S3__ENDPOINT_URL": s3.url,
        "VL2INGEST_S3__ACCESS_KEY_ID": s3.access_key,
        "VL2INGEST_S3__SECRET_ACCESS_KEY": s3.secret_key,
        "VL2INGEST_S3__ADDRESSING_STYLE": "path",
        "VL2INGEST_S3__ALLOWED_BUCKETS": bucket,
        "VL2INGEST_PIPELINE__MAX_BATCH_IMAGES": "16",
        "VL2INGEST_PIPELINE__RETRY_BASE_MS": "100",
        "VL2INGEST_HEALTH__PORT": "0",
        "VL2INGEST_LOG__LEVEL": "warning",
    }


def upload_objects(s3_client: Any, bucket: str) -> list[str]:
    uris = []
    for i in range(OBJECTS):
        key = f"img/{i:02d}.png"
        s3_client.put_object(Bucket=bucket, Key=key, Body=png_bytes(40 + i, 30))
        uris.append(f"s3://{bucket}/{key}")
    return uris


def requests_for(uris: list[str], n: int) -> list[tuple[bytes, bytes]]:
    records = []
    for i in range(n):
        request_id = f"r-{i:05d}"
        event = ExtractionRequested(
            request_id=request_id, images=(ImageRef(uri=uris[i % len(uris)]),)
        )
        records.append((request_id.encode(), encode(event)))
    return records


@dataclass
class Scenario:
    """One fault scenario's world: the servers, its own topics and bucket, and the report."""

    kafka: str
    s3: S3Endpoint
    s3_client: Any
    bucket: str
    topics: Topics
    figures: list[Figures]
    workdir: Path

    def env(self, topics: Topics | None = None, **settings: str) -> dict[str, str]:
        """The service's environment for these servers, plus ``VL2INGEST_*=value`` overrides."""
        return {**service_env(self.kafka, self.s3, topics or self.topics, self.bucket), **settings}

    def requests(self, n: int) -> list[tuple[bytes, bytes]]:
        """Upload the shared images and return ``n`` request records for them."""
        return requests_for(upload_objects(self.s3_client, self.bucket), n)

    async def queue_requests(self, n: int) -> None:
        await produce_many(self.kafka, self.topics.requests, self.requests(n))

    def service(self, env: dict[str, str], name: str = "service") -> ServiceProcess:
        return ServiceProcess(env, self.workdir / f"{name}.log")

    def tally(self, topics: Topics | None = None) -> contextlib.AbstractAsyncContextManager[Tally]:
        return tally(self.kafka, (topics or self.topics).results)

    def report(self, scenario: str, requests: int, seen: Tally, **details: object) -> None:
        self.figures.append(Figures.of(scenario, requests, seen, **details))
