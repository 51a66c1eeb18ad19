"""docs/API.md, the reference for the people who call Gatehouse, stays complete: every root
field of the schema, every error code and every route is in it, and the README sends
readers there (a clone has no contract file beside it)."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route, WebSocketRoute

from app.factory import create_app
from core.errors import ErrorCode
from schema.build import build_schema
from tests.helpers import make_settings

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (ROOT / "docs" / "API.md").read_text()


def test_every_root_field_is_documented():
    schema = build_schema(make_settings())._schema
    fields = {
        f"{root.name}.{name}"
        for root in (schema.query_type, schema.mutation_type)
        if root is not None
        for name in root.fields
    }

    missing = sorted(f for f in fields if not re.search(rf"`{f.split('.')[1]}[(:]", REFERENCE))
    assert missing == [], f"not in docs/API.md: {missing}"


def test_every_error_code_is_documented():
    missing = sorted(code.value for code in ErrorCode if f"`{code.value}`" not in REFERENCE)
    assert missing == [], f"not in docs/API.md: {missing}"


def test_every_route_is_documented():
    app = create_app(make_settings(app_env="production", metrics=True))
    paths = {r.path for r in app.routes if isinstance(r, Route | WebSocketRoute)}

    missing = sorted(p for p in paths if p not in REFERENCE)
    assert missing == [], f"not in docs/API.md: {missing}"


def test_the_readme_links_the_reference_and_no_file_outside_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/API.md)" in readme
    assert "../shared" not in readme and "CONTRACT.md" not in readme
