"""Where the CPU goes: the machine's, a process's and each thread group's CPU time (Linux /proc).

The benchmark runs every part on the same cores (broker, S3 server, service, the harness), so a
CPU-bound run is explained by adding up what each part spent per image.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Final

_TICKS: Final = os.sysconf("SC_CLK_TCK")
GROUPS: Final = {"prepare": "prepare", "s3-get": "fetch", "MainThread": "event loop"}
"""Thread-name prefix -> group; every other thread counts as "other"."""


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (the first line of /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads, alive or ended)."""
    return _stat_cpu_s(Path(f"/proc/{pid}/stat"))


def _stat_cpu_s(stat: Path) -> float:
    # The command name (field 2) may contain spaces: split after its closing parenthesis.
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def group_of(thread_name: str) -> str:
    for prefix, group in GROUPS.items():
        if thread_name.startswith(prefix):
            return group
    return "other"


class ThreadCpuSampler:
    """Samples this process's threads' CPU time every ``interval_s`` (threads of a pool may end
    before the process does, so their time is read while they run) and keeps, per sample, the
    wall-clock time and the CPU seconds so far by group: a window can be cut out afterwards."""

    def __init__(self, interval_s: float = 0.25) -> None:
        self._interval_s = interval_s
        self._latest: dict[int, tuple[str, float]] = {}
        self.timeline: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def _sample(self) -> None:
        names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
        for tid, name in names.items():
            try:
                self._latest[tid] = (name, _stat_cpu_s(Path(f"/proc/self/task/{tid}/stat")))
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended since enumerate(): its last sample stands
        totals: dict[str, float] = defaultdict(float)
        for name, seconds in self._latest.values():
            if name != self._thread.name:  # the sampler's own time is left out
                totals[group_of(name)] += seconds
        self.timeline.append((time.time(), dict(totals)))


def window(
    timeline: list[tuple[float, dict[str, float]]], start: float, end: float
) -> dict[str, float]:
    """CPU seconds by group between the samples nearest to ``start`` and ``end``."""

    def at(moment: float) -> dict[str, float]:
        return min(timeline, key=lambda sample: abs(sample[0] - moment))[1]

    first, last = at(start), at(end)
    return {group: seconds - first.get(group, 0.0) for group, seconds in last.items()}
