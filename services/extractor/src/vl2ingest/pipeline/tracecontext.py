"""W3C trace-context propagation through Kafka headers (a list of ``(str, bytes)`` pairs)."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

Headers = Sequence[tuple[str, bytes]]


class _HeaderGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [v.decode("latin-1") for k, v in carrier if k.lower() == key]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [k for k, _ in carrier]


class _HeaderSetter(Setter[list[tuple[str, bytes]]]):
    def set(self, carrier: list[tuple[str, bytes]], key: str, value: str) -> None:
        carrier[:] = [(k, v) for k, v in carrier if k.lower() != key]
        carrier.append((key, value.encode("latin-1")))


_GETTER = _HeaderGetter()
_SETTER = _HeaderSetter()


def extract(headers: Headers) -> Context:
    """The upstream producer's context from ``traceparent``/``tracestate``, if any."""
    return propagate.extract(headers, getter=_GETTER)


def inject(headers: list[tuple[str, bytes]]) -> None:
    """Write the current span's context into ``headers`` (in place)."""
    propagate.inject(headers, setter=_SETTER)
