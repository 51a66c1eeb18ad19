"""The authentication middleware: an identity in the scope for HTTP and WebSocket
connections alike, rejected credentials answered before anything behind it runs."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from app.factory import create_app
from auth.backend import AuthBackend
from auth.identity import ANONYMOUS
from auth.middleware import AuthenticationMiddleware, identity_of
from core.media import APPLICATION_JSON
from tests.helpers import make_settings
from web.errors import error_response, refuse_websocket

BAD_BEARER = {"authorization": "Bearer not.a.token"}


def _tiny_app(seen: list[Any]) -> Starlette:
    """An endpoint that records the identity it finds, behind the real middleware."""
    settings = make_settings()

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(identity_of(scope))
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def on_error(exc: BaseException, scope: Scope) -> Any:
        if scope["type"] == "websocket":
            return refuse_websocket(exc)
        return error_response(exc, APPLICATION_JSON)

    guarded = AuthenticationMiddleware(
        endpoint, AuthBackend.build(settings).authenticator, settings, on_error
    )
    return Starlette(routes=[Route("/", guarded), WebSocketRoute("/", guarded)])


def test_an_anonymous_request_gets_the_anonymous_identity_not_none():
    seen: list[Any] = []
    response = TestClient(_tiny_app(seen)).get("/")
    assert response.status_code == 204
    assert seen == [ANONYMOUS]


def test_a_rejected_credential_is_answered_by_on_error_and_the_endpoint_never_runs():
    seen: list[Any] = []
    response = TestClient(_tiny_app(seen)).get("/", headers=BAD_BEARER)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert seen == []


def test_a_websocket_gets_an_identity_in_its_scope_too():
    seen: list[Any] = []
    with TestClient(_tiny_app(seen)).websocket_connect("/") as socket, pytest.raises(WebSocketDisconnect):
        socket.receive_text()
    assert seen == [ANONYMOUS]


def test_a_websocket_with_a_rejected_credential_is_closed_unauthorized_before_it_is_accepted():
    seen: list[Any] = []
    client = TestClient(_tiny_app(seen))
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/", headers=BAD_BEARER):
        pass
    assert closed.value.code == 4401
    assert seen == []


def test_the_served_app_closes_a_cross_site_websocket_handshake_as_forbidden():
    client = TestClient(create_app(make_settings(database_url="sqlite://:memory:")))
    headers = {"origin": "https://evil.example"}
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/graphql", headers=headers):
        pass
    assert closed.value.code == 4403


def test_the_served_app_refuses_a_bad_bearer_on_its_websocket():
    client = TestClient(create_app(make_settings(database_url="sqlite://:memory:")))
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/graphql", headers=BAD_BEARER),
    ):
        pass
    assert closed.value.code == 4401
