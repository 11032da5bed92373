"""Notification-driven ingestion under a crash: a real S3 server's own notifications are the
requests, and a SIGKILL mid-stream loses none of the uploads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.faults.harness import Figures, ServiceProcess, Tally, service_env, tally
from tests.support.fakes import png_bytes
from tests.support.notifying_s3 import client_for, notifying_versitygw
from tests.support.stack import Topics, committed_offsets, end_offsets

from vl2ingest_events.s3_notification import request_id_for_object

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

UPLOADS = 300


async def test_sigkill_mid_stream_loses_no_upload(
    kafka: str, topics: Topics, tmp_path: Path, figures: list[Figures]
) -> None:
    """300 PUTs into a versitygw that notifies the requests topic (half the keys with a space
    and '+', sent raw), SIGKILL the service after a third of the outcomes, restart it: the set
    of completed request ids is exactly the set of uploads, nothing failed, and the group's
    committed offsets reach the end of the requests topic."""
    bucket = "uploads"
    with notifying_versitygw(kafka, topics.requests, tmp_path) as s3:
        client = client_for(s3)
        client.create_bucket(Bucket=bucket)
        expected: set[str] = set()
        for i in range(UPLOADS):
            key = f"scans/{i:03d} copy+{i % 7}.png" if i % 2 else f"scans/{i:03d}.png"
            etag = client.put_object(Bucket=bucket, Key=key, Body=png_bytes(40 + i % 50, 30))
            expected.add(request_id_for_object(bucket, key, None, etag["ETag"]))
        notes = UPLOADS + 1  # and the test event sent at start

        count = 0
        async with asyncio.timeout(120):  # versitygw publishes asynchronously after each PUT
            while count < notes:
                count = sum((await end_offsets(kafka, topics.requests)).values())
                await asyncio.sleep(0.2)
        assert count == notes, f"versitygw published {count} of {notes} notifications"

        env = {**service_env(kafka, s3, topics, bucket), "VL2INGEST_LOG__LEVEL": "warning"}
        seen: Tally
        async with tally(kafka, topics.results) as seen:
            with ServiceProcess(env, tmp_path / "service.log") as service:
                await seen.outcomes(UPLOADS // 3, what="a third of the results before the kill")
                service.kill()
                at_kill = len(seen.events)
                service.start()
                await seen.outcomes(UPLOADS, what="an outcome for every upload")
                assert service.terminate() == 0
    committed = await committed_offsets(kafka, topics.group, topics.requests)
    ends = await end_offsets(kafka, topics.requests)
    lost = len(expected - set(seen.events))
    figures.append(
        Figures(
            scenario="SIGKILL mid-stream, requests from S3 notifications (versitygw)",
            requests=UPLOADS,
            lost=lost,
            duplicates=seen.duplicates,
            details={
                "kills": "1",
                "outcomes at kill": str(at_kill),
                "failed": str(len(seen.failed_codes)),
            },
        )
    )
    assert set(seen.events) == expected
    assert seen.failed_codes == {}
    assert seen.consistent_event_ids()
    assert committed == {p: end for p, end in ends.items() if end > 0}
