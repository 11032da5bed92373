"""Kafka compression codecs: which ones this process can read and write, checked at start-up.

Producers upstream pick their own compression (librdkafka and the Java client default to none,
but lz4, zstd and snappy are common in production), and a consumer that cannot decompress a batch
cannot skip it: it would stop at the same offset after every restart. aiokafka reads gzip with
the standard library and snappy, lz4 and zstd only through cramjam (the extras
``aiokafka[lz4,snappy,zstd]``, which the service depends on). Start-up refuses to consume when any
is missing, with one line naming the package, instead of crashing on the first compressed batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal

from aiokafka import codec

from vl2ingest.errors import ConfigError

Codec = Literal["gzip", "snappy", "lz4", "zstd"]

_PROBES: Final[Mapping[Codec, Callable[[], bool]]] = {
    "gzip": codec.has_gzip,
    "snappy": codec.has_snappy,
    "lz4": codec.has_lz4,
    "zstd": codec.has_zstd,
}
INSTALL_HINT: Final = "install the package 'aiokafka[lz4,snappy,zstd]' (it brings cramjam)"


def available() -> dict[Codec, bool]:
    """Each codec and whether this process can compress and decompress it."""
    return {name: probe() for name, probe in _PROBES.items()}


def require_all(present: Mapping[Codec, bool] | None = None) -> None:
    """Raise :class:`ConfigError` naming the package when any codec is missing (``present``:
    the result of :func:`available`, which is what is checked by default)."""
    missing = [name for name, ok in (present or available()).items() if not ok]
    if missing:
        raise ConfigError(
            f"Kafka compression codecs {', '.join(missing)} are not available, so batches a "
            f"producer compressed with them could not be read: {INSTALL_HINT}"
        )
