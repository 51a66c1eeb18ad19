"""Stalling every request with one: a 1 MiB `login` whose password is a character that NFKC
turns into 18 (U+FDFA) was normalised and pre-hashed on the event loop for a third of a
second or more. Every password input is capped before any work (1024 characters as typed,
room for any normal form of the 256-character maximum), and normalisation, pre-hash, bcrypt,
the dummy hash and zxcvbn all run in worker threads."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import pytest

import auth.passwords
import services.validation
from auth.backend import AuthBackend
from auth.passwords import BcryptHasher
from core.errors import BadUserInput
from tests.helpers import (
    GRAPHQL,
    LOGIN,
    REGISTER,
    STRONG_PASSWORD,
    OpenApp,
    basic,
    bearer,
    bearer_login,
    gql,
    login_variables,
    make_persona,
    make_settings,
)
from tests.helpers import create_admin_with as create_admin

PASSWORD_INPUT_MAX = 1024  # characters as typed: 4 x the 256-character maximum
GROWS = "\ufdfa"  # one character, 18 after NFKC
assert len(unicodedata.normalize("NFKC", GROWS)) == 18
CHANGE_PASSWORD = (
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
)
# The same 256-character password in NFC and NFD: as typed on two keyboards.
COMPOSED = unicodedata.normalize("NFC", ("crème brûlée à l'été, naïve façade " * 8)[:256])
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)


@dataclass
class Calls:
    """Which thread ran what, and on how many characters."""

    loop_thread: int = field(default_factory=threading.get_ident)
    normalised: list[tuple[bool, int]] = field(default_factory=list)  # (on the loop, length)
    prehashed: list[tuple[bool, int]] = field(default_factory=list)  # (on the loop, length as typed)
    bcrypt: list[bool] = field(default_factory=list)  # on the loop
    zxcvbn: list[bool] = field(default_factory=list)

    def on_loop(self) -> bool:
        return threading.get_ident() == self.loop_thread

    def longest_normalised(self) -> int:
        return max((length for _, length in self.normalised), default=0)

    def clear(self) -> None:
        self.normalised.clear()
        self.prehashed.clear()
        self.bcrypt.clear()
        self.zxcvbn.clear()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    seen = Calls()
    real_normalize = unicodedata.normalize
    real_checkpw, real_hashpw = bcrypt.checkpw, bcrypt.hashpw
    real_zxcvbn = services.validation.zxcvbn
    real_bcrypt_input = auth.passwords._bcrypt_input

    def normalize(form: str, text: str) -> str:
        seen.normalised.append((seen.on_loop(), len(text)))
        return real_normalize(form, text)

    def bcrypt_input(password: str) -> bytes | None:  # normalisation and pre-hash
        seen.prehashed.append((seen.on_loop(), len(password)))
        return real_bcrypt_input(password)

    def wrap(real: Callable[..., Any], log: list[bool]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            log.append(seen.on_loop())
            return real(*args, **kwargs)

        return recorded

    monkeypatch.setattr(unicodedata, "normalize", normalize)
    monkeypatch.setattr(auth.passwords, "_bcrypt_input", bcrypt_input)
    monkeypatch.setattr(bcrypt, "checkpw", wrap(real_checkpw, seen.bcrypt))
    monkeypatch.setattr(bcrypt, "hashpw", wrap(real_hashpw, seen.bcrypt))
    monkeypatch.setattr(services.validation, "zxcvbn", wrap(real_zxcvbn, seen.zxcvbn))
    yield seen


class Ticker:
    """A task on the loop that notes the longest pause between its wake-ups."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._run())
        await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def huge_login_body(password: str) -> bytes:
    return json.dumps(
        {"query": LOGIN, "variables": login_variables("alice", password)}, ensure_ascii=False
    ).encode()


