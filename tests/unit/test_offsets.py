"""Commit watermarks: highest contiguous completed offset + 1, per partition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vl2ingest.pipeline.offsets import OffsetTracker, PartitionOffsets


def test_out_of_order_completion_commits_only_the_contiguous_prefix() -> None:
    """Completing 11 before 10 commits nothing; completing 10 then commits 12."""
    offsets = PartitionOffsets()
    for o in (10, 11, 12):
        offsets.add(o)
    offsets.complete(11)
    assert offsets.committable() is None
    offsets.complete(10)
    assert offsets.committable() == 12
    offsets.mark_committed(12)
    assert offsets.committable() is None
    offsets.complete(12)
    assert offsets.committable() == 13


def test_gaps_in_offsets_do_not_block_the_watermark() -> None:
    """Offsets that never arrive (compaction, markers) are not waited for."""
    offsets = PartitionOffsets()
    for o in (3, 7, 8):
        offsets.add(o)
    for o in (8, 3, 7):
        offsets.complete(o)
    assert offsets.committable() == 9


def test_tracker_keeps_partitions_apart_and_forgets_revoked_ones() -> None:
    """Each partition has its own watermark; completing a revoked partition is ignored."""
    tracker = OffsetTracker()
    tracker.add(("t", 0), 5)
    tracker.add(("t", 1), 9)
    tracker.complete(("t", 1), 9)
    assert tracker.committable() == {("t", 1): 10}
    assert tracker.pending() == 1
    tracker.forget([("t", 0)])
    tracker.complete(("t", 0), 5)
    assert tracker.pending() == 0


@given(st.permutations(list(range(30))), st.integers(min_value=0, max_value=30))
def test_watermark_never_passes_an_unfinished_offset(order: list[int], done: int) -> None:
    """For any completion order, the committable offset is exactly the first unfinished one."""
    offsets = PartitionOffsets()
    for o in range(30):
        offsets.add(o)
    finished = set(order[:done])
    for o in order[:done]:
        offsets.complete(o)
    first_unfinished = next((o for o in range(30) if o not in finished), 30)
    assert offsets.committable() == (first_unfinished if first_unfinished > 0 else None)
