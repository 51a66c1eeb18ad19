"""Schema modules (`SCHEMA_MODULES`, contract section 8): a team's types, fields and models.

A schema module is any importable Python module. It may expose

- `Query`, `Mutation`, `Subscription`: Strawberry object types whose fields join
  Gatehouse's root types (schema/build.py merges them; a field name two of them define
  is refused, never silently overridden);
- `MODELS`: Tortoise model module paths; they form the Tortoise app `app_label(name)`
  (the module path with `.` as `_`), whose migrations live in the package
  `<module>.migrations`, applied with Gatehouse's own.

Every refusal is a `SettingsError` naming the module, so `main.py` prints it as a
configuration error. Adding a module edits no Gatehouse file.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition

from core.db import ModelApp
from core.settings import SettingsError

ROOT_TYPE_NAMES = ("Query", "Mutation", "Subscription")
# Gatehouse's own app label (core/db.py); no module may take it.
GATEHOUSE = "Gatehouse"


@dataclass(frozen=True)
class SchemaModule:
    """What one module contributes: its root types (None where it has none) and its models."""

    name: str
    query: type | None = None
    mutation: type | None = None
    subscription: type | None = None
    model_app: ModelApp | None = None

    def root(self, type_name: str) -> type | None:
        """The module's `Query`, `Mutation` or `Subscription`, or None."""
        root: type | None = getattr(self, type_name.lower())
        return root


def app_label(module_name: str) -> str:
    """The Tortoise app label of a module's models: `examples.notes` is `examples_notes`.

    Foreign keys name models by it (`"examples_notes.Note"`); Gatehouse's users are
    `"models.User"`.
    """
    return module_name.replace(".", "_")


def load_modules(names: Iterable[str]) -> tuple[SchemaModule, ...]:
    """Import each module and check what it exposes; a `SettingsError` names the module."""
    modules = tuple(_load(name) for name in names)
    labels: dict[str, str] = {}
    for module in modules:
        if module.model_app is None:
            continue
        label = module.model_app.label
        if label == "models" or label in labels:
            other = labels.get(label, GATEHOUSE)
            raise SettingsError(
                f"SCHEMA_MODULES: {module.name} and {other} would share the Tortoise app label {label!r}"
            )
        labels[label] = module.name
    return modules


def model_apps(modules: Sequence[SchemaModule]) -> tuple[ModelApp, ...]:
    """The Tortoise apps of the modules that have models, in `SCHEMA_MODULES` order."""
    return tuple(m.model_app for m in modules if m.model_app is not None)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise SettingsError(f"SCHEMA_MODULES: cannot import {name}: no such module") from None
        raise SettingsError(f"SCHEMA_MODULES: cannot import {name}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a module's own failure, reported in one line
        raise SettingsError(f"SCHEMA_MODULES: importing {name} failed: {type(exc).__name__}: {exc}") from None


def _load(name: str) -> SchemaModule:
    module = _import(name)
    roots = {type_name: _root_type(module, name, type_name) for type_name in ROOT_TYPE_NAMES}
    return SchemaModule(
        name=name,
        query=roots["Query"],
        mutation=roots["Mutation"],
        subscription=roots["Subscription"],
        model_app=_model_app(module, name),
    )


def _root_type(module: ModuleType, name: str, type_name: str) -> type | None:
    value = getattr(module, type_name, None)
    if value is None:
        return None
    definition = get_object_definition(value) if isinstance(value, type) else None
    if definition is None or definition.is_input or definition.is_interface:
        raise SettingsError(
            f"SCHEMA_MODULES: {name}.{type_name} must be a Strawberry object type "
            f"(@strawberry.type), got {value!r}"
        )
    return value


def _model_app(module: ModuleType, name: str) -> ModelApp | None:
    models = getattr(module, "MODELS", None)
    if models is None:
        return None
    if isinstance(models, str) or not all(isinstance(m, str) for m in models):
        raise SettingsError(f"SCHEMA_MODULES: {name}.MODELS must be a list of model module paths")
    if not models:
        return None
    for model_module in models:
        _import_models(name, model_module)
    migrations = f"{name}.migrations"
    try:
        spec = importlib.util.find_spec(migrations)
    except ModuleNotFoundError:
        spec = None
    if spec is None or spec.submodule_search_locations is None:
        raise SettingsError(
            f"SCHEMA_MODULES: {name} has MODELS but no migrations package {migrations}; "
            f"create it with: tortoise -c main.TORTOISE_ORM makemigrations (SCHEMA_MODULES={name})"
        )
    return ModelApp(app_label(name), tuple(models), migrations)


def _import_models(name: str, model_module: str) -> None:
    try:
        importlib.import_module(model_module)
    except Exception as exc:  # noqa: BLE001 - reported in one line, naming the module
        raise SettingsError(
            f"SCHEMA_MODULES: {name}.MODELS names {model_module}, which cannot be imported: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _field_names(root: type) -> list[tuple[str, str]]:
    """Each field of `root` as (its GraphQL name, its Python attribute name)."""
    definition = get_object_definition(root, strict=True)
    assert isinstance(definition, StrawberryObjectDefinition)
    converter = NameConverter()
    return [(converter.get_graphql_name(field), field.python_name) for field in definition.fields]


def merge_root(type_name: str, own: type | None, modules: Sequence[SchemaModule]) -> type | None:
    """Gatehouse's root type `type_name` (`own`, or None) joined with the modules' ones.

    A field defined twice is a `SettingsError` naming both owners: merged silently, the
    later one would replace the other's resolver and permissions. Twice means the same
    GraphQL name, or the same Python attribute name under different GraphQL names
    (`me = strawberry.field(name="moduleMe")` beside Gatehouse's `me`): the merged type
    is made by class inheritance, which keeps one field per attribute, so the other would
    vanish from the schema without a word.
    """
    parts: list[tuple[str, type]] = [(GATEHOUSE, own)] if own is not None else []
    parts += [(m.name, root) for m in modules if (root := m.root(type_name)) is not None]
    if not parts:
        return None
    if len(parts) == 1 and own is not None:
        return own
    owners: dict[str, str] = {}
    attributes: dict[str, tuple[str, str]] = {}  # Python name: (GraphQL name, owner)
    for owner, root in parts:
        for field_name, python_name in _field_names(root):
            if field_name in owners:
                raise SettingsError(
                    f"SCHEMA_MODULES: {type_name}.{field_name} is defined by both "
                    f"{owners[field_name]} and {owner}"
                )
            if python_name in attributes:
                other_name, other = attributes[python_name]
                raise SettingsError(
                    f"SCHEMA_MODULES: {type_name}.{field_name} of {owner} and {type_name}.{other_name} "
                    f"of {other} share the Python attribute name {python_name!r}; merged, one "
                    "would replace the other: rename the attribute"
                )
            owners[field_name] = owner
            attributes[python_name] = (field_name, owner)
    merged: type = strawberry.type(type(type_name, tuple(root for _, root in parts), {}))
    return merged
