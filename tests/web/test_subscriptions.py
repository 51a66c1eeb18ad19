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

import anyio
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
from web.persisted import sha256_hex

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


# -- the socket's credential, read again (contract section 13: 4401 once revoked) -------


def _receive_within(socket: Any, seconds: float) -> dict[str, Any]:
    """The next message, or `TimeoutError` after `seconds` (a close raises as receive_json)."""

    async def receive() -> Any:
        with anyio.fail_after(seconds):
            return await socket._send_rx.receive()

    message = socket.portal.call(receive)
    socket._raise_on_close(message)
    return json.loads(message["text"])


def _closed_within(socket: Any, seconds: float) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        _receive_within(socket, seconds)
    return closed.value.code


def _subscribed(socket: Any, operation_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    _send(socket, {"type": "subscribe", "id": operation_id, "payload": payload})
    return _receive_within(socket, 2)


LOGOUT = {"query": "mutation { logout }"}
MY_ROLES = {"query": "query { me { roles } }"}


def test_a_logout_is_felt_by_the_next_subscribe_which_closes_4401(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(subscriptions, "REVALIDATE_INTERVAL", 3600.0)  # only the subscribe checks
    headers = _bearer(client, "leaver")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        assert _subscribed(socket, "before", STATUS)["type"] == "next"
        assert _receive_within(socket, 2) == {"type": "complete", "id": "before"}
        assert client.post("/graphql", json=LOGOUT, headers=headers).json() == {"data": {"logout": True}}

        _send(socket, {"type": "subscribe", "id": "after", "payload": MY_ROLES})

        assert _closed_within(socket, 2) == 4401


def test_an_open_subscription_stops_within_a_second_of_a_revocation(client: TestClient):
    headers = _bearer(client, "revoked")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        assert _subscribed(socket, "w", WATCH)["payload"] == {"data": {"projectWatch": "watching"}}
        assert client.post("/graphql", json=LOGOUT, headers=headers).json() == {"data": {"logout": True}}

        assert _closed_within(socket, 1.0) == 4401


def test_a_deactivated_user_s_socket_closes_4401(client: TestClient):
    headers = _bearer(client, "deactivated")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        assert _subscribed(socket, "w", WATCH)["type"] == "next"
        client.portal.call(_deactivate, "deactivated", client.app)

        assert _closed_within(socket, 1.0) == 4401


async def _deactivate(username: str, app: Any) -> None:
    from models import User

    user = await User.get(username=username)
    await User.filter(id=user.id).update(is_active=False)
    await app.state.backend.identity_cache.invalidate_user(str(user.id))  # as the services do


async def _make_admin(username: str) -> None:
    from models import User

    await User.filter(username=username).update(roles=["admin"])


def _admin_pair(client: TestClient) -> tuple[dict[str, str], dict[str, str], str]:
    """Two admins (made before they sign in): the headers of each, and the first's id."""
    for username in ("chief", "deputy"):
        variables = {
            "input": {"username": username, "email": f"{username}@example.com", "password": STRONG_PASSWORD}
        }
        assert client.post("/graphql", json={"query": REGISTER, "variables": variables}).status_code == 200
        client.portal.call(_make_admin, username)
    client.cookies.clear()
    chief, deputy = (
        {"Authorization": f"Bearer {_login(client, username)}"} for username in ("chief", "deputy")
    )
    me = client.post("/graphql", json={"query": "query { me { id } }"}, headers=chief).json()
    return chief, deputy, me["data"]["me"]["id"]


def _login(client: TestClient, username: str) -> str:
    login = {"input": {"login": username, "password": STRONG_PASSWORD, "transport": "BEARER"}}
    answer = client.post("/graphql", json={"query": LOGIN, "variables": login}).json()
    return str(answer["data"]["login"]["accessToken"])


def test_a_withdrawn_role_is_felt_by_the_next_operation_and_ends_the_subscription_needing_it(
    client: TestClient,
):
    chief, deputy, chief_id = _admin_pair(client)
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=chief) as socket:
        _initialised(socket)
        assert _subscribed(socket, "roles", MY_ROLES)["payload"] == {"data": {"me": {"roles": ["admin"]}}}
        assert _receive_within(socket, 2)["type"] == "complete"
        admin_watch = {"query": "subscription { projectAdminWatch }"}
        assert _subscribed(socket, "a", admin_watch)["payload"] == {"data": {"projectAdminWatch": "watching"}}
        withdraw = {
            "query": 'mutation($id: ID!) { revokeRole(userId: $id, role: "admin") { roles } }',
            "variables": {"id": chief_id},
        }
        assert client.post("/graphql", json=withdraw, headers=deputy).json() == {
            "data": {"revokeRole": {"roles": []}}
        }

        ended = _receive_within(socket, 1.0)
        assert ended["id"] == "a" and ended["type"] == "next", ended
        assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["FORBIDDEN"]
        assert _receive_within(socket, 1.0) == {"type": "complete", "id": "a"}
        assert _subscribed(socket, "again", MY_ROLES)["payload"] == {"data": {"me": {"roles": []}}}


# -- persisted queries over the socket (the rules of HTTP, contract section 6) -----------


def test_persisted_queries_only_refuses_other_documents_over_the_socket(tmp_path: Any):
    _clean()
    listed = STATUS["query"]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha256_hex(listed): listed}))
    settings = make_settings(
        schema_modules=(MODULE,), persisted_queries="only", persisted_queries_file=str(manifest)
    )
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket,
    ):
        _initialised(socket)
        refused = _subscribed(socket, "other", {"query": "query { me { id } __typename }"})
        assert refused["type"] == "error", refused
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["PERSISTED_QUERY_NOT_FOUND"]

        by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(listed)}}}
        assert _subscribed(socket, "listed", by_hash)["payload"] == {
            "data": {"projectsStatus": "projects: ok"}
        }


