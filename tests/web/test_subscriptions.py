"""The graphql-transport-ws protocol on /graphql (web/subscriptions.py), in process.

The module's subscription over a real uvicorn socket, with each kind of credential, is in
tests/e2e/test_modules.py; here, the protocol's own rules: acknowledgement, ping, ids,
completion, closes with their codes, and the socket without any Subscription root.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import web.subscriptions as subscriptions
from app.factory import create_app
from tests.helpers import (
    LOGIN,
    REGISTER,
    STRONG_PASSWORD,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    make_settings,
    reset_postgres,
    reset_redis,
)

MODULE = "tests.helpers.modules.projects"
PROTOCOL = subscriptions.PROTOCOL
STATUS = {"query": "query { projectsStatus }"}
TICKS = {"query": "subscription { projectTicks(count: 1) }"}
WATCH = {"query": "subscription { projectWatch }"}


def _clean() -> None:
    """The suite's PostgreSQL and Redis emptied (when set), the module's tables included."""
    if TEST_DATABASE_URL:
        asyncio.run(reset_postgres(TEST_DATABASE_URL, modules=(MODULE,)))
    if TEST_REDIS_URL:
        asyncio.run(reset_redis(TEST_REDIS_URL))


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The app with the projects module on the suite's database, lifespan entered."""
    _clean()
    with TestClient(create_app(make_settings(schema_modules=(MODULE,)))) as test_client:
        yield test_client


def _send(socket: Any, message: dict[str, Any]) -> None:
    socket.send_text(json.dumps(message))


def _initialised(socket: Any) -> None:
    _send(socket, {"type": "connection_init"})
    assert socket.receive_json() == {"type": "connection_ack"}


def _closed_with(socket: Any) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_json()
    return closed.value.code


def test_a_query_over_the_socket_answers_next_then_complete(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        assert socket.accepted_subprotocol == PROTOCOL
        _initialised(socket)
        _send(socket, {"type": "subscribe", "id": "q", "payload": STATUS})

        assert socket.receive_json() == {
            "type": "next",
            "id": "q",
            "payload": {"data": {"projectsStatus": "projects: ok"}},
        }
        assert socket.receive_json() == {"type": "complete", "id": "q"}


def test_ping_is_answered_with_pong(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _initialised(socket)
        _send(socket, {"type": "ping"})

        assert socket.receive_json() == {"type": "pong"}


def test_a_subscription_of_an_anonymous_socket_is_refused_then_completed(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _initialised(socket)
        _send(socket, {"type": "subscribe", "id": "s", "payload": TICKS})

        refused = socket.receive_json()
        assert refused["type"] == "next" and refused["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["UNAUTHENTICATED"]
        assert socket.receive_json() == {"type": "complete", "id": "s"}


def test_a_mutation_over_the_socket_is_an_error_message(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _initialised(socket)
        _send(
            socket,
            {
                "type": "subscribe",
                "id": "m",
                "payload": {"query": 'mutation { createProject(name: "x") { id } }'},
            },
        )

        error = socket.receive_json()
        assert error["type"] == "error" and error["id"] == "m"
        assert error["payload"][0]["message"] == "Send mutations as POST requests."


def test_the_guard_rules_hold_over_the_socket(client: TestClient):
    deep = "query { " + "me { " * 20 + "id" + " }" * 20 + " }"
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _initialised(socket)
        _send(socket, {"type": "subscribe", "id": "d", "payload": {"query": deep}})

        error = socket.receive_json()
        assert error["type"] == "error", error
        assert error["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_subscribe_before_the_acknowledgement_closes_4401(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _send(socket, {"type": "subscribe", "id": "early", "payload": TICKS})

        assert _closed_with(socket) == 4401


def test_a_second_connection_init_closes_4429(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _initialised(socket)
        _send(socket, {"type": "connection_init"})

        assert _closed_with(socket) == 4429


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    variables = {
        "input": {"username": username, "email": f"{username}@example.com", "password": STRONG_PASSWORD}
    }
    assert client.post("/graphql", json={"query": REGISTER, "variables": variables}).status_code == 200
    login = {"input": {"login": username, "password": STRONG_PASSWORD, "transport": "BEARER"}}
    answer = client.post("/graphql", json={"query": LOGIN, "variables": login}).json()
    return {"Authorization": f"Bearer {answer['data']['login']['accessToken']}"}


def test_an_id_in_use_closes_4409(client: TestClient):
    headers = _bearer(client, "watcher")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        _send(socket, {"type": "subscribe", "id": "same", "payload": WATCH})
        assert socket.receive_json() == {
            "type": "next",
            "id": "same",
            "payload": {"data": {"projectWatch": "watching"}},
        }
        _send(socket, {"type": "subscribe", "id": "same", "payload": WATCH})

        assert _closed_with(socket) == 4409


def test_complete_from_the_client_ends_the_operation_and_frees_its_id(client: TestClient):
    headers = _bearer(client, "quitter")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        _send(socket, {"type": "subscribe", "id": "w", "payload": WATCH})
        assert socket.receive_json()["type"] == "next"
        _send(socket, {"type": "complete", "id": "w"})
        _send(socket, {"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}  # the complete was handled before it

        _send(socket, {"type": "subscribe", "id": "w", "payload": WATCH})

        assert socket.receive_json() == {
            "type": "next",
            "id": "w",
            "payload": {"data": {"projectWatch": "watching"}},
        }


def test_a_signed_in_socket_runs_the_modules_subscription_as_its_user(client: TestClient):
    headers = _bearer(client, "ticker")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        _send(
            socket,
            {"type": "subscribe", "id": "t", "payload": {"query": "subscription { projectTicks(count: 2) }"}},
        )

        assert [socket.receive_json() for _ in range(3)] == [
            {"type": "next", "id": "t", "payload": {"data": {"projectTicks": "0:ticker"}}},
            {"type": "next", "id": "t", "payload": {"data": {"projectTicks": "1:ticker"}}},
            {"type": "complete", "id": "t"},
        ]


@pytest.mark.parametrize("text", ["not json", "[1]", '{"type": 3}', '{"type": "launch"}'])
def test_an_invalid_message_closes_4400(client: TestClient, text: str):
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _initialised(socket)
        socket.send_text(text)

        assert _closed_with(socket) == 4400


def test_an_unacknowledged_socket_closes_4408(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(subscriptions, "INIT_TIMEOUT", 0.2)
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        assert _closed_with(socket) == 4408


@pytest.mark.parametrize("offered", [["graphql-ws"], []], ids=["legacy", "none"])
def test_other_subprotocols_close_4406(client: TestClient, offered: list[str]):
    with client.websocket_connect("/graphql", subprotocols=offered) as socket:
        assert _closed_with(socket) == 4406


def test_a_message_over_the_body_limit_closes_1009():
    _clean()
    settings = make_settings(schema_modules=(MODULE,), max_body_bytes=2048)
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket,
    ):
        _initialised(socket)
        _send(
            socket,
            {"type": "subscribe", "id": "big", "payload": {"query": "query { me { id } }" + " " * 4096}},
        )

        assert _closed_with(socket) == 1009


def test_without_a_subscription_root_the_socket_is_closed_as_before():
    _clean()
    with TestClient(create_app(make_settings())) as client:
        with pytest.raises(WebSocketDisconnect) as closed:  # closed before it is accepted
            client.websocket_connect("/graphql", subprotocols=[PROTOCOL]).__enter__()

    assert (closed.value.code, closed.value.reason) == (1000, "No subscriptions are served yet.")
