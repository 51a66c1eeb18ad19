"""Every request strategy keeps the `Strategy` protocol: a credential it issued reads
into an identity of its scheme, named as it was presented, and no longer does once
`destroy_token` ended it."""

from __future__ import annotations

import base64

from auth.backend import AuthBackend
from auth.identity import Scheme
from core.client import ClientInfo
from tests.helpers import STRONG_PASSWORD, CountingHasher

CLIENT = ClientInfo(ip="198.51.100.4", is_https=True, user_agent="pytest")


async def test_a_session_reads_until_destroyed(backend: AuthBackend, make_user):
    user = await make_user("alice")
    session_id, row = await backend.sessions.write_token(user, CLIENT)
    identity = await backend.sessions.read_token(session_id, "cookie", CLIENT)
    assert identity is not None
    assert (identity.scheme, identity.presented_as, identity.credential_id) == (
        Scheme.SESSION,
        "cookie",
        str(row.id),
    )
    await backend.sessions.destroy_token(identity)
    await backend.identity_cache.invalidate_user(str(user.id))
    assert await backend.sessions.read_token(session_id, "cookie", CLIENT) is None


async def test_an_access_token_reads_until_its_family_is_destroyed(backend: AuthBackend, make_user):
    user = await make_user("alice")
    tokens = await backend.bearer.write_token(user, CLIENT)
    identity = await backend.bearer.read_token(tokens.access_token, "Bearer", CLIENT)
    assert identity is not None
    assert (identity.scheme, identity.credential_id) == (Scheme.JWT, tokens.family_id)
    await backend.bearer.destroy_token(identity)
    await backend.identity_cache.invalidate_user(str(user.id))
    assert await backend.bearer.read_token(tokens.access_token, "Bearer", CLIENT) is None
    assert await backend.bearer.read_token("not.a.jwt", "Bearer", CLIENT) is None


async def test_an_api_token_reads_until_destroyed(backend: AuthBackend, make_user):
    user = await make_user("alice")
    token, row = await backend.api_tokens.write_token(user, "ci", ["users:read"], 30, None)
    identity = await backend.api_tokens.read_token(token, "Bearer", CLIENT)
    assert identity is not None
    assert (identity.scheme, identity.presented_as, identity.scopes) == (
        Scheme.TOKEN,
        "Bearer",
        {"users:read"},
    )
    assert identity.credential_id == str(row.id)
    await backend.api_tokens.destroy_token(identity)
    await backend.identity_cache.invalidate_user(str(user.id))
    assert await backend.api_tokens.read_token(token, "Token", CLIENT) is None


async def test_destroying_a_basic_identity_checks_the_password_again(
    backend: AuthBackend, make_user, hasher: CountingHasher
):
    user = await make_user("alice")
    header = base64.b64encode(f"alice:{STRONG_PASSWORD}".encode()).decode()
    identity = await backend.basic.read_token(header, "Basic", CLIENT)
    assert identity is not None and identity.user_id == str(user.id)
    checks = hasher.verifications
    assert await backend.basic.read_token(header, "Basic", CLIENT) is not None
    assert hasher.verifications == checks  # the verified header is remembered
    await backend.basic.destroy_token(identity)
    await backend.identity_cache.invalidate_user(str(user.id))
    assert await backend.basic.read_token(header, "Basic", CLIENT) is not None
    assert hasher.verifications == checks + 1
