"""The schema: root types, their permissions, and the execution extensions.

Gatehouse's root types below are joined with the schema modules' (`SCHEMA_MODULES`,
schema/modules.py); the whole schema is then held to deny by default (schema/public.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from graphql import ASTValidationRule, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from auth.permissions import HasRole, HasScope, IsAuthenticated, RequiresFreshAuth, gated
from core.settings import Settings, SettingsError
from resolvers import mutation, query
from schema.input_limits import SafeLiterals
from schema.limits import OneCredentialFieldPerOperation
from schema.modules import SchemaModule, load_modules, merge_root
from schema.public import judged_after_write, permissions_of, public, ungated_root_fields
from schema.rules import describe_rules
from schema.types import ApiTokenPayload, AuthPayload, Credential, ExternalLogin, User, UserConnection, Viewer

ADMIN = "admin"
# Seconds a sign-in stays fresh enough to link another provider to the account: a stolen
# session, or a browser left signed in, must not add the thief's provider as a way in.
LINK_FRESH_AUTH_MAX_AGE = 600


@strawberry.type
class Query:
    me: User | None = strawberry.field(
        resolver=query.me, description="The caller; null when anonymous.", metadata=public()
    )
    viewer: Viewer = strawberry.field(
        resolver=query.viewer,
        description="What the caller's credential could use; anonymous callers get an answer too.",
        metadata=public(),
    )
    user: User | None = strawberry.field(
        resolver=query.user, extensions=gated(IsAuthenticated(), HasScope("users:read"))
    )
    users: UserConnection = strawberry.field(
        resolver=query.users, extensions=gated(HasRole(ADMIN), HasScope("users:read"))
    )
    my_credentials: list[Credential] = strawberry.field(
        resolver=query.my_credentials, extensions=gated(IsAuthenticated(), HasScope("credentials:read"))
    )


@strawberry.type
class Mutation:
    register: AuthPayload = strawberry.mutation(resolver=mutation.register, metadata=public())
    login: AuthPayload = strawberry.mutation(resolver=mutation.login, metadata=public())
    logout: bool = strawberry.mutation(resolver=mutation.logout, extensions=gated(IsAuthenticated()))
    refresh_token: AuthPayload = strawberry.mutation(resolver=mutation.refresh_token, metadata=public())
    change_password: bool = strawberry.mutation(
        resolver=mutation.change_password, extensions=gated(IsAuthenticated(), HasScope("credentials:write"))
    )
    reauthenticate: bool = strawberry.mutation(
        resolver=mutation.reauthenticate,
        extensions=gated(IsAuthenticated()),
        description="Prove who you are again (password only today): renews the current "
        "credential's sign-in for fields that need a fresh one (@requiresFreshAuth).",
    )
    create_api_token: ApiTokenPayload = strawberry.mutation(
        resolver=mutation.create_api_token, extensions=gated(IsAuthenticated(), HasScope("credentials:write"))
    )
    revoke_credential: bool = strawberry.mutation(
        resolver=mutation.revoke_credential,
        extensions=gated(IsAuthenticated(), HasScope("credentials:write")),
    )
    grant_role: User = strawberry.mutation(
        resolver=mutation.grant_role, extensions=gated(HasRole(ADMIN), HasScope("users:write"))
    )
    revoke_role: User = strawberry.mutation(
        resolver=mutation.revoke_role, extensions=gated(HasRole(ADMIN), HasScope("users:write"))
    )
    set_user_active: User = strawberry.mutation(
        resolver=mutation.set_user_active,
        extensions=gated(HasRole(ADMIN), HasScope("users:write")),
        description="Deactivation ends every credential.",
    )
    # Account recovery and email (contract section 11; services/account_mail.py).
    request_email_verification: bool = strawberry.mutation(
        resolver=mutation.request_email_verification,
        extensions=gated(IsAuthenticated()),
        description="Mail a new verification link to the caller's address (older links end).",
    )
    verify_email: bool = strawberry.mutation(
        resolver=mutation.verify_email,
        metadata=public(),
        description="Verify the address a verification link was mailed to, with the link's token.",
    )
    request_password_reset: bool = strawberry.mutation(
        resolver=mutation.request_password_reset,
        metadata=public(),
        description="Mail a password-reset link if an account has this address; "
        "true either way, in the same time.",
    )
    reset_password: bool = strawberry.mutation(
        resolver=mutation.reset_password,
        metadata=public(),
        description="Set a new password with a reset link's token; every credential of the user ends.",
    )
    request_email_change: bool = strawberry.mutation(
        resolver=mutation.request_email_change,
        extensions=gated(IsAuthenticated(), HasScope("credentials:write")),
        description="Mail a confirmation link to the new address; the account moves when it is used.",
    )
    confirm_email_change: bool = strawberry.mutation(
        resolver=mutation.confirm_email_change,
        metadata=public(),
        description="Move the account to the new address with the confirmation link's token; "
        "the old address is told.",
    )
    delete_account: bool = strawberry.mutation(
        resolver=mutation.delete_account,
        extensions=gated(IsAuthenticated(), HasScope("credentials:write")),
        description="Delete the caller's account and its personal data; every credential ends.",
    )
    # Sign-in with other OpenID providers (contract section 10; services/external_identities.py).
    begin_external_login: ExternalLogin = strawberry.mutation(
        resolver=mutation.begin_external_login,
        metadata=public(),
        description="Start a browser sign-in with a provider of OIDC_PROVIDERS: send the browser to "
        "`url`; the callback sets the session cookie and goes to `redirectTo`.",
    )
    login_with_id_token: AuthPayload = strawberry.mutation(
        resolver=mutation.login_with_id_token,
        metadata=public(),
        description="Sign in with an ID token a native app's SDK obtained from a provider of "
        "OIDC_PROVIDERS (used once; `nonce` as the app sent it).",
    )
    link_external_identity: ExternalLogin = strawberry.mutation(
        resolver=mutation.link_external_identity,
        extensions=gated(
            IsAuthenticated(), HasScope("credentials:write"), RequiresFreshAuth(LINK_FRESH_AUTH_MAX_AGE)
        ),
        description="Start a flow whose callback links the provider's identity to the caller's "
        "account (listed in myCredentials as EXTERNAL); needs a sign-in of the last 10 minutes "
        "(`reauthenticate`, or a provider sign-in).",
    )


class GatehouseSchema(strawberry.Schema):
    """Strawberry's schema with the guard rules every operation is held to.

    `guard_rules` and `max_tokens` are the limits the engines (schema/engine/) apply when
    they prepare a document: depth, aliases, one credential field, safe literals and, in
    production, no introspection. Errors are coded and suggestions removed by the HTTP
    face's one error exit (web/errors.py), never by Strawberry.
    """

    guard_rules: tuple[type[ASTValidationRule], ...] = ()
    max_tokens: int = 0
    # Every scope a `HasScope` in this schema names (modules' fields included): what
    # `createApiToken` accepts (services/credentials.py check_token_request).
    known_scopes: frozenset[str] = frozenset()

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(settings: Settings, modules: Sequence[SchemaModule] | None = None) -> GatehouseSchema:
    """The schema with its limits and, in production, no introspection.

    `modules` are `settings.schema_modules` loaded already (`load_modules`), for a caller
    that needs them too (the app factory: their models); without them they are loaded here.
    """
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        OneCredentialFieldPerOperation,
        SafeLiterals,
    ]
    if settings.production:
        rules.append(NoSchemaIntrospectionCustomRule)
    if modules is None:
        modules = load_modules(settings.schema_modules)
    query_type = merge_root("Query", Query, modules)
    assert query_type is not None
    schema = GatehouseSchema(
        query=query_type,
        mutation=merge_root("Mutation", Mutation, modules),
        # Gatehouse serves no subscription of its own yet: the root exists once a module adds one.
        subscription=merge_root("Subscription", None, modules),
        config=StrawberryConfig(disable_field_suggestions=settings.production),
    )
    if ungated := ungated_root_fields(schema):
        raise SettingsError(
            f"the schema has root fields without a permission: {', '.join(ungated)}; gate each with "
            'extensions=gated(...) (auth/permissions.py), or declare it public with metadata={"public": True}'
        )
    if after_write := judged_after_write(schema):
        raise SettingsError(
            f"IsOwnerOrHasRole on {', '.join(after_write)} judges the object the mutation returns, "
            "after the write: judge the object before the write in the resolver "
            "(permission.judge(identity, row, is_list=False), as examples/notes/resolvers.py does) "
            'and declare it with IsOwnerOrHasRole("admin", judged_before_write=True)'
        )
    describe_rules(schema._schema)
    schema.known_scopes = named_scopes(schema)
    schema.guard_rules = tuple(rules)
    schema.max_tokens = settings.max_tokens
    return schema


def named_scopes(schema: strawberry.Schema) -> frozenset[str]:
    """Every scope a `HasScope` names on any field of any type in `schema`."""
    scopes: set[str] = set()
    for graphql_type in schema._schema.type_map.values():
        for graphql_field in (getattr(graphql_type, "fields", None) or {}).values():
            field = (graphql_field.extensions or {}).get("strawberry-definition")
            if field is None:
                continue
            scopes.update(p.scope for p in permissions_of(field) if isinstance(p, HasScope))
    return frozenset(scopes)
