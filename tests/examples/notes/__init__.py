"""Tests of examples/notes, served with SCHEMA_MODULES=examples.notes."""