async def test_a_huge_growing_password_does_not_stall_the_loop(open_app: OpenApp, calls: Calls):
    client = await open_app(make_settings())
    await make_persona(client, "alice")
    body = huge_login_body(GROWS * 340_000)  # 6 120 000 characters after NFKC
    assert 1_000_000 < len(body) <= 1024 * 1024
    calls.clear()

    async with Ticker() as ticker:
        response = await client.post(GRAPHQL, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The proof, by instrumentation: nothing over the input bound was normalised or
    # pre-hashed, nothing long ran on the loop's thread, and bcrypt never ran.
    assert calls.longest_normalised() <= PASSWORD_INPUT_MAX
    assert not any(on_loop for on_loop, length in calls.normalised if length > 64)
    assert calls.prehashed == [] and calls.bcrypt == []
    # Backing it by the clock, generously: the unfixed server held the loop for 0.55 to
    # 0.95 s on this request (NFKC and pre-hash on the loop; 2 cores, other suites
    # running); fixed, the longest pause measured 2 to 4 ms.
    assert ticker.longest < 0.15, ticker.longest


async def test_the_costliest_password_still_read_is_normalised_off_the_loop(open_app: OpenApp, calls: Calls):
    """The longest input the cap lets through (1024 characters growing to 18 432): its
    normalisation and pre-hash run in a worker thread, then it is refused as too long."""
    client = await open_app(make_settings())
    await make_persona(client, "alice")
    calls.clear()

    result = await gql(client, LOGIN, login_variables("alice", GROWS * PASSWORD_INPUT_MAX), cookies=False)

    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
    assert calls.prehashed == [(False, PASSWORD_INPUT_MAX)]
    assert (False, PASSWORD_INPUT_MAX) in calls.normalised
    assert not any(on_loop for on_loop, length in calls.normalised if length > 64)
    assert calls.bcrypt == []  # over the maximum once normalised: no hash work


async def test_a_failed_login_with_an_overlong_password_looks_like_any_other(open_app: OpenApp, calls: Calls):
    client = await open_app(make_settings())
    await make_persona(client, "alice")
    wrong = await gql(client, LOGIN, login_variables("alice", "wrong password here"), cookies=False)
    calls.clear()
    for password in (GROWS * (PASSWORD_INPUT_MAX + 1), GROWS * 300):  # too long as typed / once normalised
        overlong = await gql(client, LOGIN, login_variables("alice", password), cookies=False)
        assert (overlong.status, overlong.body) == (wrong.status, wrong.body)
    assert calls.longest_normalised() <= PASSWORD_INPUT_MAX
    assert not any(on_loop for on_loop, length in calls.normalised if length > 64)
    assert calls.bcrypt == []


async def test_passwords_are_normalised_and_hashed_off_the_loop(open_app: OpenApp, calls: Calls):
    client = await open_app(make_settings())
    calls.clear()
    await make_persona(client, "alice")
    await bearer_login(client, "alice")
    await gql(client, LOGIN, login_variables("nobody_here", STRONG_PASSWORD), cookies=False)

    password_sized = [on_loop for on_loop, length in calls.normalised if length == len(STRONG_PASSWORD)]
    assert password_sized and not any(password_sized)
    assert calls.prehashed and not any(on_loop for on_loop, _ in calls.prehashed)
    assert calls.bcrypt and not any(calls.bcrypt)
    assert calls.zxcvbn and not any(calls.zxcvbn)


async def test_another_normal_form_longer_than_the_maximum_still_signs_in(open_app: OpenApp):
    assert len(COMPOSED) == 256 < len(DECOMPOSED) <= PASSWORD_INPUT_MAX
    client = await open_app(make_settings())
    await make_persona(client, "celine", COMPOSED)
    assert (await bearer_login(client, "celine", DECOMPOSED))["user"]["username"] == "celine"


async def test_the_dummy_hash_is_made_once_off_the_loop(calls: Calls):
    hasher = BcryptHasher(rounds=4)
    await asyncio.gather(*(hasher.verify_dummy(STRONG_PASSWORD) for _ in range(6)))
    assert len(calls.bcrypt) == 7  # one hash made, six checks
    assert not any(calls.bcrypt)


# -- every other password input -------------------------------------------------------


async def test_register_refuses_an_overlong_password_cheaply(open_app: OpenApp, calls: Calls):
    client = await open_app(make_settings())
    calls.clear()
    result = await gql(
        client,
        REGISTER,
        {"input": {"username": "carol", "email": "carol@example.com", "password": GROWS * 300_000}},
    )
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert "at most 256" in result.errors[0]["extensions"]["fields"]["password"]
    assert calls.longest_normalised() <= PASSWORD_INPUT_MAX
    assert calls.bcrypt == [] and calls.zxcvbn == []


@pytest.mark.parametrize("which", ["current", "new"])
async def test_change_password_refuses_overlong_passwords_cheaply(open_app: OpenApp, calls: Calls, which):
    client = await open_app(make_settings())
    await make_persona(client, "alice")
    signed_in = bearer((await bearer_login(client, "alice"))["accessToken"])
    calls.clear()
    huge = GROWS * 300_000
    variables = (
        {"c": huge, "n": STRONG_PASSWORD + "!"} if which == "current" else {"c": STRONG_PASSWORD, "n": huge}
    )

    result = await gql(client, CHANGE_PASSWORD, variables, headers=signed_in, cookies=False)

    assert result.codes == ["BAD_USER_INPUT"], result.body
    field_name = "currentPassword" if which == "current" else "newPassword"
    assert set(result.errors[0]["extensions"]["fields"]) == {field_name}
    assert calls.longest_normalised() <= PASSWORD_INPUT_MAX
    assert calls.zxcvbn == []
    assert len(calls.bcrypt) == (0 if which == "current" else 1)  # only the current one was checked


async def test_basic_refuses_an_overlong_password_cheaply(open_app: OpenApp, calls: Calls):
    client = await open_app(make_settings())
    await make_persona(client, "alice")
    headers = basic("alice", GROWS * 2000)
    assert len(headers["Authorization"]) < 8 * 1024  # under the header limit
    calls.clear()
    result = await gql(client, "{ me { id } }", headers=headers, cookies=False)
    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"], result.body
    assert calls.longest_normalised() <= PASSWORD_INPUT_MAX
    assert calls.bcrypt == []


async def test_create_admin_refuses_an_overlong_password_cheaply(open_app: OpenApp, calls: Calls):
    await open_app(make_settings())  # the database
    backend = AuthBackend.build(make_settings(redis_url=None))
    calls.clear()
    with pytest.raises(BadUserInput) as refused:
        await create_admin(backend, "root", "root@example.com", GROWS * 300_000)
    assert set(refused.value.fields) == {"password"}
    assert calls.longest_normalised() <= PASSWORD_INPUT_MAX
    assert calls.bcrypt == [] and calls.zxcvbn == []
