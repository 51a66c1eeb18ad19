"""An app factory for running uvicorn directly (`uvicorn --factory core.asgi:create_from_env`)."""

from __future__ import annotations

from starlette.applications import Starlette

from core.app import create_app
from core.settings import Settings


def create_from_env() -> Starlette:
    """The app for the settings in the environment (read once)."""
    return create_app(Settings.from_env(), freeze_heap=True)
