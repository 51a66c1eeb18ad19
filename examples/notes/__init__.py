"""The example schema module: notes owned by their author.

Serve it with `SCHEMA_MODULES=examples.notes`. Gatehouse reads these names:

- `Query`, `Mutation`: merged into Gatehouse's root types;
- `MODELS`: the Tortoise model modules, migrated from `examples/notes/migrations/`.

Who may do what: a note is read by its author and by `admin`; reading needs a credential
with `notes:read`, writing (create, update, delete) one with `notes:write` (sessions,
JWTs and Basic carry every scope; an API token only those it was given). See
docs/BUILDING.md for how this module is built.
"""

from examples.notes.schema import Mutation, Query

MODELS = ["examples.notes.models"]

__all__ = ["MODELS", "Mutation", "Query"]
