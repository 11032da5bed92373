"""Kill the service mid-stream, and stop it gracefully under load: nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.faults.harness import (
    Figures,
    ServiceProcess,
    produce_many,
    requests_for,
    service_env,
    tally,
    upload_objects,
    wait_until,
)
from tests.support.servers import S3Endpoint
from tests.support.stack import Topics, committed_offsets

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

REQUESTS = 2000


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_sigkill_mid_stream_loses_nothing(
    delivery: str,
    kafka: str,
    s3: S3Endpoint,
    s3_client: Any,
    bucket: str,
    topics: Topics,
    figures: list[Figures],
    tmp_path: Path,
) -> None:
    """SIGKILL the service after a third of 2,000 requests, restart it: every request has an
    outcome; at-least-once duplicates are only redeliveries with the same event_id, and
    exactly-once shows one committed result per request to a read_committed consumer."""
    uris = upload_objects(s3_client, bucket)
    await produce_many(kafka, topics.requests, requests_for(uris, REQUESTS))
    env = {**service_env(kafka, s3, topics, bucket), "VL2INGEST_DELIVERY": delivery}
    service = ServiceProcess(env, tmp_path / "service.log")
    async with tally(kafka, topics.results) as seen:
        service.start()
        try:
            await wait_until(
                lambda: len(seen.events) >= REQUESTS // 3,
                timeout_s=180,
                what="a third of the results before the kill",
            )
            service.kill()
            at_kill = len(seen.events)
            restarted = datetime.now(UTC)
            service.start()
            await wait_until(
                lambda: seen.first_after(restarted) is not None,
                timeout_s=120,
                what="the first result produced after the restart",
            )
            first = seen.first_after(restarted)
            assert first is not None
            recovery_s = (first - restarted).total_seconds()
            await wait_until(
                lambda: len(seen.events) >= REQUESTS,
                timeout_s=300,
                what="an outcome for every request",
            )
            assert service.terminate() == 0
        finally:
            service.stop_quietly()
    lost = REQUESTS - len(seen.events)
    figures.append(
        Figures(
            scenario=f"SIGKILL mid-stream, {delivery.replace('_', '-')}",
            requests=REQUESTS,
            lost=lost,
            duplicates=seen.duplicates,
            details={
                "kills": "1",
                "outcomes at kill": str(at_kill),
                "recovery (restart to first result)": f"{recovery_s:.1f} s",
                "failed": str(len(seen.failed_codes)),
            },
        )
    )
    assert lost == 0
    assert seen.failed_codes == {}
    assert seen.consistent_event_ids()
    if delivery == "exactly_once":
        assert seen.duplicates == 0


async def test_sigterm_under_load_drains_commits_and_exits_0(
    kafka: str,
    s3: S3Endpoint,
    s3_client: Any,
    bucket: str,
    topics: Topics,
    figures: list[Figures],
    tmp_path: Path,
) -> None:
    """SIGTERM while requests are in flight: the service finishes them, commits, exits 0, and a
    restart neither loses nor repeats anything that was committed."""
    uris = upload_objects(s3_client, bucket)
    n = 600
    await produce_many(kafka, topics.requests, requests_for(uris, n))
    env = {**service_env(kafka, s3, topics, bucket), "VL2INGEST_TEST_ENGINE_BATCH_S": "0.02"}
    service = ServiceProcess(env, tmp_path / "service.log")
    async with tally(kafka, topics.results) as seen:
        service.start()
        try:
            await wait_until(
                lambda: len(seen.events) >= n // 4,
                timeout_s=180,
                what="a quarter of the results before SIGTERM",
            )
            started = time.monotonic()
            code = service.terminate(timeout_s=60)
            drain_s = time.monotonic() - started
            committed = sum(
                (await committed_offsets(kafka, topics.group, topics.requests)).values()
            )
            service.start()
            await wait_until(
                lambda: len(seen.events) >= n,
                timeout_s=180,
                what="an outcome for every request after the restart",
            )
            assert service.terminate() == 0
        finally:
            service.stop_quietly()
    figures.append(
        Figures(
            scenario="SIGTERM under load",
            requests=n,
            lost=n - len(seen.events),
            duplicates=seen.duplicates,
            details={
                "exit code": str(code),
                "drain": f"{drain_s:.1f} s",
                "committed at stop": str(committed),
            },
        )
    )
    assert code == 0
    # No duplicate after the restart: everything processed before the stop was committed.
    assert seen.duplicates == 0
    assert len(seen.events) == n


@pytest.mark.parametrize("delivery", ["at_least_once", "exactly_once"])
async def test_group_scale_out_and_in_loses_nothing(
    delivery: str,
    kafka: str,
    s3: S3Endpoint,
    s3_client: Any,
    bucket: str,
    topics: Topics,
    figures: list[Figures],
    tmp_path: Path,
) -> None:
    """Two instances share the group, a third joins mid-stream and one leaves (SIGTERM): the
    rebalances drain and commit, and every request gets an outcome."""
    uris = upload_objects(s3_client, bucket)
    n = 1500
    await produce_many(kafka, topics.requests, requests_for(uris, n))
    env = {
        **service_env(kafka, s3, topics, bucket),
        "VL2INGEST_TEST_ENGINE_BATCH_S": "0.03",
        "VL2INGEST_DELIVERY": delivery,
    }
    pods = [ServiceProcess(env, tmp_path / f"pod{i}.log") for i in range(3)]
    async with tally(kafka, topics.results) as seen:
        try:
            pods[0].start()
            pods[1].start()
            await wait_until(
                lambda: len(seen.events) >= n // 4, timeout_s=180, what="a quarter of the results"
            )
            pods[2].start()  # scale out
            await wait_until(
                lambda: len(seen.events) >= n // 2, timeout_s=180, what="half of the results"
            )
            left_code = pods[0].terminate()  # scale in
            await wait_until(
                lambda: len(seen.events) >= n, timeout_s=240, what="an outcome for every request"
            )
            codes = [pods[1].terminate(), pods[2].terminate()]
        finally:
            for pod in pods:
                pod.stop_quietly()
    figures.append(
        Figures(
            scenario=f"group: 2 instances, a 3rd joins, one leaves, {delivery.replace('_', '-')}",
            requests=n,
            lost=n - len(seen.events),
            duplicates=seen.duplicates,
            details={
                "leaving instance exit code": str(left_code),
                "other exit codes": ",".join(map(str, codes)),
                "failed": str(len(seen.failed_codes)),
            },
        )
    )
    assert len(seen.events) == n
    assert seen.failed_codes == {}
    assert seen.consistent_event_ids()
    assert left_code == 0
    assert codes == [0, 0]
    if delivery == "exactly_once":
        assert seen.duplicates == 0


async def test_second_signal_stops_at_once_and_loses_nothing(
    kafka: str,
    s3: S3Endpoint,
    s3_client: Any,
    bucket: str,
    topics: Topics,
    figures: list[Figures],
    tmp_path: Path,
) -> None:
    """A second SIGTERM during a slow drain exits at once (code 130) without committing what
    is unfinished; a restart then completes every request."""
    uris = upload_objects(s3_client, bucket)
    n = 300
    await produce_many(kafka, topics.requests, requests_for(uris, n))
    env = {
        **service_env(kafka, s3, topics, bucket),
        "VL2INGEST_TEST_ENGINE_BATCH_S": "1.0",  # a slow engine: the drain would take long
        "VL2INGEST_PIPELINE__DRAIN_TIMEOUT_S": "60",
    }
    service = ServiceProcess(env, tmp_path / "service.log")
    async with tally(kafka, topics.results) as seen:
        service.start()
        try:
            await wait_until(lambda: seen.count >= 16, timeout_s=120, what="the first results")
            assert service.process is not None
            started = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            service.process.send_signal(signal.SIGTERM)
            code = service.process.wait(timeout=30)
            stop_s = time.monotonic() - started
            service.start()
            await wait_until(
                lambda: len(seen.events) >= n, timeout_s=300, what="every outcome after restart"
            )
            assert service.terminate(timeout_s=120) == 0
        finally:
            service.stop_quietly()
    figures.append(
        Figures(
            scenario="second SIGTERM during a slow drain",
            requests=n,
            lost=n - len(seen.events),
            duplicates=seen.duplicates,
            details={"exit code": str(code), "stopped after": f"{stop_s:.1f} s"},
        )
    )
    assert code == 130
    assert stop_s < 10
    assert len(seen.events) == n
    assert seen.consistent_event_ids()
