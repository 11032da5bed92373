"""Which compression codecs a topic's batches were stored with, from the broker's own log
segments (bench/segments.py): proof that a batch really was compressed."""

from __future__ import annotations

import pytest
from bench.segments import KAFKA_DATA, stored_batches


def stored_codecs(topic: str) -> list[str]:
    """The codec of every data batch of ``topic``, in log order."""
    batches = stored_batches(topic)
    if batches is None:
        pytest.skip(
            f"no log segments of {topic} under {KAFKA_DATA}: the broker is not the dev stack"
        )
    return [batch.codec for batch in batches]
