"""Forged `users(after:)` cursors.

Issue 10, case 9: on PostgreSQL a cursor whose time has an offset like
`0001-01-01T00:00:00+14:00` answered 500: the time parses, but in UTC it falls before the
year 1, which the driver cannot encode. A cursor is opaque to clients; every malformed,
out-of-range or oversized one is `BAD_USER_INPUT` on the field `after`, on both databases.
"""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest

from tests.helpers import Persona, bearer, bearer_login, gql

USERS = """
query Users($first: Int, $after: String) {
  users(first: $first, after: $after) { edges { cursor node { id } } pageInfo { endCursor } }
}"""
ROW = uuid.UUID(int=7)


def cursor(text: str) -> str:
    """A cursor of the form handed out before issue 16 (the ISO time and the id as text)."""
    return base64.urlsafe_b64encode(text.encode()).decode()


def compact(micros: int, row: bytes = ROW.bytes) -> str:
    """A cursor of today's form: microseconds since 1970 and the id's 16 bytes."""
    return base64.urlsafe_b64encode(micros.to_bytes(8, "big", signed=True) + row).decode()


FORGED = [
    cursor(f"0001-01-01T00:00:00+14:00|{ROW}"),  # the report: before year 1 in UTC
    cursor(f"0001-01-01T00:00:00+00:01|{ROW}"),
    cursor(f"9999-12-31T23:59:59-14:00|{ROW}"),  # after year 9999 in UTC
    cursor(f"9999-12-31T23:59:59.999999-00:00:01|{ROW}"),
    cursor(f"2020-01-01T00:00:00+23:59|{ROW}"),
    cursor(f"2020-01-01T00:00:00+00:00|{ROW}|extra"),
    cursor(f"2020-01-01T00:00:00+00:00|{'f' * 32}"),  # not a UUID with dashes: fine, a UUID
    cursor("2020-01-01T00:00:00+00:00"),  # no id
    cursor(f"|{ROW}"),
    base64.urlsafe_b64encode(b"\xff\xfe|\x80").decode(),  # not UTF-8
    "A" * 5000,  # huge
    cursor("2020-01-01T00:00:00+00:00|" + "1" * 10_000),
    "====",
    "%%%%",
    compact(2**63 - 1),  # far past the year 9999
    compact(-(2**63)),  # far before the year 1
    compact(253402300800 * 10**6),  # 10000-01-01
    compact(-62135596800 * 10**6 - 1),  # a microsecond before 0001-01-01
    compact(0)[:-1],  # 31 characters
    compact(0) + "A",  # 33
    compact(0, ROW.bytes[:15] + b"")[:32],  # 23 bytes in 32 characters
    "%" * 32,
    "A" * 30 + "==",  # 22 bytes
]


@pytest.fixture
async def admin_headers(http: httpx.AsyncClient, admin: Persona) -> dict[str, str]:
    return bearer((await bearer_login(http, admin.username))["accessToken"])


@pytest.mark.parametrize("after", FORGED)
async def test_a_forged_cursor_is_bad_input_on_after(http: httpx.AsyncClient, admin_headers, after: str):
    result = await gql(http, USERS, {"first": 5, "after": after}, headers=admin_headers, cookies=False)
    if after == FORGED[6]:
        # 32 hex digits are a UUID: a well-formed cursor pointing at no row.
        assert result.status == 200 and not result.errors, result.body
        return
    assert result.status == 200, result.body
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert list(result.errors[0]["extensions"]["fields"]) == ["after"]


async def test_cursors_at_the_edges_of_time_still_work(http: httpx.AsyncClient, admin_headers):
    for moment in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999+00:00", "2020-01-01T00:00:00Z"):
        variables = {"first": 5, "after": cursor(f"{moment}|{ROW}")}
        result = await gql(http, USERS, variables, headers=admin_headers, cookies=False)
        assert result.status == 200 and not result.errors, (moment, result.body)
    for micros in (-62135596800 * 10**6, 253402300800 * 10**6 - 1, 0):  # 0001-01-01, 9999-12-31, 1970
        result = await gql(
            http, USERS, {"first": 5, "after": compact(micros)}, headers=admin_headers, cookies=False
        )
        assert result.status == 200 and not result.errors, (micros, result.body)


async def test_a_cursor_of_the_earlier_form_pages_on_from_the_same_row(
    http: httpx.AsyncClient, admin_headers, alice: Persona, bob: Persona
):
    """A client paging through a deployment keeps its place: the ISO form handed out
    before issue 16 points at the same row as today's cursor."""
    from services.users import decode_cursor

    first = await gql(http, USERS, {"first": 1}, headers=admin_headers, cookies=False)
    end = first.data["users"]["pageInfo"]["endCursor"]
    assert len(end) == 32
    created, row_id = decode_cursor(end)
    earlier = cursor(f"{created.isoformat()}|{row_id}")
    pages = [
        await gql(http, USERS, {"first": 5, "after": after}, headers=admin_headers, cookies=False)
        for after in (end, earlier)
    ]
    assert pages[0].data == pages[1].data and len(pages[0].data["users"]["edges"]) == 2, pages[1].body


async def test_real_cursors_round_trip(http: httpx.AsyncClient, admin_headers, alice: Persona, bob: Persona):
    first = await gql(http, USERS, {"first": 1}, headers=admin_headers, cookies=False)
    end = first.data["users"]["pageInfo"]["endCursor"]
    rest = await gql(http, USERS, {"first": 5, "after": end}, headers=admin_headers, cookies=False)
    assert rest.status == 200 and not rest.errors, rest.body
    seen = [e["node"]["id"] for e in first.data["users"]["edges"] + rest.data["users"]["edges"]]
    assert len(seen) == len(set(seen)) == 3
