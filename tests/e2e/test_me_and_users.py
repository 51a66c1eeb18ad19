"""`me`, `user(id)` and `users` through the real app: who may see what."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
import time_machine

from models import User
from tests.helpers import ME, PLAIN_CHALLENGE, Persona, bearer, bearer_login, cookie_login, gql

USER = "query User($id: ID!) { user(id: $id) { id username email roles createdAt } }"
USER_PUBLIC = "query User($id: ID!) { user(id: $id) { id username roles } }"
USERS = """
query Users($first: Int, $after: String) {
  users(first: $first, after: $after) {
    edges { cursor node { id username } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""


async def test_me_is_null_when_anonymous(http):
    result = await gql(http, ME)
    assert result.status == 200
    assert result.body == {"data": {"me": None}}


async def test_me_via_cookie(http, alice: Persona):
    await cookie_login(http, "alice")
    result = await gql(http, ME)
    assert result.status == 200
    assert result.data["me"] == {"id": alice.id, "username": "alice", "email": alice.email, "roles": []}


async def test_me_via_jwt(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    result = await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)
    assert result.status == 200
    assert result.data["me"]["id"] == alice.id
    assert result.data["me"]["email"] == alice.email


async def test_user_requires_authentication(http, alice: Persona):
    result = await gql(http, USER_PUBLIC, {"id": alice.id})
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == PLAIN_CHALLENGE
    assert result.data == {"user": None}


async def test_user_sees_own_email(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    result = await gql(http, USER, {"id": alice.id}, headers=bearer(tokens["accessToken"]), cookies=False)
    assert result.status == 200, result.body
    assert result.data["user"]["email"] == alice.email


async def test_admin_sees_anyones_email(http, alice: Persona, admin: Persona):
    tokens = await bearer_login(http, admin.username)
    result = await gql(http, USER, {"id": alice.id}, headers=bearer(tokens["accessToken"]), cookies=False)
    assert result.status == 200, result.body
    assert result.data["user"]["email"] == alice.email


async def test_others_email_is_forbidden(http, alice: Persona, bob: Persona):
    tokens = await bearer_login(http, "bob")
    headers = bearer(tokens["accessToken"])

    result = await gql(http, USER, {"id": alice.id}, headers=headers, cookies=False)
    assert result.codes == ["FORBIDDEN"]
    assert result.errors[0]["path"] == ["user", "email"]
    assert result.status == 403  # email is non-null, so `user` itself became null
    assert alice.email not in str(result.body)

    public = await gql(http, USER_PUBLIC, {"id": alice.id}, headers=headers, cookies=False)
    assert public.status == 200
    assert public.data["user"] == {"id": alice.id, "username": "alice", "roles": []}


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid", ""])
async def test_unknown_user_is_null(http, alice: Persona, user_id: str):
    tokens = await bearer_login(http, "alice")
    result = await gql(
        http, USER_PUBLIC, {"id": user_id}, headers=bearer(tokens["accessToken"]), cookies=False
    )
    assert result.status == 200, result.body
    assert result.body == {"data": {"user": None}}


async def test_users_anonymous_is_unauthenticated(http):
    result = await gql(http, USERS)
    assert result.status == 401
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == PLAIN_CHALLENGE


async def test_users_non_admin_is_forbidden(http, alice: Persona):
    tokens = await bearer_login(http, "alice")
    result = await gql(http, USERS, headers=bearer(tokens["accessToken"]), cookies=False)
    assert result.status == 403
    assert result.codes == ["FORBIDDEN"]
    assert "www-authenticate" not in result.headers


async def test_users_admin_gets_a_page(http, alice: Persona, admin: Persona):
    tokens = await bearer_login(http, admin.username)
    result = await gql(http, USERS, headers=bearer(tokens["accessToken"]), cookies=False)
    assert result.status == 200, result.body
    page = result.data["users"]
    assert page["totalCount"] == 2
    assert {e["node"]["username"] for e in page["edges"]} == {"alice", admin.username}
    assert page["pageInfo"]["hasNextPage"] is False


async def _make_users(count: int, same_instant: bool) -> None:
    # Rows straight through the model: no bcrypt, so volume stays cheap.
    moment = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    with time_machine.travel(moment, tick=not same_instant):
        for index in range(count):
            await User.create(
                username=f"member{index:02d}",
                username_key=f"member{index:02d}",
                email=f"member{index:02d}@example.com",
                email_key=f"member{index:02d}@example.com",
                password_hash="!",
                roles=[],
            )


@pytest.mark.parametrize("same_instant", [False, True], ids=["distinct-times", "tied-times"])
async def test_users_pagination_walks_every_user_once(http, admin: Persona, same_instant: bool):
    await _make_users(25, same_instant)
    headers = bearer((await bearer_login(http, admin.username))["accessToken"])

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        result = await gql(http, USERS, {"first": 10, "after": after}, headers=headers, cookies=False)
        assert result.status == 200, result.body
        page = result.data["users"]
        assert page["totalCount"] == 26
        assert len(page["edges"]) <= 10
        seen += [edge["node"]["id"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
        assert pages < 10

    assert pages == 3
    assert len(seen) == 26
    assert len(set(seen)) == 26


async def test_users_first_defaults_to_twenty(http, admin: Persona):
    await _make_users(25, same_instant=False)
    headers = bearer((await bearer_login(http, admin.username))["accessToken"])
    result = await gql(http, USERS, headers=headers, cookies=False)
    assert len(result.data["users"]["edges"]) == 20
    assert result.data["users"]["pageInfo"]["hasNextPage"] is True


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "!!!!",
        _cursor("not a cursor"),
        _cursor("2020|x"),
        _cursor(f"2020-01-01T00:00:00|{uuid.UUID(int=7)}"),  # naive time
        _cursor(f"2020-01-01T00:00:00+00:00|{'f' * 32}x"),
        _cursor("\x00|\x00"),
    ],
)
async def test_users_invalid_cursor_is_bad_input(http, admin: Persona, cursor: str):
    headers = bearer((await bearer_login(http, admin.username))["accessToken"])
    result = await gql(http, USERS, {"first": 5, "after": cursor}, headers=headers, cookies=False)
    if cursor == "":
        # An empty cursor means "from the start", like no cursor at all.
        assert result.status == 200 and not result.errors, result.body
        return
    assert result.status == 200
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "after" in result.errors[0]["extensions"]["fields"]


@pytest.mark.parametrize("first", [0, -1, 101, 2**31 - 1])
async def test_users_first_out_of_range_is_bad_input(http, admin: Persona, first: int):
    headers = bearer((await bearer_login(http, admin.username))["accessToken"])
    result = await gql(http, USERS, {"first": first}, headers=headers, cookies=False)
    assert result.status == 200
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "first" in result.errors[0]["extensions"]["fields"]


async def test_users_first_beyond_int_is_bad_input(http, admin: Persona):
    headers = bearer((await bearer_login(http, admin.username))["accessToken"])
    result = await gql(http, USERS, {"first": 2**40}, headers=headers, cookies=False)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "first" in result.errors[0]["extensions"]["fields"]


async def _page(http, headers, first: int, after: str | None) -> dict:
    result = await gql(http, USERS, {"first": first, "after": after}, headers=headers, cookies=False)
    assert result.status == 200 and not result.errors, result.body
    return result.data["users"]


@pytest.mark.parametrize("same_instant", [False, True], ids=["distinct-times", "tied-times"])
async def test_users_keyset_pages_first_middle_last_and_after_the_last(
    http, admin: Persona, same_instant: bool
):
    await _make_users(25, same_instant)  # 26 with the admin: pages of 10, 10 and 6
    headers = bearer((await bearer_login(http, admin.username))["accessToken"])
    everyone = await _page(http, headers, 100, None)
    order = [edge["node"]["username"] for edge in everyone["edges"]]
    assert len(order) == 26 and everyone["pageInfo"]["hasNextPage"] is False

    first = await _page(http, headers, 10, None)
    middle = await _page(http, headers, 10, first["pageInfo"]["endCursor"])
    last = await _page(http, headers, 10, middle["pageInfo"]["endCursor"])
    assert [e["node"]["username"] for e in first["edges"]] == order[:10]
    assert [e["node"]["username"] for e in middle["edges"]] == order[10:20]
    assert [e["node"]["username"] for e in last["edges"]] == order[20:]
    assert (first["pageInfo"]["hasNextPage"], middle["pageInfo"]["hasNextPage"]) == (True, True)
    assert last["pageInfo"]["hasNextPage"] is False
    assert last["pageInfo"]["endCursor"] == last["edges"][-1]["cursor"] == everyone["edges"][-1]["cursor"]

    beyond = await _page(http, headers, 10, last["pageInfo"]["endCursor"])
    assert beyond["edges"] == [] and beyond["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert beyond["totalCount"] == 26


@pytest.mark.parametrize("same_instant", [False, True], ids=["distinct-times", "tied-times"])
async def test_users_cursor_of_a_deleted_row_still_pages_on_from_where_it_was(
    http, admin: Persona, same_instant: bool
):
    await _make_users(25, same_instant)
    headers = bearer((await bearer_login(http, admin.username))["accessToken"])
    order = [edge["node"]["username"] for edge in (await _page(http, headers, 100, None))["edges"]]
    first = await _page(http, headers, 10, None)
    await User.filter(username=order[9]).delete()  # the row the cursor points at is gone
    await User.filter(username=order[10]).delete()  # and the next one too
    after_gone = await _page(http, headers, 10, first["pageInfo"]["endCursor"])
    assert [e["node"]["username"] for e in after_gone["edges"]] == order[11:21]
    assert after_gone["pageInfo"]["hasNextPage"] is True
