"""Tests of the example schema modules (examples/)."""
