"""The committed `schema.graphql` is the schema the code builds."""

from __future__ import annotations

from pathlib import Path

import main

SCHEMA_FILE = Path(main.__file__).resolve().parent / "schema.graphql"


def test_committed_schema_is_current():
    committed = SCHEMA_FILE.read_text()
    assert committed == main.export_sdl(), (
        "schema.graphql is out of date with the code: run `python main.py export-schema` and commit it."
    )


def test_committed_schema_shows_the_contract_directives():
    sdl = SCHEMA_FILE.read_text()
    for line in (
        "me: User",
        "user(id: ID!): User @isAuthenticated",
        'users(first: Int = 20, after: String): UserConnection! @hasRole(role: "admin")',
        "myCredentials: [Credential!]! @isAuthenticated",
        "register(input: RegisterInput!): AuthPayload!",
        "login(input: LoginInput!): AuthPayload!",
        "logout(everywhere: Boolean = false): Boolean! @isAuthenticated",
        "refreshToken(refreshToken: String!): AuthPayload!",
        'grantRole(userId: ID!, role: String!): User! @hasRole(role: "admin")',
        'revokeRole(userId: ID!, role: String!): User! @hasRole(role: "admin")',
        'setUserActive(userId: ID!, active: Boolean!): User! @hasRole(role: "admin")',
        'email: String! @isSelfOrHasRole(role: "admin")',
        'emailVerified: Boolean! @isSelfOrHasRole(role: "admin")',
    ):
        assert line in sdl, line


def test_export_does_not_depend_on_the_environment(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("AUTH_SCHEMES", "session")
    assert main.export_sdl() == SCHEMA_FILE.read_text()
