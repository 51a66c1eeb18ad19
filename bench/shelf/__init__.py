"""A schema module for the benchmark (`SCHEMA_MODULES=bench.shelf`): a shelf of items
owned by their user, listed with an object-level check (`IsOwnerOrHasRole`) per item.
bench/seed.py puts 100 items on alice's shelf; bench/run.py's "module" row lists them."""

from bench.shelf.schema import Query

MODELS = ["bench.shelf.models"]

__all__ = ["MODELS", "Query"]
