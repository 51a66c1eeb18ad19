"""docs/SECURITY.md names a test for every threat; a renamed or deleted test must not
leave the table pointing at nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def referenced_tests() -> list[tuple[str, str]]:
    """(file, test) pairs; `::name` without a file continues the previous file of its cell."""
    pairs: list[tuple[str, str]] = []
    for line in (ROOT / "docs" / "SECURITY.md").read_text().splitlines():
        for cell in line.split("|"):
            current = None
            for match in re.finditer(r"`(?:(tests/security/\w+\.py)|(\w+\.py))?::(\w+)`", cell):
                full, short, name = match.groups()
                if full:
                    current = full
                elif short:
                    current = f"tests/security/{short}"
                assert current, f"no file for ::{name} in: {cell.strip()}"
                pairs.append((current, name))
    return pairs


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    }


def test_every_referenced_test_exists():
    pairs = referenced_tests()
    assert len(pairs) > 40
    missing = [f"{file}::{name}" for file, name in pairs if name not in defined_tests(ROOT / file)]
    assert not missing, missing


def test_every_attack_file_is_in_the_table():
    files = {file for file, _ in referenced_tests()}
    here = Path(__file__).parent
    attack_files = {
        f"tests/security/{p.name}" for p in here.glob("test_*.py") if p.name != Path(__file__).name
    }
    assert attack_files - files == set()
