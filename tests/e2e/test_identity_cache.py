"""The identity cache serves warm credentials without reading the database, and never a revoked one."""

from __future__ import annotations

import httpx
import pytest

from app.factory import create_app
from auth.strategy.refresh import RefreshStrategy
from auth.strategy.session import SessionStrategy
from tests.helpers import ME, STRONG_PASSWORD, bearer, bearer_login, gql, make_persona, make_settings


@pytest.fixture
def family_reads(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = RefreshStrategy.read_family

    async def counting(self, family_id):
        calls.append(family_id)
        return await original(self, family_id)

    monkeypatch.setattr(RefreshStrategy, "read_family", counting)
    return calls


async def test_warm_jwt_requests_do_not_read_the_database(http, family_reads):
    await make_persona(http, "alice")
    tokens = await bearer_login(http, "alice")
    for _ in range(5):
        assert (await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)).data["me"]
    assert len(family_reads) == 1  # the owner is in the token: only the first request reads


async def test_warm_session_requests_do_not_read_the_database(http, monkeypatch):
    reads: list[str] = []
    original = SessionStrategy.read

    async def counting(self, session_id):
        reads.append(session_id)
        return await original(self, session_id)

    monkeypatch.setattr(SessionStrategy, "read", counting)
    await make_persona(http, "alice")
    login = 'mutation($p: String!) { login(input: {login: "alice", password: $p}) { user { id } } }'
    assert (await gql(http, login, {"p": STRONG_PASSWORD})).status == 200
    for _ in range(5):
        assert (await gql(http, ME)).data["me"]["username"] == "alice"
    assert len(reads) == 2  # first sight, then the read stored under a generation


async def test_revocation_is_seen_by_the_next_request_despite_the_cache(http, family_reads):
    await make_persona(http, "alice")
    tokens = await bearer_login(http, "alice")
    for _ in range(3):
        await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)
    assert (
        await gql(http, "mutation { logout }", headers=bearer(tokens["accessToken"]), cookies=False)
    ).status == 200
    assert (await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)).status == 401


async def test_with_the_cache_off_every_request_reads_the_database(clean_backends, family_reads):
    app = create_app(make_settings(identity_cache=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await make_persona(http, "alice")
            tokens = await bearer_login(http, "alice")
            for _ in range(4):
                await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)
    assert len(family_reads) == 4
