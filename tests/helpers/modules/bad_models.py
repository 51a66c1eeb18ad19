"""A module whose MODELS is a string, not a list."""

MODELS = "tests.helpers.modules.projects.models"