def test_automatic_persisted_queries_work_over_the_socket(client: TestClient):
    document = "query Apq { projectsStatus }"
    hashed = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as socket:
        _initialised(socket)
        unknown = _subscribed(socket, "1", {"extensions": hashed})
        assert [e["extensions"]["code"] for e in unknown["payload"]] == ["PERSISTED_QUERY_NOT_FOUND"]
        assert _subscribed(socket, "2", {"query": document, "extensions": hashed})["type"] == "next"
        assert _receive_within(socket, 2)["type"] == "complete"
        mismatch = _subscribed(socket, "3", {"query": "query { projectsStatus }", "extensions": hashed})
        assert [e["extensions"]["code"] for e in mismatch["payload"]] == ["BAD_REQUEST"]

        remembered = _subscribed(socket, "4", {"extensions": hashed})

    assert remembered["payload"] == {"data": {"projectsStatus": "projects: ok"}}


# -- errors from an event stream (web/errors.py codes them; nothing escapes the task) ----


def test_a_forbidden_event_is_a_coded_next_then_complete(client: TestClient):
    headers = _bearer(client, "handover")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        own = _subscribed(socket, "h", {"query": "subscription { projectHandover { name } }"})
        assert own["payload"] == {"data": {"projectHandover": {"name": "handover"}}}

        refused = _receive_within(socket, 2)
        assert refused["type"] == "next" and refused["payload"]["data"] is None, refused
        assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["FORBIDDEN"]
        assert _receive_within(socket, 2) == {"type": "complete", "id": "h"}
        _send(socket, {"type": "ping"})
        assert _receive_within(socket, 2) == {"type": "pong"}  # the socket goes on


def test_an_unexpected_stream_failure_is_an_internal_error_logged_once(
    client: TestClient, caplog: pytest.LogCaptureFixture
):
    headers = _bearer(client, "failing")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        assert _subscribed(socket, "f", {"query": "subscription { projectFailure }"})["type"] == "next"

        failed = _receive_within(socket, 2)
        assert _receive_within(socket, 2) == {"type": "complete", "id": "f"}

    assert failed["payload"] == {
        "data": None,
        "errors": [{"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
    }
    traced = [r for r in caplog.records if r.exc_info and "internal detail" in str(r.exc_info[1])]
    assert len(traced) == 1


# -- the cap on operations per socket (MAX_SUBSCRIPTIONS_PER_SOCKET, default 20) ---------


def test_the_21st_operation_at_once_is_refused_until_one_completes(client: TestClient):
    headers = _bearer(client, "greedy")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
        _initialised(socket)
        for number in range(20):
            assert _subscribed(socket, f"w{number}", WATCH)["type"] == "next"

        refused = _subscribed(socket, "w20", WATCH)
        assert refused["type"] == "error" and refused["id"] == "w20", refused
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["BAD_REQUEST"]
        _send(socket, {"type": "complete", "id": "w0"})
        assert _subscribed(socket, "w20", WATCH) == {
            "type": "next",
            "id": "w20",
            "payload": {"data": {"projectWatch": "watching"}},
        }


def test_the_cap_is_the_setting():
    _clean()
    with TestClient(
        create_app(make_settings(schema_modules=(MODULE,), max_subscriptions_per_socket=1))
    ) as one:
        headers = _bearer(one, "single")
        with one.websocket_connect("/graphql", subprotocols=[PROTOCOL], headers=headers) as socket:
            _initialised(socket)
            assert _subscribed(socket, "a", WATCH)["type"] == "next"

            assert _subscribed(socket, "b", STATUS)["type"] == "error"
