"""``/livez``, ``/readyz`` and ``/metrics`` over a minimal HTTP/1.1 server on the event loop.

Liveness answers as long as the event loop runs (a blocked loop fails the probe). Readiness is
503 until partitions are assigned and the engine is warm, and again once draining starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from vl2ingest.lifecycle import AsyncResource
from vl2ingest.settings import HealthSettings

_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


class HealthServer(AsyncResource):
    def __init__(
        self,
        settings: HealthSettings,
        *,
        ready: Callable[[], bool],
        metrics: Callable[[], bytes] | None = None,
    ) -> None:
        self._settings = settings
        self._ready = ready
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("HealthServer is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("HealthServer already started")
        self._server = await asyncio.start_server(
            self._handle, self._settings.host, self._settings.port
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            content_type = "text/plain"
            if path == "/livez":
                status = 200
            elif path == "/readyz":
                status = 200 if self._ready() else 503
            elif path == "/metrics" and self._metrics is not None:
                status = 200
                content_type = "text/plain; version=0.0.4; charset=utf-8"
            else:
                status = 404
            if path == "/metrics" and status == 200 and self._metrics is not None:
                body = self._metrics()
            else:
                body = _REASONS[status].lower().encode() + b"\n"
            writer.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
