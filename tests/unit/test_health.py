"""Probes: /livez answers while the loop runs; /readyz follows readiness; /metrics serves text."""

from __future__ import annotations

from tests.support.http import http_get

from vl2ingest.health import HealthServer
from vl2ingest.settings import HealthSettings


async def test_probe_statuses() -> None:
    """/livez is 200; /readyz is 503 until ready and 200 after; unknown paths are 404."""
    ready = False
    async with HealthServer(HealthSettings(host="127.0.0.1", port=0), ready=lambda: ready) as srv:
        assert (await http_get(srv.port, "/livez"))[0] == 200
        assert (await http_get(srv.port, "/readyz"))[0] == 503
        ready = True
        assert (await http_get(srv.port, "/readyz"))[0] == 200
        assert (await http_get(srv.port, "/nothing-here"))[0] == 404
        assert (await http_get(srv.port, "/metrics"))[0] == 404  # none configured


async def test_metrics_endpoint_serves_the_exposition() -> None:
    """/metrics returns what the metrics callback renders."""
    settings = HealthSettings(host="127.0.0.1", port=0)
    async with HealthServer(settings, ready=lambda: True, metrics=lambda: b"m 1\n") as srv:
        assert await http_get(srv.port, "/metrics") == (200, b"m 1\n")
