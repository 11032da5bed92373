"""The CLI: bad configuration stops start-up with exit code 2 and the variable's name."""

from __future__ import annotations

import json

import pytest

from vl2ingest.cli import main


def test_bad_setting_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed value is reported on stderr with the variable to fix."""
    monkeypatch.setenv("VL2INGEST_S3__ALLOWED_BUCKETS", "inbox")
    monkeypatch.setenv("VL2INGEST_S3__FETCH_CONCURRENCY", "lots")
    assert main(["run"]) == 2
    assert "VL2INGEST_S3__FETCH_CONCURRENCY" in capsys.readouterr().err


def test_config_prints_effective_settings_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vl2ingest config` prints JSON settings; secret values are replaced by ***."""
    monkeypatch.setenv("VL2INGEST_S3__ALLOWED_BUCKETS", "inbox")
    monkeypatch.setenv("VL2INGEST_S3__SECRET_ACCESS_KEY", "hunter2")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert json.loads(out)["s3"]["secret_access_key"] == "***"
