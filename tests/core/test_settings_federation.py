"""OIDC_PROVIDERS, TRUSTED_ISSUERS and OIDC_TIMEOUT: read once, every refusal naming the
variable and the entry, never a client secret."""

from __future__ import annotations

import json

import pytest

from core.settings import (
    DEFAULT_OIDC_SCOPES,
    OidcProviderSettings,
    Secret,
    Settings,
    SettingsError,
    TrustedIssuerSettings,
    parse_oidc_providers,
    parse_trusted_issuers,
)
from tests.helpers import TEST_SECRET

ACME = {"name": "acme", "issuer": "https://id.acme.example/", "client_id": "gatehouse-web"}


def env(**values: object) -> dict[str, str]:
    return {
        "SECRET_KEY": TEST_SECRET,
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()},
    }


def test_unset_means_no_provider_and_no_trusted_issuer():
    settings = Settings.from_env(env())
    assert settings.oidc_providers == () and settings.trusted_issuers == ()
    assert settings.oidc_timeout == 10.0


def test_a_provider_entry_is_read_with_its_defaults():
    settings = Settings.from_env(env(OIDC_PROVIDERS=[ACME], OIDC_TIMEOUT="3"))
    assert settings.oidc_providers == (
        OidcProviderSettings(name="acme", issuer="https://id.acme.example/", client_id="gatehouse-web"),
    )
    provider = settings.oidc_providers[0]
    # The issuer is kept exactly (Auth0's ends with a slash, and `iss` must equal it).
    assert provider.issuer.endswith("/")
    assert provider.scopes == DEFAULT_OIDC_SCOPES and provider.client_secret is None
    assert provider.audiences == ("gatehouse-web",)
    assert settings.oidc_timeout == 3.0


def test_a_full_entry_keeps_its_secret_hidden():
    entry = {
        **ACME,
        "client_secret": "s3cr3t-value",
        "scopes": ["email", "profile"],
        "mobile_client_ids": ["ios-app", "android-app"],
    }
    provider = parse_oidc_providers(json.dumps([entry]))[0]
    assert provider.client_secret == Secret("s3cr3t-value")
    assert "s3cr3t-value" not in repr(provider)
    # openid is always asked for: without it there is no ID token.
    assert provider.scopes == ("openid", "email", "profile")
    assert provider.audiences == ("gatehouse-web", "ios-app", "android-app")


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("not json", "JSON list"),
        (json.dumps({"name": "acme"}), "JSON list"),
        (json.dumps([{**ACME, "clientid": "x"}]), "unknown key(s) clientid"),
        (json.dumps([{**ACME, "name": "Acme Corp"}]), "'name' must be"),
        (json.dumps([{**ACME, "name": "a/b"}]), "'name' must be"),
        (json.dumps([{k: v for k, v in ACME.items() if k != "client_id"}]), "needs 'client_id'"),
        (json.dumps([{**ACME, "issuer": "http://id.acme.example"}]), "'issuer' must be an https URL"),
        (json.dumps([{**ACME, "issuer": "https://id.acme.example/?x=1"}]), "'issuer' must be an https URL"),
        (json.dumps([{**ACME, "issuer": "https://u:p@id.acme.example"}]), "'issuer' must be an https URL"),
        (json.dumps([{**ACME, "scopes": "openid email"}]), "'scopes' must be a list"),
        (json.dumps([{**ACME, "client_secret": ""}]), "'client_secret' must be"),
        (json.dumps([ACME, {**ACME, "client_id": "other"}]), "names acme more than once"),
    ],
)
def test_bad_provider_entries_stop_start_up_naming_the_variable(raw: str, names: str):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env(OIDC_PROVIDERS=raw))
    assert "OIDC_PROVIDERS" in str(refused.value) and names in str(refused.value)


def test_a_refusal_never_shows_the_client_secret():
    raw = json.dumps([{**ACME, "client_secret": "s3cr3t-value", "issuer": "ftp://x"}])
    with pytest.raises(SettingsError) as refused:
        parse_oidc_providers(raw)
    assert "s3cr3t-value" not in str(refused.value)


def test_plain_http_is_for_a_loopback_provider_outside_production_only():
    local = {**ACME, "issuer": "http://127.0.0.1:9000"}
    assert parse_oidc_providers(json.dumps([local]))[0].issuer == "http://127.0.0.1:9000"
    with pytest.raises(SettingsError, match="https"):
        parse_oidc_providers(json.dumps([local]), production=True)


def test_trusted_issuers_are_read_and_checked():
    entries = [
        {"issuer": "https://tenant.auth0.example/", "audience": "https://api.example.com"},
        {"issuer": "https://kc.example/realms/x", "audience": "api", "jwks_uri": "https://kc.example/certs"},
    ]
    settings = Settings.from_env(env(TRUSTED_ISSUERS=entries))
    assert settings.trusted_issuers == (
        TrustedIssuerSettings("https://tenant.auth0.example/", "https://api.example.com"),
        TrustedIssuerSettings("https://kc.example/realms/x", "api", "https://kc.example/certs"),
    )


@pytest.mark.parametrize(
    ("entries", "names"),
    [
        ([{"issuer": "https://a.example"}], "needs 'audience'"),
        ([{"issuer": "https://a.example", "audience": "x", "jwks": {}}], "unknown key(s) jwks"),
        ([{"issuer": "https://a.example", "audience": "x", "jwks_uri": "http://a.example/k"}], "'jwks_uri'"),
        ([{"issuer": "https://a.example", "audience": "x"}] * 2, "more than once"),
    ],
)
def test_bad_trusted_issuers_stop_start_up_naming_the_variable(entries: list, names: str):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env(TRUSTED_ISSUERS=entries))
    assert "TRUSTED_ISSUERS" in str(refused.value) and names in str(refused.value)


def test_gatehouse_itself_is_no_trusted_issuer():
    with pytest.raises(SettingsError, match="JWT_ISSUER"):
        Settings.from_env(
            env(
                JWT_ISSUER="https://auth.example.com",
                TRUSTED_ISSUERS=[{"issuer": "https://auth.example.com", "audience": "x"}],
            )
        )


def test_the_timeout_has_bounds():
    with pytest.raises(SettingsError, match="OIDC_TIMEOUT"):
        Settings.from_env(env(OIDC_TIMEOUT="0"))
    with pytest.raises(SettingsError, match="OIDC_TIMEOUT"):
        parse_trusted_issuers("[]") or Settings.from_env(env(OIDC_TIMEOUT="61"))
