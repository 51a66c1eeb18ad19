"""Attack: a link flow begun with a stolen session outlives the owner's revocation.

Mallory holds a stolen (fresh) session cookie of Alice's. She begins `linkExternalIdentity`
with it and signs in at the provider as herself, but holds back the callback. Alice notices
and ends every sign-in (logout everywhere, a password reset or change, or revoking that one
session). Mallory then follows the callback: before the fix the flow was still pending and
`_finish_link` accepted a signed-out browser, so Mallory's provider account became a way
into Alice's account. The flow now records the credential that began it: ending that
credential deletes the pending flows (`invalid_state`) or, when the flow survives, the
callback refuses it (`session_mismatch`); no link is made either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from core.settings import Settings, parse_mail_url
from models import ExternalIdentity, ExternalLoginFlow
from tests.helpers import (
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    bearer,
    bearer_login,
    cookie_login,
    gql,
    make_persona,
)
from tests.helpers.account_mail import RESET, reset_token
from tests.helpers.federation import CREDENTIALS, Browser, callback_uri, error_of, federated_settings
from tests.helpers.graphql import Persona
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient
from tests.helpers.smtp import Mailbox

APP = "http://app.example"
CHANGE = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
REVOKE = "mutation($id: ID!) { revokeCredential(id: $id) }"

Revocation = Callable[[Starlette, httpx.AsyncClient, Mailbox, Persona, dict[str, str]], Awaitable[None]]


@pytest.fixture(scope="module")
def idp() -> Iterator[OpenIDProvider]:
    accounts = {"ext-mallory": {"email": "mallory@evil.example", "email_verified": True}}
    with OpenIDProvider(accounts=accounts) as running:
        yield running


@pytest.fixture(scope="module")
def idp_client(idp: OpenIDProvider) -> RegisteredClient:
    return idp.register_client([callback_uri()])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient, mailbox: Mailbox) -> Settings:
    return federated_settings(
        idp, idp_client, allowed_origins=(APP,), mail_server=parse_mail_url(mailbox.url())
    )


async def _logout_everywhere(app, http, mailbox, alice, own: dict[str, str]) -> None:
    done = await gql(http, "mutation { logout(everywhere: true) }", headers=own, cookies=False)
    assert done.data == {"logout": True}, done.body


async def _reset_password(app, http, mailbox, alice, own: dict[str, str]) -> None:
    token = await reset_token(app, http, mailbox, alice.email)
    done = await gql(http, RESET, {"t": token, "p": OTHER_PASSWORD}, cookies=False)
    assert done.data == {"resetPassword": True}, done.body


async def _change_password(app, http, mailbox, alice, own: dict[str, str]) -> None:
    done = await gql(http, CHANGE, {"c": STRONG_PASSWORD, "n": OTHER_PASSWORD}, headers=own, cookies=False)
    assert done.data == {"changePassword": True}, done.body


async def _revoke_that_session(app, http, mailbox, alice, own: dict[str, str]) -> None:
    # revokeCredential ends one credential and leaves the flow row: the callback itself
    # must see that the sign-in which began the link has ended.
    listed = await gql(http, CREDENTIALS, headers=own, cookies=False)
    [stolen] = [c for c in listed.data["myCredentials"] if c["kind"] == "SESSION"]
    done = await gql(http, REVOKE, {"id": stolen["id"]}, headers=own, cookies=False)
    assert done.data == {"revokeCredential": True}, done.body
    assert await ExternalLoginFlow.all().count() == 1


@pytest.mark.parametrize(
    ("revoke", "code"),
    [
        (_logout_everywhere, "invalid_state"),
        (_reset_password, "invalid_state"),
        (_change_password, "invalid_state"),
        (_revoke_that_session, "session_mismatch"),
    ],
    ids=["logout-everywhere", "reset-password", "change-password", "revoke-credential"],
)
async def test_a_pending_link_ends_with_the_sign_in_that_began_it(
    app: Starlette,
    http: httpx.AsyncClient,
    idp: OpenIDProvider,
    mailbox: Mailbox,
    revoke: Revocation,
    code: str,
):
    alice = await make_persona(http, "alice")
    own = bearer((await bearer_login(http, "alice"))["accessToken"])  # Alice's own sign-in
    await cookie_login(http, "alice")  # the session Mallory stole, in her browser's jar
    mallory = Browser(http, idp)
    begun = await mallory.link(redirect_to=f"{APP}/linked")
    assert not begun.errors, begun.body
    landed = await mallory.at_provider(begun.data["linkExternalIdentity"]["url"], "ext-mallory")

    await revoke(app, http, mailbox, alice, own)

    response = await mallory.callback(landed)
    assert error_of(response)[0] == code, (response.status_code, response.text[:300])
    assert await ExternalIdentity.filter(user_id=alice.id).count() == 0
    assert await ExternalLoginFlow.all().count() == 0


async def test_a_link_still_finishes_from_the_sign_in_that_began_it(
    http: httpx.AsyncClient, idp: OpenIDProvider
):
    """The guard refuses only ended sign-ins: the owner's own link goes through, even after
    their other sign-ins were ended (changePassword keeps the caller's credential)."""
    alice = await make_persona(http, "alice")
    await cookie_login(http, "alice")
    owner = Browser(http, idp)
    begun = await owner.link(redirect_to=f"{APP}/linked")
    landed = await owner.at_provider(begun.data["linkExternalIdentity"]["url"], "ext-mallory")
    changed = await gql(http, CHANGE, {"c": STRONG_PASSWORD, "n": OTHER_PASSWORD})
    assert changed.data == {"changePassword": True}, changed.body
    response = await owner.callback(landed)
    assert response.status_code == 303 and response.headers["location"] == f"{APP}/linked"
    assert await ExternalIdentity.filter(user_id=alice.id).count() == 1
