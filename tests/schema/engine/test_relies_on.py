"""The engines' undocumented footholds in Strawberry and graphql-core are still there,
and the installed versions are the pinned ones: an upgrade that moves one fails here,
naming it, instead of answering differently."""

from __future__ import annotations

import importlib
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import strawberry
from graphql import execute

from schema.engine.base import PINNED, RELIES_ON

ROOT = Path(__file__).resolve().parents[3]


def _resolve(dotted: str) -> object:
    module_path, _, rest = dotted.partition("(")[0].rpartition(".")
    for split in range(module_path.count(".") + 1, 0, -1):
        parts = f"{module_path}.{rest}".split(".")
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


@pytest.mark.parametrize(
    "dotted", [d for d in RELIES_ON if "(" not in d and not d.startswith("strawberry.Schema.")]
)
def test_each_foothold_is_still_there(dotted: str):
    try:
        _resolve(dotted)
    except (ImportError, AttributeError) as missing:
        pytest.fail(f"{dotted} moved ({RELIES_ON[dotted]}); revisit schema/engine/: {missing}")


def test_a_strawberry_schema_still_carries_its_graphql_schema_and_execution_context():
    @strawberry.type
    class Query:
        hello: str = "hi"

    attributes = vars(strawberry.Schema(query=Query))
    for dotted in (d for d in RELIES_ON if d.startswith("strawberry.Schema.")):
        name = dotted.rpartition(".")[2]
        assert name in attributes, f"{dotted} moved ({RELIES_ON[dotted]}); revisit schema/engine/"


def test_graphql_core_execute_still_takes_executor_class():
    assert "executor_class" in inspect.signature(execute).parameters, (
        "graphql.execute no longer takes executor_class: revisit schema/engine/graphql_core.py"
    )


@pytest.mark.parametrize(("package", "pinned"), sorted(PINNED.items()))
def test_the_installed_version_is_the_pinned_one(package: str, pinned: str):
    assert version(package) == pinned, (
        f"{package} {version(package)} is installed, schema/engine/ was tested with {pinned}: "
        "run the engine tests and the differential test, then move the pin"
    )
    declared = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'"{re.escape(package)}=={re.escape(pinned)}"', declared), (
        f"pyproject.toml must pin {package}=={pinned}"
    )
