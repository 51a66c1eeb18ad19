"""Query strings never reach the log through uvicorn's own loggers."""

from __future__ import annotations

import logging

import pytest

from core.log_filters import DropQueryStrings, drop_query_strings_from_uvicorn


def test_a_websocket_handshake_line_loses_its_query_string(caplog: pytest.LogCaptureFixture):
    drop_query_strings_from_uvicorn()
    drop_query_strings_from_uvicorn()  # idempotent: one filter, not two
    logger = logging.getLogger("uvicorn.error")
    assert sum(isinstance(f, DropQueryStrings) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        # The very call uvicorn's websockets protocol makes for a refused handshake.
        logger.info('%s - "WebSocket %s" %d', "127.0.0.1:5000", "/graphql?access_token=SECRETVALUE", 403)
    assert caplog.messages == ['127.0.0.1:5000 - "WebSocket /graphql?…" 403']
    assert "SECRETVALUE" not in caplog.text


def test_records_without_a_query_string_are_kept_as_they_are(caplog: pytest.LogCaptureFixture):
    drop_query_strings_from_uvicorn()
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    assert caplog.messages == ["Started server process [42]"]
