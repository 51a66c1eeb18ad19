"""Dictionary attacks succeed against common and personal passwords: registration refuses
them with `BAD_USER_INPUT` and zxcvbn's feedback, without composition rules."""

from __future__ import annotations

import pytest

from tests.helpers import REGISTER, gql


def register_variables(username: str, password: str, email: str | None = None) -> dict[str, object]:
    return {
        "input": {
            "username": username,
            "email": email or f"{username}@example.com",
            "password": password,
            "transport": "BEARER",
        }
    }


@pytest.mark.parametrize("password", ["password", "password123", "12345678", "qwertyuiop", "iloveyou1"])
async def test_common_passwords_are_refused_with_feedback(http, password):
    result = await gql(http, REGISTER, register_variables("victim", password), cookies=False)

    assert result.codes == ["BAD_USER_INPUT"], result.body
    message = result.errors[0]["extensions"]["fields"]["password"]
    assert "common password" in message  # zxcvbn's warning
    assert "Add another word or two." in message  # and its suggestion


@pytest.mark.parametrize(
    "password",
    ["marguerite2030", "Marguerite!!", "marguerite@example.com", "garden.marguerite"],
)
async def test_passwords_built_from_the_username_or_email_are_refused(http, password):
    result = await gql(
        http, REGISTER, register_variables("marguerite", password, "marguerite@example.com"), cookies=False
    )

    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "password" in result.errors[0]["extensions"]["fields"]


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "tangerine vortex lullaby", "ялинка під снігом"],
)
async def test_long_passphrases_without_symbols_or_digits_are_accepted(http, password):
    result = await gql(http, REGISTER, register_variables("passphrase", password), cookies=False)
    assert result.status == 200 and not result.errors, result.body
