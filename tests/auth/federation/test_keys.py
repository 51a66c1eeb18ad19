"""`RemoteKeySet`: a provider's JWKS cached, read again after its age or for an unknown
`kid` (at most once per gap, concurrent callers sharing the read), the old set kept when a
read fails; and a real provider's key rotation followed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from auth.federation.keys import KeysUnavailable, RemoteKeySet, signing_key_set
from auth.federation.providers import Federation
from core.settings import parse_oidc_providers
from tests.helpers import make_settings
from tests.helpers.oidc_provider import OpenIDProvider, signing_keys


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def jwks(*kids: str) -> dict[str, Any]:
    return {"keys": [RSAKey.generate_key(2048, parameters={"kid": kid}).as_dict() for kid in kids]}


class Source:
    """A JWKS endpoint's answers, counted."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.reads = 0

    async def __call__(self) -> Any:
        self.reads += 1
        answer = self.answers[min(self.reads, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        await asyncio.sleep(0.01)
        return answer


async def test_the_set_is_read_once_then_kept_for_its_age():
    clock, source = Clock(), Source(jwks("a"), jwks("b"))
    keys = RemoteKeySet(source, max_age=60, clock=clock)
    assert keys.knows("a") is False
    await keys.current()
    await keys.current()
    assert source.reads == 1 and keys.knows("a")
    clock.now += 61
    await keys.current()
    assert source.reads == 2 and keys.knows("b") and not keys.knows("a")


async def test_an_unknown_kid_reads_again_once_per_gap():
    clock, source = Clock(), Source(jwks("a"), jwks("a"), jwks("a", "b"))
    keys = RemoteKeySet(source, refresh_gap=30, clock=clock)
    await keys.current()
    assert await keys.refreshed_for("b") is None  # read again: still unknown
    assert source.reads == 2
    for _ in range(20):
        assert await keys.refreshed_for("random") is None
    assert source.reads == 2  # within the gap: nobody asks the provider
    clock.now += 31
    assert await keys.refreshed_for("b") is not None
    assert source.reads == 3


async def test_concurrent_unknown_kids_share_one_read():
    clock, source = Clock(), Source(jwks("a"), jwks("a", "b"))
    keys = RemoteKeySet(source, clock=clock)
    await keys.current()
    found = await asyncio.gather(*(keys.refreshed_for("b") for _ in range(10)))
    assert all(f is not None for f in found)
    assert source.reads == 2


async def test_a_failed_read_keeps_the_old_set_and_a_first_failure_is_unavailable():
    clock = Clock()
    keys = RemoteKeySet(Source(KeysUnavailable("down")), clock=clock)
    with pytest.raises(KeysUnavailable):
        await keys.current()
    source = Source(jwks("a"), KeysUnavailable("down"))
    keys = RemoteKeySet(source, max_age=10, clock=clock)
    await keys.current()
    clock.now += 11
    assert (await keys.current()).keys[0].kid == "a"


def test_only_signature_keys_are_kept():
    document = jwks("sig-1", "enc-1")
    document["keys"][1]["use"] = "enc"
    document["keys"].append({"kty": "NOT-A-TYPE", "kid": "odd"})
    assert [k.kid for k in signing_key_set(document).keys] == ["sig-1"]
    for bad in ({}, {"keys": "x"}, [], {"keys": [{"kty": "RSA", "use": "enc", "n": "x", "e": "AQAB"}]}):
        with pytest.raises(KeysUnavailable):
            signing_key_set(bad)


async def test_a_rotation_at_a_real_provider_is_followed():
    with OpenIDProvider(keys=signing_keys("old")) as idp:
        client = idp.register_client(["http://testserver/auth/callback/harness"])
        settings = make_settings(
            oidc_providers=parse_oidc_providers(json.dumps([idp.provider_entry("harness", client)]))
        )
        federation = Federation(settings)
        provider = federation.providers["harness"]
        try:
            first = await idp.code_flow_tokens(client, nonce="n-old")
            await provider.verify_id_token(first["id_token"], nonce="n-old")
            assert provider.keys.knows("old-rsa") and provider.keys.reads == 1

            idp.restart(keys=signing_keys("new"))
            client = idp.register_client(["http://testserver/auth/callback/harness"])
            second = await idp.code_flow_tokens(client, nonce="n-new")
            assert jwt.decode(second["id_token"], idp_keys(idp)).header["kid"] == "new-rsa"
            claims = await provider.verify_id_token(
                second["id_token"], nonce="n-new", audiences=[client.client_id]
            )
            assert claims.subject == "ext-alice"
            assert provider.keys.reads == 2  # the unknown kid read the set again, once
        finally:
            await federation.close()


def idp_keys(idp: OpenIDProvider) -> Any:
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(idp.keys)
