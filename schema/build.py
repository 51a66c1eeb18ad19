"""The schema: root types, their permissions, and the execution extensions."""

from __future__ import annotations

import re
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from auth.permissions import HasRole, HasScope, IsAuthenticated, gated
from core.settings import Settings
from resolvers import mutation, query
from schema.input_limits import SafeLiterals
from schema.limits import OneCredentialFieldPerOperation, OperationGuards
from schema.types import ApiTokenPayload, AuthPayload, Credential, User, UserConnection

ADMIN = "admin"
# graphql-core's `did_you_mean` hint: " Did you mean 'a', 'b', or 'c'?", or "... the enum
# value 'X'?", or "... to use an inline fragment on 'T'?". Names never hold a "?".
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


@strawberry.type
class Query:
    me: User | None = strawberry.field(resolver=query.me, description="The caller; null when anonymous.")
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
    register: AuthPayload = strawberry.mutation(resolver=mutation.register)
    login: AuthPayload = strawberry.mutation(resolver=mutation.login)
    logout: bool = strawberry.mutation(resolver=mutation.logout, extensions=gated(IsAuthenticated()))
    refresh_token: AuthPayload = strawberry.mutation(resolver=mutation.refresh_token)
    change_password: bool = strawberry.mutation(
        resolver=mutation.change_password, extensions=gated(IsAuthenticated(), HasScope("credentials:write"))
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


class GatehouseSchema(strawberry.Schema):
    """Logs only unexpected errors (done by `ErrorCodes`), not every permission refusal.

    `guard_rules` and `max_tokens` are the limits every operation is held to, for the
    fast path (schema/fast_path.py) as for the extension.
    """

    guard_rules: tuple[type[ASTValidationRule], ...] = ()
    max_tokens: int = 0

    @staticmethod
    def remove_field_suggestion(error: GraphQLError) -> None:
        """Drop every name graphql-core suggests, not only unknown fields' ("Did you mean").

        Strawberry calls this for each error of both paths (the fast path through
        `_process_errors` too) when `disable_field_suggestions` is set, i.e. in production;
        its own version strips "Cannot query field" messages only, which left unknown
        arguments, types, enum values and input fields answering with the schema's names.
        graphql-core's `hide_suggestions` option would do it at the source, but
        Strawberry's `validate` and `execute` calls do not pass it.
        """
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(settings: Settings) -> GatehouseSchema:
    """The schema with caches, limits and, in production, no introspection or suggestions."""
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        OneCredentialFieldPerOperation,
        SafeLiterals,
    ]
    if settings.production:
        rules.append(NoSchemaIntrospectionCustomRule)
    guard_rules = tuple(rules)
    extensions: list[Any] = [
        ParserCache,
        ValidationCache,
        lambda: OperationGuards(guard_rules, settings.max_tokens),
    ]
    schema = GatehouseSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.production),
    )
    schema.guard_rules = guard_rules
    schema.max_tokens = settings.max_tokens
    return schema
