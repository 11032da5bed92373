"""Every Kafka compression codec is installed, and a missing one stops start-up by name."""

from __future__ import annotations

import pytest

from vl2ingest.errors import ConfigError
from vl2ingest.kafka import codecs


def test_every_codec_is_available_in_the_installed_environment() -> None:
    """gzip, snappy, lz4 and zstd all work here: a dependency change cannot drop one silently."""
    assert codecs.available() == {"gzip": True, "snappy": True, "lz4": True, "zstd": True}
    codecs.require_all()


def test_a_missing_codec_fails_start_up_naming_the_package() -> None:
    """With snappy and zstd missing, start-up fails once, naming both and what to install."""
    present: dict[codecs.Codec, bool] = {"gzip": True, "snappy": False, "lz4": True, "zstd": False}
    with pytest.raises(ConfigError) as raised:
        codecs.require_all(present)
    message = str(raised.value)
    assert "snappy, zstd" in message
    assert "aiokafka[lz4,snappy,zstd]" in message
