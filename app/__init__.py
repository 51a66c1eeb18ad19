"""The composition root: the app factory builds the house from its settings."""
