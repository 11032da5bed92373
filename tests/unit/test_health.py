"""Probes: /livez answers while the loop runs; /readyz follows the readiness callback."""

from __future__ import annotations

import asyncio

from vl2ingest.health import HealthServer
from vl2ingest.settings import HealthSettings


async def get(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def test_probe_statuses() -> None:
    """/livez is 200; /readyz is 503 until ready and 200 after; unknown paths are 404."""
    ready = False
    async with HealthServer(HealthSettings(host="127.0.0.1", port=0), ready=lambda: ready) as srv:
        assert await get(srv.port, "/livez") == 200
        assert await get(srv.port, "/readyz") == 503
        ready = True
        assert await get(srv.port, "/readyz") == 200
        assert await get(srv.port, "/metrics-not-here") == 404
