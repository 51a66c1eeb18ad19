"""`could_allow` of every permission class, and `IsVerified` and `RequiresFreshAuth` on
a tiny schema (their codes, `extensions.maxAge`, Basic and API tokens, printed directives)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import strawberry
import time_machine

from auth.identity import ANONYMOUS, Identity, Scheme
from auth.permissions import (
    GatehousePermission,
    HasRole,
    HasScope,
    IsAuthenticated,
    IsOwnerOrHasRole,
    IsSelfOrHasRole,
    IsVerified,
    RequiresFreshAuth,
    gated,
)
from core.media import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON
from schema.rules import describe_rules
from tests.helpers.tiny_schemas import Ctx, ErrorCodes, identity_of
from web.errors import status_of

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def identity(
    *,
    roles: tuple[str, ...] = (),
    scopes: frozenset[str] | None = None,
    scheme: Scheme = Scheme.SESSION,
    kind: str | None = "SESSION",
    auth_time: datetime | None = T0,
    verified: bool = False,
) -> Identity:
    """A signed-in identity; by default a session signed in at T0."""
    return identity_of(
        roles=roles, scopes=scopes, scheme=scheme, kind=kind, auth_time=auth_time,
        verified_at=T0 if verified else None,
    )  # fmt: skip


USER = identity()
ADMIN = identity(roles=("admin",))
TOKEN_X = identity(scopes=frozenset({"x"}), scheme=Scheme.TOKEN, kind="API_TOKEN", auth_time=None)
TOKEN_NONE = identity(scopes=frozenset(), scheme=Scheme.TOKEN, kind="API_TOKEN", auth_time=None)


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        (
            IsAuthenticated(),
            {"anonymous": False, "user": True, "admin": True, "token_x": True, "token_none": True},
        ),
        (
            HasRole("admin"),
            {"anonymous": False, "user": False, "admin": True, "token_x": False, "token_none": False},
        ),
        (
            HasScope("x"),
            {"anonymous": False, "user": True, "admin": True, "token_x": True, "token_none": False},
        ),
        (
            IsSelfOrHasRole("admin"),
            {"anonymous": False, "user": True, "admin": True, "token_x": True, "token_none": True},
        ),
        (
            IsOwnerOrHasRole("admin"),
            {"anonymous": False, "user": True, "admin": True, "token_x": True, "token_none": True},
        ),
        (
            RequiresFreshAuth(60),
            {"anonymous": False, "user": True, "admin": True, "token_x": True, "token_none": True},
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, GatehousePermission) else "",
)
def test_could_allow_of_every_class(permission, expected):
    identities = {
        "anonymous": ANONYMOUS,
        "user": USER,
        "admin": ADMIN,
        "token_x": TOKEN_X,
        "token_none": TOKEN_NONE,
    }
    assert {name: permission.could_allow(who) for name, who in identities.items()} == expected


def test_could_allow_of_is_verified_needs_a_verified_address():
    assert IsVerified().could_allow(identity(verified=True))
    assert not IsVerified().could_allow(identity(verified=False))
    assert not IsVerified().could_allow(ANONYMOUS)


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(IsVerified()))
    def verified_only(self) -> str:
        return "v"

    @strawberry.field(extensions=gated(RequiresFreshAuth(600)))
    def fresh_only(self) -> str:
        return "f"

    @strawberry.field(extensions=gated(HasRole("admin"), RequiresFreshAuth(300)))
    def admin_fresh(self) -> str:
        return "af"


SCHEMA = strawberry.Schema(query=Query, extensions=[ErrorCodes])


async def run(query: str, who: Identity):
    return await SCHEMA.execute(query, context_value=Ctx(who))


def only_error(result):
    assert result.errors is not None and len(result.errors) == 1, result.errors
    return result.errors[0]


@pytest.mark.parametrize("field", ["verifiedOnly", "freshOnly", "adminFresh"])
async def test_anonymous_is_unauthenticated(field):
    assert only_error(await run(f"{{ {field} }}", ANONYMOUS)).extensions["code"] == "UNAUTHENTICATED"


async def test_is_verified_forbids_an_unverified_address():
    error = only_error(await run("{ verifiedOnly }", identity(verified=False)))
    assert error.extensions["code"] == "FORBIDDEN"
    assert "verified" in error.message


async def test_is_verified_lets_a_verified_address_through():
    result = await run("{ verifiedOnly }", identity(verified=True))
    assert result.errors is None and result.data == {"verifiedOnly": "v"}


@pytest.mark.parametrize("kind", ["SESSION", "REFRESH"])
async def test_a_sign_in_within_max_age_is_fresh(kind):
    who = identity(kind=kind, scheme=Scheme.JWT if kind == "REFRESH" else Scheme.SESSION)
    with time_machine.travel(T0 + timedelta(seconds=600), tick=False):
        result = await run("{ freshOnly }", who)
    assert result.errors is None and result.data == {"freshOnly": "f"}


@pytest.mark.parametrize("kind", ["SESSION", "REFRESH"])
async def test_a_stale_sign_in_is_insufficient_auth_with_max_age(kind):
    who = identity(kind=kind, scheme=Scheme.JWT if kind == "REFRESH" else Scheme.SESSION)
    with time_machine.travel(T0 + timedelta(seconds=601), tick=False):
        result = await run("{ freshOnly }", who)
    error = only_error(result)
    assert error.extensions == {"code": "INSUFFICIENT_AUTH", "maxAge": 600}
    assert "reauthenticate" in error.message
    assert result.data is None


async def test_a_credential_without_auth_time_is_stale():
    error = only_error(await run("{ freshOnly }", identity(auth_time=None)))
    assert error.extensions["code"] == "INSUFFICIENT_AUTH"


async def test_basic_is_always_fresh_and_api_tokens_are_exempt():
    basic = identity(scheme=Scheme.BASIC, kind=None, auth_time=T0)
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        assert (await run("{ freshOnly }", basic)).data == {"freshOnly": "f"}
        assert (await run("{ freshOnly }", TOKEN_X)).data == {"freshOnly": "f"}


async def test_the_role_is_checked_before_freshness():
    with time_machine.travel(T0 + timedelta(seconds=301), tick=False):
        assert only_error(await run("{ adminFresh }", USER)).extensions["code"] == "FORBIDDEN"
        assert only_error(await run("{ adminFresh }", ADMIN)).extensions["code"] == "INSUFFICIENT_AUTH"
        assert (
            await run("{ adminFresh }", identity(roles=("admin",), auth_time=T0 + timedelta(seconds=1)))
        ).data == {"adminFresh": "af"}


def test_max_age_must_not_be_negative():
    with pytest.raises(ValueError):
        RequiresFreshAuth(-1)


def test_the_directives_print_with_their_arguments():
    sdl = SCHEMA.as_str()
    assert "directive @isVerified on FIELD_DEFINITION" in sdl
    assert "directive @requiresFreshAuth(maxAge: Int!) on FIELD_DEFINITION" in sdl
    assert "verifiedOnly: String! @isVerified\n" in sdl
    assert "freshOnly: String! @requiresFreshAuth(maxAge: 600)\n" in sdl
    assert 'adminFresh: String! @hasRole(role: "admin") @requiresFreshAuth(maxAge: 300)\n' in sdl


def test_describe_rules_names_them_with_their_arguments():
    schema = strawberry.Schema(query=Query)
    describe_rules(schema._schema)
    fields = schema._schema.query_type.fields
    assert fields["verifiedOnly"].description == "Requires: @isVerified"
    assert fields["freshOnly"].description == "Requires: @requiresFreshAuth(maxAge: 600)"
    assert (
        fields["adminFresh"].description
        == 'Requires: @hasRole(role: "admin"), @requiresFreshAuth(maxAge: 300)'
    )


@pytest.mark.parametrize("media", [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
def test_insufficient_auth_is_403_when_no_data_and_200_beside_data(media):
    errors = [{"message": "stale", "extensions": {"code": "INSUFFICIENT_AUTH", "maxAge": 600}}]
    assert status_of(errors, {"freshOnly": None}, True, media) == 403
    assert status_of(errors, {"freshOnly": None, "me": {"id": "1"}}, True, media) == 200
