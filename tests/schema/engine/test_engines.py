"""Both engines behind the one interface give the same outcome, phase included."""

from __future__ import annotations

from typing import Any

import pytest

from auth.identity import ANONYMOUS
from schema.build import build_schema
from schema.engine import ENGINES, Phase, build_engine
from schema.engine.compiled import CompiledEngine
from schema.engine.graphql_core import GraphQLCoreEngine
from tests.helpers import make_settings

VALIDATION = Phase.VALIDATION


class _Context:
    identity = ANONYMOUS


CASES = [
    ("anonymous me", "{ me { id username } }", None, None),
    ("syntax error", "{ me { id ", None, Phase.PARSE),
    ("unknown field", "{ me { usernam } }", None, Phase.VALIDATION),
    (
        "too many aliases",
        "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(40)) + " }",
        None,
        Phase.VALIDATION,
    ),
    (
        "two credential fields",
        'mutation { a: login(input: {login: "x", password: "y"}) { user { id } } '
        'b: login(input: {login: "x", password: "y"}) { user { id } } }',
        None,
        Phase.VALIDATION,
    ),
    (
        "wrong variable type",
        "query($id: ID!) { user(id: $id) { id } }",
        {"id": {"nested": True}},
        Phase.VARIABLES,
    ),
    ("missing variable", "query($id: ID!) { user(id: $id) { id } }", {}, Phase.VARIABLES),
    (
        "permission refused",
        '{ user(id: "00000000-0000-0000-0000-000000000000") { id } }',
        None,
        Phase.EXECUTION,
    ),
    ("introspection", "{ __schema { queryType { name } } }", None, None),
]


async def _outcome(engine: Any, query: str, variables: Any) -> tuple[Any, list[Any], Phase]:
    prepared = engine.prepare(query)
    if prepared.errors:
        return None, sorted(e.message for e in prepared.errors), prepared.phase
    outcome = await engine.execute(prepared, None, variables, _Context())
    return outcome.data, sorted(e.message for e in outcome.errors), outcome.phase


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
@pytest.mark.parametrize(("name", "query", "variables", "phase"), CASES, ids=[c[0] for c in CASES])
async def test_the_engines_agree_and_name_the_phase(production, name, query, variables, phase):
    schema = build_schema(make_settings(**({"app_env": "production"} if production else {})))
    compiled = await _outcome(CompiledEngine(schema, schema.guard_rules, schema.max_tokens), query, variables)
    reference = await _outcome(
        GraphQLCoreEngine(schema, schema.guard_rules, schema.max_tokens), query, variables
    )
    assert compiled == reference
    if phase is not None:
        assert compiled[2] is phase and compiled[1], compiled
    elif not (production and name == "introspection"):
        assert compiled[1] == [] and compiled[2] is Phase.EXECUTION
    if production and name == "introspection":
        assert compiled[2] is Phase.VALIDATION


async def test_a_document_with_several_operations_names_each_and_has_no_default():
    schema = build_schema(make_settings())
    engine = build_engine(schema, make_settings())
    prepared = engine.prepare("query A { me { id } } query B { me { username } }")
    assert set(prepared.operations) == {"A", "B"}
    chosen = await engine.execute(prepared, "B", None, _Context())
    assert chosen.data == {"me": None} and not chosen.errors


async def test_each_query_text_is_prepared_once():
    schema = build_schema(make_settings())
    engine = build_engine(schema, make_settings())
    first = engine.prepare("{ me { id } }")
    assert all(engine.prepare("{ me { id } }") is first for _ in range(4))


async def test_the_compiled_engine_compiles_queries_and_leaves_mutations_to_graphql_core():
    schema = build_schema(make_settings())
    engine = CompiledEngine(schema, schema.guard_rules, schema.max_tokens)
    assert None in engine.prepare("{ me { id } }").plans
    assert engine.prepare("mutation { logout }").plans == {}


def test_graphql_executor_chooses_the_engine():
    schema = build_schema(make_settings())
    for name, engine_class in ENGINES.items():
        assert type(build_engine(schema, make_settings(graphql_executor=name))) is engine_class
