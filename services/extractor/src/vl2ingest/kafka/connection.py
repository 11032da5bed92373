"""Connection and security options shared by the consumer and the producers."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from vl2ingest.settings import KafkaSettings


def connection_options(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka keyword arguments for bootstrap, client id and SASL/SSL."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": settings.request_timeout_ms,
    }
    if settings.security_protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = create_ssl_context(
            cafile=settings.ssl_cafile,
            certfile=settings.ssl_certfile,
            keyfile=settings.ssl_keyfile,
        )
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.reveal() if settings.sasl_password else None
        )
    return options


def producer_options(settings: KafkaSettings) -> dict[str, Any]:
    """What the results and DLQ producers add to :func:`connection_options`."""
    compression = settings.compression_type
    return {"compression_type": None if compression == "none" else compression}
