"""`make gpu-kit` (scripts/gpu_kit.py): its packages are locked, and only TurboMind's binaries
are dropped from lmdeploy."""

from __future__ import annotations

from scripts.gpu_kit import PACKAGES, TURBOMIND_BINARIES, locked_versions


def test_every_kit_package_has_a_locked_version() -> None:
    versions = locked_versions()
    assert [p for p in PACKAGES if p not in versions] == []


def test_only_turbomind_binaries_are_stripped() -> None:
    assert TURBOMIND_BINARIES.match("lmdeploy/turbomind/_turbomind.cpython-312-x86_64-linux-gnu.so")
    assert TURBOMIND_BINARIES.match("lmdeploy/turbomind/lib64/libxgrammar.a")
    assert not TURBOMIND_BINARIES.match("lmdeploy/turbomind/__init__.py")
    assert not TURBOMIND_BINARIES.match("lmdeploy/pytorch/models/deepseek_vl2.py")
