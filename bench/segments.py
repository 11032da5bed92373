"""The record batches of a topic as the broker stored them, read from its log segments (the
dev stack's data folder): codec and size of each batch, which no client API shows.

Record batch v2 layout (Kafka's protocol guide, "Record Batch"): baseOffset int64,
batchLength int32, partitionLeaderEpoch int32, magic int8, crc uint32, attributes int16 whose
bits 0-2 are the codec and bit 5 marks a control batch; batchLength counts the bytes after the
length field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

KAFKA_DATA: Final = Path(__file__).parents[1] / ".cache" / "devstack" / "kafka" / "data"
CODECS: Final = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
_HEAD: Final = struct.Struct(">qiibIh")
_CONTROL: Final = 0x20
_LOG_OVERHEAD: Final = 12  # baseOffset + batchLength


@dataclass(frozen=True)
class StoredBatch:
    codec: str
    size_bytes: int
    """The whole batch on disk, header included."""


def stored_batches(topic: str, *, data_dir: Path = KAFKA_DATA) -> list[StoredBatch] | None:
    """Every data batch of ``topic`` (control batches left out), partition by partition in log
    order; None when the broker keeps no segments of it in ``data_dir`` (not the dev stack)."""
    folders = sorted(data_dir.glob(f"{topic}-*"))
    if not folders:
        return None
    found: list[StoredBatch] = []
    for folder in folders:
        for segment in sorted(folder.glob("*.log")):
            data = segment.read_bytes()
            position = 0
            while position + _HEAD.size <= len(data):
                _, length, _, magic, _, attributes = _HEAD.unpack_from(data, position)
                if length <= 0:
                    break
                if magic == 2 and not attributes & _CONTROL:
                    found.append(StoredBatch(CODECS[attributes & 0x07], _LOG_OVERHEAD + length))
                position += _LOG_OVERHEAD + length
    return found
