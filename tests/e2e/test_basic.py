"""HTTP Basic through the real app: logins, HTTPS in production, proxies, the verified-header cache."""

from __future__ import annotations

import pytest

from tests.helpers import (
    BASIC_CHALLENGE,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    CountingHasher,
    Persona,
    app_client,
    basic,
    gql,
    make_persona,
    make_settings,
)

CHANGE_PASSWORD = """
mutation Change($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new)
}"""
NEW_PASSWORD = "quiet meadow copper lantern"


def _assert_basic_refused(result) -> None:
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == BASIC_CHALLENGE


@pytest.mark.parametrize("login", ["alice", "ALICE", "alice@example.com", "Alice@Example.com"])
async def test_basic_with_username_or_email(http, alice: Persona, login: str):
    result = await gql(http, ME, headers=basic(login, STRONG_PASSWORD), cookies=False)
    assert result.status == 200, result.body
    assert result.data["me"]["id"] == alice.id


async def test_basic_with_utf8_login_and_password(http):
    password = "ünïcødé wörds ☂ lantern"
    registered = await gql(
        http,
        REGISTER,
        {
            "input": {
                "username": "jose",
                "email": "josé@example.com",
                "password": password,
                "transport": "BEARER",
            }
        },
        cookies=False,
    )
    assert registered.status == 200, registered.body
    user_id = registered.data["register"]["user"]["id"]

    for login in ("josé@example.com", "JOSÉ@example.com", "jose"):
        result = await gql(http, ME, headers=basic(login, password), cookies=False)
        assert result.status == 200, (login, result.body)
        assert result.data["me"]["id"] == user_id


async def test_basic_password_may_contain_colons(http):
    password = "a:b:c: copper:meadow"
    persona = await make_persona(http, "colons", password)
    result = await gql(http, ME, headers=basic("colons", password), cookies=False)
    assert result.status == 200, result.body
    assert result.data["me"]["id"] == persona.id


async def test_basic_wrong_password(http, alice: Persona):
    _assert_basic_refused(
        await gql(http, ME, headers=basic("alice", "not my password at all"), cookies=False)
    )


async def test_basic_disabled_account(http, inactive_user: Persona):
    _assert_basic_refused(await gql(http, ME, headers=basic("dormant", STRONG_PASSWORD), cookies=False))


async def test_basic_works_again_and_again(http, alice: Persona):
    for _ in range(3):
        result = await gql(http, ME, headers=basic("alice", STRONG_PASSWORD), cookies=False)
        assert result.data["me"]["id"] == alice.id


def _production():
    return make_settings(app_env="production")


async def _register(client, username: str = "alice") -> None:
    result = await gql(
        client,
        "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
        {
            "i": {
                "username": username,
                "email": f"{username}@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        },
    )
    assert result.status == 200, result.body


async def test_production_refuses_basic_over_plain_http(clean_backends):
    async with app_client(_production()) as client:
        await _register(client)
        result = await gql(client, ME, headers=basic("alice", STRONG_PASSWORD))
    _assert_basic_refused(result)
    assert "https" in result.errors[0]["message"].lower()


async def test_production_accepts_basic_from_a_trusted_proxy_saying_https(clean_backends):
    async with app_client(_production(), client=("127.0.0.1", 5000)) as client:
        await _register(client)
        headers = {**basic("alice", STRONG_PASSWORD), "X-Forwarded-Proto": "https"}
        result = await gql(client, ME, headers=headers)
    assert result.status == 200, result.body
    assert result.data["me"]["username"] == "alice"


async def test_production_ignores_forwarded_proto_from_an_untrusted_peer(clean_backends):
    async with app_client(_production(), client=("10.0.0.9", 123)) as client:
        await _register(client)
        headers = {**basic("alice", STRONG_PASSWORD), "X-Forwarded-Proto": "https"}
        result = await gql(client, ME, headers=headers)
    _assert_basic_refused(result)
    assert "https" in result.errors[0]["message"].lower()


async def test_production_accepts_basic_over_real_https(clean_backends):
    async with app_client(_production(), base_url="https://testserver") as client:
        await _register(client)
        result = await gql(client, ME, headers=basic("alice", STRONG_PASSWORD))
    assert result.status == 200, result.body


async def test_production_refuses_plain_http_even_with_the_wrong_password(clean_backends):
    # The HTTPS check comes first, so a sniffed channel never learns whether a password is right.
    async with app_client(_production()) as client:
        await _register(client)
        right = await gql(client, ME, headers=basic("alice", STRONG_PASSWORD))
        wrong = await gql(client, ME, headers=basic("alice", "wrong wrong wrong wrong"))
    assert right.body == wrong.body


async def test_cached_basic_skips_bcrypt(clean_backends):
    hasher = CountingHasher()
    async with app_client(make_settings(), hasher=hasher) as client:
        await _register(client)
        for _ in range(3):
            result = await gql(client, ME, headers=basic("alice", STRONG_PASSWORD))
            assert result.data["me"]["username"] == "alice"
    assert hasher.verifications == 1


async def test_password_change_empties_the_cache(clean_backends):
    hasher = CountingHasher()
    async with app_client(make_settings(), hasher=hasher) as client:
        await _register(client)
        old = basic("alice", STRONG_PASSWORD)
        assert (await gql(client, ME, headers=old)).data["me"]["username"] == "alice"

        changed = await gql(
            client, CHANGE_PASSWORD, {"current": STRONG_PASSWORD, "new": NEW_PASSWORD}, headers=old
        )
        assert changed.data == {"changePassword": True}, changed.body

        _assert_basic_refused(await gql(client, ME, headers=old))
        new = await gql(client, ME, headers=basic("alice", NEW_PASSWORD))
        assert new.data["me"]["username"] == "alice"


async def test_logout_everywhere_makes_basic_verify_again(clean_backends):
    hasher = CountingHasher()
    async with app_client(make_settings(), hasher=hasher) as client:
        await _register(client)
        headers = basic("alice", STRONG_PASSWORD)
        await gql(client, ME, headers=headers)
        await gql(client, ME, headers=headers)
        cached = hasher.verifications

        logout = await gql(client, "mutation { logout(everywhere: true) }", headers=headers)
        assert logout.data == {"logout": True}, logout.body
        assert hasher.verifications == cached  # the logout request itself came from the cache

        result = await gql(client, ME, headers=headers)
        assert result.data["me"]["username"] == "alice"
        assert hasher.verifications == cached + 1


async def test_plain_logout_with_basic_makes_it_verify_again(clean_backends):
    hasher = CountingHasher()
    async with app_client(make_settings(), hasher=hasher) as client:
        await _register(client)
        headers = basic("alice", STRONG_PASSWORD)
        await gql(client, ME, headers=headers)
        cached = hasher.verifications
        assert (await gql(client, "mutation { logout }", headers=headers)).data == {"logout": True}
        await gql(client, ME, headers=headers)
        assert hasher.verifications == cached + 1


async def test_deactivation_ends_cached_basic(clean_backends):
    async with app_client(make_settings()) as client:
        await _register(client)
        headers = basic("alice", STRONG_PASSWORD)
        assert (await gql(client, ME, headers=headers)).data["me"]["username"] == "alice"
        from models import User

        await User.filter(username_key="alice").update(is_active=False)
        _assert_basic_refused(await gql(client, ME, headers=headers))
