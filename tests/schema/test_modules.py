"""Schema modules join the schema (schema/modules.py, schema/build.py): merged root types,
refusals that name the module or the field, deny by default, and the scopes they name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.db import ModelApp
from core.settings import Settings, SettingsError
from schema.build import build_schema
from schema.modules import app_label, load_modules, model_apps
from schema.public import public_root_fields, ungated_root_fields
from tests.helpers import TEST_SECRET, make_settings
from tests.helpers.processes import ROOT

PROJECTS = "tests.helpers.modules.projects"
MODULES = "tests.helpers.modules"
GATEHOUSE_SCOPES = {"users:read", "users:write", "credentials:read", "credentials:write"}


def _schema(*modules: str):
    return build_schema(make_settings(schema_modules=modules))


def test_a_modules_root_fields_join_gatehouses():
    sdl = _schema(PROJECTS).as_str()

    for field in ("projects: [Project!]!", "project(id: ID!): Project", "projectsStatus: String!"):
        assert field in sdl
    assert "createProject(name: String!): Project!" in sdl
    assert "me: User" in sdl and "createApiToken(" in sdl  # Gatehouse's own are still there


def test_a_modules_interface_union_and_subscription_are_served():
    sdl = _schema(PROJECTS).as_str()

    assert "interface Named {" in sdl and "type Project implements Named {" in sdl
    assert "union ProjectSearchHit = Project | Tag" in sdl
    assert "type Subscription {" in sdl and "projectTicks(count: Int! = 3): String!" in sdl


def test_without_modules_there_is_no_subscription_root():
    schema = _schema()

    assert schema.get_type_by_name("Subscription") is None
    assert "type Subscription" not in schema.as_str()


def test_a_modules_fields_carry_gatehouses_directives():
    sdl = _schema(PROJECTS).as_str()

    assert (
        'projects: [Project!]! @isAuthenticated @hasScope(scope: "projects:read") '
        '@isOwnerOrHasRole(role: "admin")'
    ) in sdl
    assert 'createProject(name: String!): Project! @isAuthenticated @hasScope(scope: "projects:write")' in sdl


def test_a_modules_public_field_is_declared_and_every_other_is_gated():
    schema = _schema(PROJECTS)

    assert ungated_root_fields(schema) == []
    assert "Query.projectsStatus" in public_root_fields(schema)


def test_known_scopes_are_gatehouses_own_without_modules():
    assert _schema().known_scopes == GATEHOUSE_SCOPES


def test_known_scopes_include_those_a_module_names():
    assert _schema(PROJECTS).known_scopes == GATEHOUSE_SCOPES | {"projects:read", "projects:write"}


# -- deny by default at start-up -------------------------------------------------------


def test_start_up_refuses_a_module_with_ungated_root_fields_naming_each():
    with pytest.raises(SettingsError) as refused:
        _schema(f"{MODULES}.ungated")

    message = str(refused.value)
    assert "Query.leakyReports" in message and "Mutation.wipeReports" in message
    assert "guardedReports" not in message
    assert 'metadata={"public": True}' in message


def test_serve_prints_the_refusal_as_a_configuration_error_and_exits_2(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": f"sqlite://{tmp_path / 'gatehouse.db'}",
        "SCHEMA_MODULES": f"{MODULES}.ungated",
        "PYTHONPATH": str(ROOT),
    }
    finished = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "serve"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.startswith(
        "gatehouse: configuration error: the schema has root fields without a permission: "
        "Query.leakyReports, Mutation.wipeReports;"
    ), finished.stderr
    assert "Traceback" not in finished.stderr


# -- refusals naming the module ----------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("no_such_module_anywhere", "SCHEMA_MODULES: cannot import no_such_module_anywhere: no such module"),
        (f"{MODULES}.nope", f"SCHEMA_MODULES: cannot import {MODULES}.nope: no such module"),
        (
            f"{MODULES}.missing_dependency",
            f"SCHEMA_MODULES: cannot import {MODULES}.missing_dependency: "
            "No module named 'reports_sdk_that_is_not_installed'",
        ),
        (
            f"{MODULES}.broken",
            f"SCHEMA_MODULES: importing {MODULES}.broken failed: "
            "RuntimeError: the reports database is not configured",
        ),
        (
            f"{MODULES}.not_a_type",
            f"SCHEMA_MODULES: {MODULES}.not_a_type.Query must be a Strawberry object type",
        ),
        (
            f"{MODULES}.an_input",
            f"SCHEMA_MODULES: {MODULES}.an_input.Mutation must be a Strawberry object type",
        ),
        (
            f"{MODULES}.bad_models",
            f"SCHEMA_MODULES: {MODULES}.bad_models.MODELS must be a list of model module paths",
        ),
        (
            f"{MODULES}.unmigrated",
            f"SCHEMA_MODULES: {MODULES}.unmigrated has MODELS but no migrations package "
            f"{MODULES}.unmigrated.migrations; create it with: tortoise -c main.TORTOISE_ORM makemigrations",
        ),
    ],
    ids=[
        "unknown",
        "unknown-submodule",
        "missing-dependency",
        "raises",
        "plain-class",
        "input",
        "models-str",
        "no-migrations",
    ],
)
def test_a_bad_module_is_a_settings_error_naming_it(module: str, expected: str):
    with pytest.raises(SettingsError) as refused:
        load_modules([module])

    assert str(refused.value).startswith(expected), str(refused.value)


def test_a_root_field_gatehouse_has_is_refused_naming_both():
    with pytest.raises(SettingsError) as refused:
        _schema(f"{MODULES}.clashing")

    assert (
        str(refused.value) == f"SCHEMA_MODULES: Query.me is defined by both Gatehouse and {MODULES}.clashing"
    )


def test_a_root_field_two_modules_define_is_refused_naming_both():
    with pytest.raises(SettingsError) as refused:
        _schema(PROJECTS, f"{MODULES}.twin")

    assert (
        str(refused.value)
        == f"SCHEMA_MODULES: Query.projectsStatus is defined by both {PROJECTS} and {MODULES}.twin"
    )


def test_a_root_field_with_gatehouses_python_name_under_another_graphql_name_is_refused():
    # Merged by class inheritance, `me = strawberry.field(name="moduleMe")` would replace
    # Gatehouse's `me` (or vanish): one field per Python attribute survives.
    with pytest.raises(SettingsError) as refused:
        _schema(f"{MODULES}.renamed_clash")

    assert str(refused.value) == (
        f"SCHEMA_MODULES: Query.moduleMe of {MODULES}.renamed_clash and Query.me of Gatehouse share "
        "the Python attribute name 'me'; merged, one would replace the other: rename the attribute"
    )


def test_a_root_field_with_another_modules_python_name_is_refused_naming_both():
    with pytest.raises(SettingsError) as refused:
        _schema(PROJECTS, f"{MODULES}.renamed_twin")

    assert str(refused.value).startswith(
        f"SCHEMA_MODULES: Query.twinStatus of {MODULES}.renamed_twin and Query.projectsStatus of {PROJECTS} "
        "share the Python attribute name 'projects_status'"
    )


def test_an_owner_check_on_a_mutation_not_judged_before_the_write_is_refused():
    with pytest.raises(SettingsError) as refused:
        _schema(f"{MODULES}.owner_mutation")

    message = str(refused.value)
    assert message.startswith(
        "IsOwnerOrHasRole on Mutation.renameThing judges the object the mutation returns"
    )
    assert "archiveThing" not in message, "declared judged_before_write=True"
    assert "permission.judge(identity, row, is_list=False)" in message
    assert 'IsOwnerOrHasRole("admin", judged_before_write=True)' in message


def test_an_owner_check_declared_judged_before_the_write_is_served_printed_as_any():
    sdl = _schema(f"{MODULES}.owner_mutation_declared").as_str()

    assert 'archiveThing(id: ID!): Thing! @isAuthenticated @isOwnerOrHasRole(role: "admin")\n' in sdl


def test_the_app_loads_the_modules_once(monkeypatch):
    from app.factory import create_app
    from schema import modules

    loaded: list[str] = []
    real_load = modules._load

    def counting_load(name: str):
        loaded.append(name)
        return real_load(name)

    monkeypatch.setattr(modules, "_load", counting_load)
    create_app(make_settings(schema_modules=(PROJECTS,)))

    assert loaded == [PROJECTS]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("examples.notes", ("examples.notes",)),
        (
            " examples.notes , tests.helpers.modules.projects ,",
            ("examples.notes", "tests.helpers.modules.projects"),
        ),
        ("", ()),
    ],
)
def test_schema_modules_are_read_comma_separated(raw: str, expected: tuple[str, ...]):
    settings = Settings.from_env({"SECRET_KEY": TEST_SECRET, "SCHEMA_MODULES": raw})

    assert settings.schema_modules == expected
    assert Settings.schema_modules_from_env({"SCHEMA_MODULES": raw}) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("examples/notes", "SCHEMA_MODULES has 'examples/notes', which is not a module path"),
        ("examples.notes.py", None),  # spelled like a path, and refused when imported
        ("notes-app", "SCHEMA_MODULES has 'notes-app', which is not a module path"),
        (".notes", "SCHEMA_MODULES has '.notes', which is not a module path"),
        ("examples..notes", "SCHEMA_MODULES has 'examples..notes', which is not a module path"),
        ("a,b,a", "SCHEMA_MODULES lists a more than once"),
    ],
)
def test_badly_spelled_schema_modules_are_refused(raw: str, expected: str | None):
    if expected is None:
        settings = Settings.from_env({"SECRET_KEY": TEST_SECRET, "SCHEMA_MODULES": raw})
        with pytest.raises(SettingsError, match=r"SCHEMA_MODULES: cannot import examples\.notes\.py"):
            load_modules(settings.schema_modules)
        return
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SECRET_KEY": TEST_SECRET, "SCHEMA_MODULES": raw})
    assert str(refused.value).startswith(expected)


# -- models --------------------------------------------------------------------------


def test_a_modules_models_are_a_tortoise_app_with_its_migrations():
    assert model_apps(load_modules([PROJECTS])) == (
        ModelApp(
            "tests_helpers_modules_projects",
            ("tests.helpers.modules.projects.models",),
            "tests.helpers.modules.projects.migrations",
        ),
    )


def test_a_module_without_models_adds_no_app():
    assert model_apps(load_modules([f"{MODULES}.twin"])) == ()


def test_app_labels_are_the_module_path_with_underscores():
    assert app_label("examples.notes") == "examples_notes"
    assert app_label("reports") == "reports"
