"""The app factory's process-level options."""

from __future__ import annotations

import gc

from app.factory import create_app
from tests.helpers import make_settings


async def _start_and_stop(freeze_heap: bool) -> int:
    app = create_app(make_settings(database_url="sqlite://:memory:"), freeze_heap=freeze_heap)
    async with app.router.lifespan_context(app):
        return gc.get_freeze_count()


async def test_a_serving_app_freezes_its_heap_once_started():
    gc.unfreeze()
    try:
        assert await _start_and_stop(freeze_heap=True) > 0
    finally:
        gc.unfreeze()


async def test_apps_built_for_tests_leave_the_collector_alone():
    gc.unfreeze()
    assert await _start_and_stop(freeze_heap=False) == 0


def test_the_host_check_wraps_cors_and_the_routes():
    from core.hosts import HostCheck
    from web.cors import PreflightAwareCORS as CORSMiddleware

    for origins in ((), ("https://app.example.com",)):
        app = create_app(make_settings(allowed_origins=origins))
        classes = [m.cls for m in app.user_middleware]
        assert HostCheck in classes
        if origins:
            assert classes.index(HostCheck) < classes.index(CORSMiddleware)
