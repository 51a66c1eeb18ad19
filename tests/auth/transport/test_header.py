"""The Authorization header: scheme parsing, and secrets kept out of reprs."""

from __future__ import annotations

import base64

import pytest

from auth.errors import CredentialRejected
from auth.transport.header import (
    CHALLENGES,
    MAX_HEADER_BYTES,
    HeaderCredential,
    read_authorization,
)
from core.errors import ErrorCode


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


# -- read_authorization -------------------------------------------------------------


def test_no_header_is_no_credential():
    assert read_authorization(None) is None


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        ("Bearer abc.def.ghi", "Bearer"),
        ("bearer abc.def.ghi", "Bearer"),
        ("BEARER abc.def.ghi", "Bearer"),
        ("Token gth_x", "Token"),
        ("token gth_x", "Token"),
        ("Basic YTpi", "Basic"),
        ("basic YTpi", "Basic"),
    ],
)
def test_scheme_is_case_insensitive_and_canonicalised(header, scheme):
    credential = read_authorization(header)
    assert credential == HeaderCredential(scheme, header.split(" ", 1)[1])
    assert scheme in CHALLENGES


def test_surrounding_whitespace_is_ignored():
    assert read_authorization("  Bearer   abc  ") == HeaderCredential("Bearer", "abc")


@pytest.mark.parametrize("header", ["Digest username=x", "Negotiate abc", "abc", "Bearerabc"])
def test_unknown_scheme_is_rejected_without_naming_basic(header):
    with pytest.raises(CredentialRejected) as caught:
        read_authorization(header)
    assert caught.value.scheme == "Bearer"
    assert caught.value.extensions["code"] == ErrorCode.UNAUTHENTICATED.value


@pytest.mark.parametrize(("header", "scheme"), [("", "Bearer"), ("   ", "Bearer")])
def test_empty_header_is_rejected(header, scheme):
    with pytest.raises(CredentialRejected) as caught:
        read_authorization(header)
    assert caught.value.scheme == scheme


@pytest.mark.parametrize(
    ("header", "scheme"), [("Bearer", "Bearer"), ("Token   ", "Token"), ("Basic ", "Basic")]
)
def test_empty_value_is_rejected_naming_the_scheme_used(header, scheme):
    with pytest.raises(CredentialRejected) as caught:
        read_authorization(header)
    assert caught.value.scheme == scheme
    assert scheme in str(caught.value)


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "Basic"])
def test_oversized_header_is_rejected_naming_the_scheme_used(scheme):
    header = f"{scheme} " + "a" * (10 * 1024)
    with pytest.raises(CredentialRejected) as caught:
        read_authorization(header)
    assert caught.value.scheme == scheme
    assert "a" * 32 not in str(caught.value)


def test_oversized_header_with_unknown_scheme_does_not_name_basic():
    with pytest.raises(CredentialRejected) as caught:
        read_authorization("x" * (10 * 1024))
    assert caught.value.scheme == "Bearer"


def test_header_at_the_size_limit_is_parsed():
    header = "Bearer " + "a" * (MAX_HEADER_BYTES - len("Bearer "))
    assert len(header) == MAX_HEADER_BYTES
    credential = read_authorization(header)
    assert credential is not None and credential.scheme == "Bearer"


def test_header_credential_repr_hides_the_value():
    credential = HeaderCredential("Bearer", "super-secret-token-value")
    for text in (repr(credential), str(credential), f"{credential}", repr([credential])):
        assert "super-secret-token-value" not in text
        assert "Bearer" in text
