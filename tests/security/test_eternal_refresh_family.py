"""A refresh-token family kept alive forever.

The attack: whoever holds a refresh token (a thief included) rotates it before each
30-day expiry, and the family slides on for ever: the user never signs in again, a stolen
token never dies. A family now has an absolute lifetime from its sign-in
(`REFRESH_FAMILY_MAX_AGE`, 90 days by default): past it, rotation answers
`UNAUTHENTICATED`; before it, no refresh token or access token issued outlives it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine

from core.clock import as_utc
from core.settings import Settings, SettingsError
from models import Credential, CredentialKind, RefreshToken
from tests.helpers import ME, OpenApp, Persona, bearer, bearer_login, gql, make_persona, make_settings
from tests.helpers.forgery import claims_of

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
REFRESH = """mutation($t: String!) {
  refreshToken(refreshToken: $t) { user { id } accessToken refreshToken expiresIn }
}"""


async def _rotate(http: httpx.AsyncClient, refresh_token: str) -> Any:
    return await gql(http, REFRESH, {"t": refresh_token}, cookies=False)


async def _successor_expiry(refresh_token_payload: dict[str, Any]) -> datetime:
    from auth.secrets import digest

    row = await RefreshToken.get(token_hash=digest(refresh_token_payload["refreshToken"]))
    return as_utc(row.expires_at)


def _access_expiry(payload: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(claims_of(payload["accessToken"])["exp"], UTC)


async def test_rotating_before_every_expiry_does_not_keep_a_family_alive(http, alice: Persona):
    end = T0 + 90 * DAY
    with time_machine.travel(T0, tick=False) as clock:
        tokens = await bearer_login(http, "alice")
        current = tokens["refreshToken"]
        for day in (29, 58, 87):
            clock.move_to(T0 + day * DAY)
            result = await _rotate(http, current)
            assert result.status == 200 and not result.errors, (day, result.body)
            payload = result.data["refreshToken"]
            current = payload["refreshToken"]
            assert await _successor_expiry(payload) <= end
            assert _access_expiry(payload) <= end
        # The last successor no longer slides 30 days: it ends with its family.
        assert await _successor_expiry(payload) == end

        clock.move_to(end - timedelta(minutes=5))
        result = await _rotate(http, current)
        assert result.status == 200 and not result.errors, result.body
        last = result.data["refreshToken"]
        assert _access_expiry(last) == end
        assert last["expiresIn"] == 300
        assert (await gql(http, ME, headers=bearer(last["accessToken"]), cookies=False)).status == 200

        clock.move_to(end + timedelta(seconds=1))
        refused = await _rotate(http, last["refreshToken"])
        assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"], refused.body
        denied = await gql(http, ME, headers=bearer(last["accessToken"]), cookies=False)
        assert denied.status == 401, denied.body

        # Signing in again starts a new family.
        again = await bearer_login(http, "alice")
        assert (await gql(http, ME, headers=bearer(again["accessToken"]), cookies=False)).status == 200


async def _one_day_family_app(open_app: OpenApp) -> tuple[httpx.AsyncClient, Persona]:
    http = await open_app(make_settings(refresh_family_max_age=24 * 3600))
    return http, await make_persona(http, "alice")


async def test_a_short_family_lifetime_caps_the_first_token_and_every_access_token(open_app: OpenApp):
    http, _ = await _one_day_family_app(open_app)
    end = T0 + DAY
    with time_machine.travel(T0, tick=False) as clock:
        tokens = await bearer_login(http, "alice")
        family = await Credential.filter(kind=CredentialKind.REFRESH, created_at=T0).get()
        # The first refresh token (30-day TTL) is capped to the family's day.
        assert as_utc(family.expires_at) <= end
        assert await _successor_expiry(tokens) <= end

        clock.move_to(end - timedelta(seconds=60))
        result = await _rotate(http, tokens["refreshToken"])
        assert result.status == 200 and not result.errors, result.body
        payload = result.data["refreshToken"]
        assert payload["expiresIn"] == 60
        assert _access_expiry(payload) == end

        clock.move_to(end)
        refused = await _rotate(http, payload["refreshToken"])
        assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"], refused.body


async def test_a_family_whose_row_outlives_the_limit_is_still_over(open_app: OpenApp):
    http, _ = await _one_day_family_app(open_app)
    # A family last rotated under an older build (or a longer limit) carries a far expiry.
    with time_machine.travel(T0, tick=False) as clock:
        tokens = await bearer_login(http, "alice")
        await Credential.filter(kind=CredentialKind.REFRESH).update(expires_at=T0 + 200 * DAY)
        await RefreshToken.all().update(expires_at=T0 + 200 * DAY)
        clock.move_to(T0 + DAY + timedelta(seconds=1))
        assert (await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)).status == 401
        refused = await _rotate(http, tokens["refreshToken"])
        assert refused.status == 401 and refused.codes == ["UNAUTHENTICATED"], refused.body
        # Refused as over, not as reuse: the user's other families are untouched.
        assert await Credential.filter(revoked_at__isnull=False).count() == 0


def test_the_lifetime_is_a_setting_in_days_with_a_sane_range():
    base = {"SECRET_KEY": "x" * 40}
    assert Settings.from_env(base).refresh_family_max_age == 90 * 24 * 3600
    assert Settings.from_env({**base, "REFRESH_FAMILY_MAX_AGE": "30"}).refresh_family_max_age == 30 * 86400
    for bad in ("0", "366", "-1", "ninety", "1.5"):
        with pytest.raises(SettingsError, match="REFRESH_FAMILY_MAX_AGE"):
            Settings.from_env({**base, "REFRESH_FAMILY_MAX_AGE": bad})
