"""Per-partition commit watermarks.

Messages of one partition complete out of order (they run concurrently), but a Kafka commit
means "everything before this offset is done". So each partition remembers its in-flight offsets
in arrival order, and the committable offset is the highest CONTIGUOUS completed offset + 1
(the next record to read). Offsets need not be consecutive numbers (compaction, transaction
markers): contiguity is over the records actually received.
"""

from __future__ import annotations

from collections.abc import Iterable

from vl2ingest.pipeline.models import TopicPartition


class PartitionOffsets:
    __slots__ = ("_committed", "_in_flight", "_next")

    def __init__(self) -> None:
        # Insertion-ordered: offset -> done flag. Offsets arrive increasing within a partition.
        self._in_flight: dict[int, bool] = {}
        self._next: int | None = None
        self._committed: int | None = None

    def add(self, offset: int) -> None:
        if offset in self._in_flight:
            raise ValueError(f"offset {offset} is already in flight")
        self._in_flight[offset] = False

    def complete(self, offset: int) -> None:
        if offset not in self._in_flight:
            raise KeyError(f"offset {offset} is not in flight")
        self._in_flight[offset] = True
        # Pop the done prefix; the watermark moves past it.
        while self._in_flight:
            head = next(iter(self._in_flight))
            if not self._in_flight[head]:
                break
            del self._in_flight[head]
            self._next = head + 1

    @property
    def pending(self) -> int:
        return len(self._in_flight)

    def committable(self) -> int | None:
        """The offset to commit, if it moved since the last :meth:`mark_committed`."""
        if self._next is None or self._next == self._committed:
            return None
        return self._next

    def mark_committed(self, offset: int) -> None:
        self._committed = offset


class OffsetTracker:
    """Watermarks of every assigned partition."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, PartitionOffsets] = {}

    def add(self, tp: TopicPartition, offset: int) -> None:
        self._partitions.setdefault(tp, PartitionOffsets()).add(offset)

    def complete(self, tp: TopicPartition, offset: int) -> None:
        partition = self._partitions.get(tp)
        if partition is None:
            return  # revoked meanwhile: the new owner re-reads from the last commit
        partition.complete(offset)

    def pending(self, tps: Iterable[TopicPartition] | None = None) -> int:
        keys = self._partitions.keys() if tps is None else tps
        return sum(self._partitions[tp].pending for tp in keys if tp in self._partitions)

    def committable(self, tps: Iterable[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        keys = list(self._partitions.keys() if tps is None else tps)
        out: dict[TopicPartition, int] = {}
        for tp in keys:
            partition = self._partitions.get(tp)
            offset = partition.committable() if partition else None
            if offset is not None:
                out[tp] = offset
        return out

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if tp in self._partitions:
                self._partitions[tp].mark_committed(offset)

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            self._partitions.pop(tp, None)
