"""The benchmark's CPU accounting (bench/cpu.py): groups, windows, and that it reads real time."""

from __future__ import annotations

import os
import threading
import time

import pytest
from bench.cpu import ThreadCpuSampler, group_of, machine_busy_s, process_cpu_s, window

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux /proc")


def test_thread_names_map_to_groups() -> None:
    assert group_of("prepare_0") == "prepare"
    assert group_of("s3-get_15") == "fetch"
    assert group_of("MainThread") == "event loop"
    assert group_of("aiokafka-sender") == "other"


def test_window_subtracts_the_samples_nearest_its_ends() -> None:
    timeline = [
        (10.0, {"prepare": 1.0}),
        (11.0, {"prepare": 2.0, "fetch": 0.5}),
        (12.0, {"prepare": 4.0, "fetch": 0.75}),
    ]
    assert window(timeline, 10.9, 12.2) == {"prepare": 2.0, "fetch": 0.25}


def test_a_busy_thread_is_counted_in_its_group() -> None:
    """Half a second of spinning in a thread named like a prepare worker shows up as such (the
    thread stays alive until sampled: the time of a thread that ends between samples after its
    last one is not seen, a limit that does not matter for pool threads living through a run)."""
    sampler = ThreadCpuSampler(interval_s=0.05)
    sampler.start()
    while not sampler.timeline:  # a first sample, taken before the worker exists
        time.sleep(0.01)
    started = sampler.timeline[-1][0]
    cpu0, machine0 = process_cpu_s(os.getpid()), machine_busy_s()
    spun, release = threading.Event(), threading.Event()

    def spin() -> None:
        deadline = time.thread_time() + 0.5
        while time.thread_time() < deadline:
            pass
        spun.set()
        release.wait(timeout=10)

    worker = threading.Thread(target=spin, name="prepare_7")
    worker.start()
    assert spun.wait(timeout=30)
    sampler.stop()  # takes a last sample while the worker is still alive
    release.set()
    worker.join()
    spent = window(sampler.timeline, started, sampler.timeline[-1][0])
    assert spent["prepare"] == pytest.approx(0.5, abs=0.1)
    assert process_cpu_s(os.getpid()) - cpu0 >= 0.4
    assert machine_busy_s() - machine0 >= 0.4
