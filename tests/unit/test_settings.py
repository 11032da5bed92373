"""Settings: built once from VL2INGEST_* variables; every error names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from vl2ingest.errors import ConfigError
from vl2ingest.settings import Secret, Settings, setting_variables

BASE = {"VL2INGEST_S3__ALLOWED_BUCKETS": "inbox, scans"}


def test_nested_variables_are_typed_and_lists_split() -> None:
    """Nested `__` variables map onto the tree, with numbers converted and lists split."""
    settings = Settings.from_env(
        {
            **BASE,
            "VL2INGEST_KAFKA__MAX_POLL_RECORDS": "7",
            "VL2INGEST_PIPELINE__LINGER_MS": "0",
            "VL2INGEST_DELIVERY": "at_least_once",
            "UNRELATED": "x",
            "VL2INGEST_TEST_KAFKA": "reserved for the test suite",
        }
    )
    assert settings.kafka.max_poll_records == 7
    assert settings.pipeline.linger_ms == 0
    assert settings.s3.allowed_buckets == ("inbox", "scans")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"VL2INGEST_KAFKA__MAX_POLL_RECORDS": "many"}, "VL2INGEST_KAFKA__MAX_POLL_RECORDS"),
        ({"VL2INGEST_KAFKA__MAX_POLL_RECORDS": "0"}, "VL2INGEST_KAFKA__MAX_POLL_RECORDS"),
        ({"VL2INGEST_KAFKA__BOOTSTRAP": "x"}, "VL2INGEST_KAFKA__BOOTSTRAP"),
        ({"VL2INGEST_ENGINE__NAME": "gpt"}, "VL2INGEST_ENGINE__NAME"),
        ({"VL2INGEST_S3__ALLOWED_BUCKETS": ""}, "VL2INGEST_S3__ALLOWED_BUCKETS"),
        ({"VL2INGEST_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"}, "VL2INGEST_KAFKA__SASL_MECHANISM"),
        ({"VL2INGEST_DELIVERY": "exactly-once"}, "VL2INGEST_DELIVERY"),
        ({"VL2INGEST_KAFKA__GROUP_INSTANCE_ID": "pod 0"}, "VL2INGEST_KAFKA__GROUP_INSTANCE_ID"),
        ({"VL2INGEST_KAFKA__COMPRESSION_TYPE": "brotli"}, "VL2INGEST_KAFKA__COMPRESSION_TYPE"),
        (
            {"VL2INGEST_PIPELINE__S3_EVENT_KEY_ENCODING": "base64"},
            "VL2INGEST_PIPELINE__S3_EVENT_KEY_ENCODING",
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    """Invalid, unknown or inconsistent settings stop start-up naming the variable to fix."""
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({**BASE, **env})


def test_secrets_are_masked_in_repr() -> None:
    """Secret values never appear in the repr of the settings tree."""
    settings = Settings.from_env({**BASE, "VL2INGEST_S3__SECRET_ACCESS_KEY": "hunter2"})
    assert isinstance(settings.s3.secret_access_key, Secret)
    assert settings.s3.secret_access_key.reveal() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_readme_documents_every_setting() -> None:
    """Each VL2INGEST_* variable the settings accept has a row in the README's table."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [name for name in setting_variables() if f"`{name}`" not in readme]
    assert missing == []
