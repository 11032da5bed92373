"""Kill the service mid-stream, stop it under load, rebalance it: nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime

import pytest
from tests.faults.harness import Scenario, wait_until
from tests.support.stack import committed_offsets

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

DELIVERY_MODES = ["at_least_once", "exactly_once"]


def _mode(delivery: str) -> str:
    return delivery.replace("_", "-")


@pytest.mark.parametrize("delivery", DELIVERY_MODES)
async def test_sigkill_mid_stream_loses_nothing(delivery: str, scenario: Scenario) -> None:
    """SIGKILL the service after a third of 2,000 requests, restart it: every request has an
    outcome; at-least-once duplicates are only redeliveries with the same event_id, and
    exactly-once shows one committed result per request to a read_committed consumer."""
    n = 2000
    await scenario.queue_requests(n)
    env = scenario.env(VL2INGEST_DELIVERY=delivery)
    async with scenario.tally() as seen:
        with scenario.service(env, "service") as service:
            await seen.outcomes(n // 3, what="a third of the results before the kill")
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
            await seen.outcomes(n)
            assert service.terminate() == 0
    scenario.report(
        f"SIGKILL mid-stream, {_mode(delivery)}",
        n,
        seen,
        kills=1,
        outcomes_at_kill=at_kill,
        recovery_restart_to_first_result=f"{(first - restarted).total_seconds():.1f} s",
        failed=len(seen.failed_codes),
    )
    assert len(seen.events) == n
    assert seen.failed_codes == {}
    assert seen.consistent_event_ids(), dict(seen.failed_codes)
    if delivery == "exactly_once":
        assert seen.duplicates == 0


async def test_sigterm_under_load_drains_commits_and_exits_0(scenario: Scenario) -> None:
    """SIGTERM while requests are in flight: the service finishes them, commits, exits 0, and a
    restart neither loses nor repeats anything that was committed."""
    n = 600
    await scenario.queue_requests(n)
    env = scenario.env(VL2INGEST_TEST_ENGINE_BATCH_S="0.02")
    async with scenario.tally() as seen:
        with scenario.service(env, "service") as service:
            await seen.outcomes(n // 4, what="a quarter of the results before SIGTERM")
            started = time.monotonic()
            code = service.terminate(timeout_s=60)
            drain_s = time.monotonic() - started
            offsets = await committed_offsets(
                scenario.kafka, scenario.topics.group, scenario.topics.requests
            )
            service.start()
            await seen.outcomes(n, what="an outcome for every request after the restart")
            assert service.terminate() == 0
    scenario.report(
        "SIGTERM under load",
        n,
        seen,
        exit_code=code,
        drain=f"{drain_s:.1f} s",
        committed_at_stop=sum(offsets.values()),
    )
    assert code == 0
    # No duplicate after the restart: everything processed before the stop was committed.
    assert seen.duplicates == 0
    assert len(seen.events) == n


async def test_second_signal_stops_at_once_and_loses_nothing(scenario: Scenario) -> None:
    """A second SIGTERM during a slow drain exits at once (code 130) without committing what
    is unfinished; a restart then completes every request."""
    n = 300
    await scenario.queue_requests(n)
    env = scenario.env(
        VL2INGEST_TEST_ENGINE_BATCH_S="1.0",  # a slow engine: the drain would take long
        VL2INGEST_PIPELINE__DRAIN_TIMEOUT_S="60",
    )
    async with scenario.tally() as seen:
        with scenario.service(env, "service") as service:
            await wait_until(lambda: seen.count >= 16, timeout_s=120, what="the first results")
            assert service.process is not None
            started = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            service.process.send_signal(signal.SIGTERM)
            code = service.process.wait(timeout=30)
            stop_s = time.monotonic() - started
            service.start()
            await seen.outcomes(n, timeout_s=300, what="every outcome after the restart")
            assert service.terminate(timeout_s=120) == 0
    scenario.report(
        "second SIGTERM during a slow drain",
        n,
        seen,
        exit_code=code,
        stopped_after=f"{stop_s:.1f} s",
    )
    assert code == 130
    assert stop_s < 10
    assert len(seen.events) == n
    assert seen.consistent_event_ids(), dict(seen.failed_codes)


@pytest.mark.parametrize("delivery", DELIVERY_MODES)
async def test_group_scale_out_and_in_loses_nothing(delivery: str, scenario: Scenario) -> None:
    """Two instances share the group, a third joins mid-stream and one leaves (SIGTERM): the
    rebalances drain and commit, and every request gets an outcome."""
    n = 1500
    await scenario.queue_requests(n)
    env = scenario.env(VL2INGEST_TEST_ENGINE_BATCH_S="0.03", VL2INGEST_DELIVERY=delivery)
    async with scenario.tally() as seen:
        with (
            scenario.service(env, "pod0") as first,
            scenario.service(env, "pod1") as second,
        ):
            await seen.outcomes(n // 4, what="a quarter of the results")
            with scenario.service(env, "pod2") as third:  # scale out
                await seen.outcomes(n // 2, what="half of the results")
                left_code = first.terminate()  # scale in
                await seen.outcomes(n)
                codes = [second.terminate(), third.terminate()]
    scenario.report(
        f"group: 2 instances, a 3rd joins, one leaves, {_mode(delivery)}",
        n,
        seen,
        leaving_instance_exit_code=left_code,
        other_exit_codes=",".join(map(str, codes)),
        failed=len(seen.failed_codes),
    )
    assert len(seen.events) == n
    assert seen.failed_codes == {}
    assert seen.consistent_event_ids(), dict(seen.failed_codes)
    assert left_code == 0
    assert codes == [0, 0]
    if delivery == "exactly_once":
        assert seen.duplicates == 0
