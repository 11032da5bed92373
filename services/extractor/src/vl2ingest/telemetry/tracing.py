"""OpenTelemetry tracing, configured by the standard ``OTEL_*`` variables.

Spans are exported with OTLP/HTTP when an OTLP endpoint is configured; otherwise a provider is
still installed (so trace ids exist and propagate into events and logs) but nothing is exported.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import vl2ingest

_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def configure_tracing(environ: Mapping[str, str]) -> TracerProvider:
    resource = Resource.create(
        {"service.name": "vl2ingest", "service.version": vl2ingest.__version__}
    )
    provider = TracerProvider(resource=resource)
    if environ.get("OTEL_SDK_DISABLED", "").lower() != "true" and any(
        environ.get(name) for name in _OTLP_VARIABLES
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
