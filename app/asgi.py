"""An app factory for running uvicorn directly (`uvicorn --factory app.asgi:create_from_env`)."""

from __future__ import annotations

import sys

from starlette.applications import Starlette

from app.factory import create_app
from app.preflight import refusal_before_serving
from core.log_filters import drop_query_strings_from_uvicorn
from core.settings import Settings, SettingsError


def create_from_env() -> Starlette:
    """The app for the settings in the environment (read once).

    A configuration error, a backend that does not answer and stored signing keys none of
    which this `SECRET_KEY` opens stop the process with one line and status 2, as
    `main.py serve` does, instead of a traceback from inside uvicorn.
    """
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    drop_query_strings_from_uvicorn()
    try:
        app = create_app(settings, freeze_heap=True)
    except SettingsError as exc:  # a setting that only building the app can check (a manifest)
        print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    # The backends answer and the stored signing keys let this instance sign, as
    # `main.py serve` checks, before uvicorn runs the lifespan.
    if problem := refusal_before_serving(settings):
        print(f"gatehouse: {problem}", file=sys.stderr)
        raise SystemExit(2)
    return app
