"""A module with MODELS but no migrations package: start-up must say how to make one."""

MODELS = ["tests.helpers.modules.unmigrated.models"]
