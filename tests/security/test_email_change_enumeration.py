"""Account enumeration through `requestEmailChange`: a deliberate, bounded answer.

`requestEmailChange` tells a signed-in user that the new address is "already registered".
That is on purpose (docs/SECURITY.md): the owner needs to know why the change cannot go
through, and the answer costs what a `register` probe costs and more: a credential, the
account's current password checked first (a wrong one tells nothing about the address),
and every attempt counted against the per-IP login limit, so probing stops at it.
"""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.helpers import STRONG_PASSWORD, bearer_login, gql, make_persona, make_settings
from tests.helpers.account_mail import REQUEST_CHANGE
from tests.helpers.headers import jwt_headers

TAKEN = "This email is already registered."


@pytest.fixture
def settings() -> Settings:
    return make_settings(login_limit_per_ip="6/minute")


async def test_a_taken_address_is_told_only_after_the_password_and_within_the_login_limit(http):
    await make_persona(http, "alice")
    bob = await make_persona(http, "bob")
    headers = jwt_headers(await bearer_login(http, "alice"))  # the first of 6 login attempts

    async def change(email: str, password: str):
        return await gql(http, REQUEST_CHANGE, {"e": email, "p": password}, headers=headers, cookies=False)

    wrong = await change(bob.email, "not the password")
    assert wrong.codes == ["BAD_USER_INPUT"] and set(wrong.errors[0]["extensions"]["fields"]) == {
        "currentPassword"
    }, wrong.body
    for address in (bob.email, bob.email.upper()):
        told = await change(address, STRONG_PASSWORD)
        assert told.codes == ["BAD_USER_INPUT"], told.body
        assert told.errors[0]["extensions"]["fields"] == {"newEmail": TAKEN}
    free = await change("someone-new@example.org", STRONG_PASSWORD)
    assert free.data == {"requestEmailChange": True}, free.body
    last = await change(bob.email, STRONG_PASSWORD)  # the sixth attempt from this IP
    assert last.errors[0]["extensions"]["fields"] == {"newEmail": TAKEN}, last.body
    # The limit reached (the login counted too): the next probe is refused unread.
    stopped = await change(bob.email, STRONG_PASSWORD)
    assert stopped.codes == ["RATE_LIMITED"], stopped.body
