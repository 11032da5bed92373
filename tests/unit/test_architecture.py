"""The dependency rule of DESIGN section 2, checked on the real import statements.

cli -> app -> {kafka, storage, engines, imaging, telemetry, health} -> pipeline -> vl2
-> {errors, settings} -> vl2ingest_events. Adapters never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "services" / "extractor" / "src" / "vl2ingest"
ADAPTERS = {"kafka", "storage", "engines", "imaging", "telemetry", "health"}
BASE = {"errors", "settings", "lifecycle", "__init__"}
ALLOWED: dict[str, set[str]] = {
    "cli": {"app", *ADAPTERS, "pipeline", "vl2", *BASE},
    "app": {*ADAPTERS, "pipeline", "vl2", *BASE},
    **{adapter: {"pipeline", "vl2", *BASE} for adapter in ADAPTERS},
    "pipeline": {"vl2", *BASE},
    "vl2": set(),
    "settings": {"errors"},
    "errors": set(),
    "lifecycle": set(),
    "__init__": set(),
}
# Third-party libraries owned by exactly one place.
OWNED = {
    "aiokafka": "kafka",
    "boto3": "storage",
    "botocore": "storage",
    "lmdeploy": "engines",
    "rapidocr": "engines",
}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_the_dependency_rule(path: Path) -> None:
    """Each module imports only the layers below it and only the libraries its package owns."""
    layer = _layer(path)
    allowed = ALLOWED[layer] | {layer}
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "vl2ingest" and len(parts) > 1:
            target = parts[1] if parts[1] in ALLOWED or parts[1] in ADAPTERS else "__init__"
            assert target in allowed, f"{layer} must not import vl2ingest.{parts[1]} ({name})"
        owner = OWNED.get(parts[0])
        if owner is not None:
            assert layer == owner, f"only vl2ingest.{owner} may import {parts[0]}"


def test_the_rule_sees_every_layer() -> None:
    """Every top-level module or package is covered by the rule (no unchecked newcomer)."""
    assert {_layer(p) for p in MODULES} <= set(ALLOWED)
