"""`TrustedIssuerStrategy`'s choice of tokens: only a JWS naming a trusted issuer in `iss`
comes to it, so Gatehouse's own access tokens (plain or encrypted) are verified once, by
the JWT strategy, and nothing is parsed at all when no issuer is trusted."""

from __future__ import annotations

import json
from typing import Any

import jwt as pyjwt

from auth.federation.providers import Federation
from auth.federation.tokens import ProviderClaims
from auth.identity_cache import IdentityCache, LocalGenerations
from auth.strategy.trusted_issuer import TrustedIssuerStrategy, token_scopes
from core.clock import utcnow
from core.settings import parse_trusted_issuers
from tests.helpers import make_settings

TRUSTED = "https://id.example.com/"


def strategy(**overrides: Any) -> TrustedIssuerStrategy:
    settings = make_settings(**overrides)
    return TrustedIssuerStrategy(Federation(settings), None, IdentityCache(LocalGenerations()), settings)  # type: ignore[arg-type]


def unsigned(claims: dict[str, Any]) -> str:
    return pyjwt.encode(claims, "k" * 32, algorithm="HS256")


def test_without_trusted_issuers_nothing_is_chosen():
    plain = strategy()
    assert plain.enabled is False
    assert plain.issuer_of(unsigned({"iss": TRUSTED})) is None


def test_only_a_trusted_iss_is_chosen():
    trusted = strategy(
        trusted_issuers=parse_trusted_issuers(json.dumps([{"issuer": TRUSTED, "audience": "api"}]))
    )
    assert trusted.issuer_of(unsigned({"iss": TRUSTED})).issuer == TRUSTED  # type: ignore[union-attr]
    for other in (
        unsigned({"iss": "gatehouse"}),  # Gatehouse's own (JWT_ISSUER)
        unsigned({"iss": TRUSTED.rstrip("/")}),  # not exactly the trusted issuer
        unsigned({"sub": "x"}),
        "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ciphertext.tag",  # an encrypted token
        "not-a-jwt",
        "a.b.c",
    ):
        assert trusted.issuer_of(other) is None, other


def claims(**payload: Any) -> ProviderClaims:
    return ProviderClaims(issuer=TRUSTED, subject="s", expires_at=utcnow(), issued_at=None, claims=payload)


def test_scopes_come_from_scope_or_scp():
    assert token_scopes(claims()) is None  # all of the user's rights, as Gatehouse's own tokens
    assert token_scopes(claims(scope="me users:read")) == {"me", "users:read"}
    assert token_scopes(claims(scp=["users:read"])) == {"users:read"}
    assert token_scopes(claims(scp="a b")) == {"a", "b"}
    assert token_scopes(claims(scope=7)) == frozenset()  # unreadable: no scope at all
