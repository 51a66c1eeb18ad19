"""A provider's metadata, read from its issuer (OpenID Connect Discovery 1.0) and cached.

The document is checked by authlib's `OpenIDProviderMetadata` (the required members,
https endpoints) and its `issuer` must be the configured one exactly (Discovery 4.3):
a document that names another issuer is refused, so the ID tokens checked against it
cannot come from anywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url

logger = logging.getLogger("gatehouse.federation")

METADATA_MAX_AGE = 3600.0  # seconds a provider's metadata is used before it is read again
MAX_DOCUMENT_BYTES = 512 * 1024  # a discovery document or JWKS larger than this is refused
PKCE_METHOD = "S256"


class ProviderUnavailable(Exception):
    """A provider's metadata or keys could not be read, or are unusable; the message
    says why (no secret, no response body)."""


class FederationHttp:
    """The one HTTP client of provider calls (discovery, keys), each bounded by
    `OIDC_TIMEOUT`; made on first use, closed with the backend."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._client: httpx2.AsyncClient | None = None

    @property
    def client(self) -> httpx2.AsyncClient:
        """The shared client (no redirects followed: a provider's URLs are its own)."""
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._client

    async def get_json(self, url: str, bearer: str | None = None) -> Any:
        """The JSON document at `url` (sent with `bearer` as its access token when given);
        `ProviderUnavailable` for a network error, a status other than 200, an oversized
        or unreadable body."""
        headers = {"Accept": "application/json"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        try:
            response = await self.client.get(url, headers=headers)
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(f"{url} did not answer ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {response.status_code}")
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise ProviderUnavailable(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        try:
            return response.json()
        except ValueError:
            raise ProviderUnavailable(f"{url} did not answer JSON") from None

    async def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass(frozen=True)
class ProviderMetadata:
    """What Gatehouse uses of a provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_signing_algorithms: tuple[str, ...]
    code_challenge_methods: tuple[str, ...]
    # RFC 9207: the provider puts `iss` in every authorization response.
    sends_iss_parameter: bool
    token_endpoint_auth_methods: tuple[str, ...]
    # OpenID Connect Core 5.3: where the claims of the scopes live when the ID token,
    # as the specification has it for the code flow, carries none of them.
    userinfo_endpoint: str | None = None

    @property
    def supports_s256(self) -> bool:
        """Whether the provider says it accepts PKCE with S256 (RFC 7636, RFC 8414)."""
        return PKCE_METHOD in self.code_challenge_methods


def parse_metadata(document: Any, issuer: str) -> ProviderMetadata:
    """The metadata of `document`, checked; `ProviderUnavailable` when it is not a valid
    OpenID provider document for exactly `issuer`."""
    if not isinstance(document, dict):
        raise ProviderUnavailable("the discovery document is not a JSON object")
    if document.get("issuer") != issuer:
        raise ProviderUnavailable(f"the discovery document names another issuer than {issuer}")
    metadata = OpenIDProviderMetadata(document)
    try:
        metadata.validate()
    except ValueError as exc:
        raise ProviderUnavailable(f"the discovery document of {issuer} is invalid: {exc}") from None

    def strings(name: str) -> tuple[str, ...]:
        value = document.get(name) or ()
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    for name in ("token_endpoint", "jwks_uri"):
        if not isinstance(document.get(name), str):
            raise ProviderUnavailable(f"the discovery document of {issuer} has no {name}")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        id_token_signing_algorithms=strings("id_token_signing_alg_values_supported"),
        code_challenge_methods=strings("code_challenge_methods_supported"),
        sends_iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
        token_endpoint_auth_methods=strings("token_endpoint_auth_methods_supported")
        or ("client_secret_basic",),
        userinfo_endpoint=userinfo
        if isinstance(userinfo := document.get("userinfo_endpoint"), str)
        else None,
    )


class MetadataCache:
    """One issuer's metadata, read on first use and again after `max_age` seconds; while
    a new read fails, the metadata read before keeps serving."""

    def __init__(
        self,
        issuer: str,
        http: FederationHttp,
        max_age: float = METADATA_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.url = get_well_known_url(issuer, external=True)
        self._http = http
        self.max_age = max_age
        self._clock = clock
        self._metadata: ProviderMetadata | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> ProviderMetadata:
        """The metadata (`ProviderUnavailable` when it was never read and cannot be)."""
        if self._metadata is not None and self._clock() - self._read_at < self.max_age:
            return self._metadata
        async with self._lock:
            if self._metadata is not None and self._clock() - self._read_at < self.max_age:
                return self._metadata
            try:
                self._metadata = parse_metadata(await self._http.get_json(self.url), self.issuer)
                self._read_at = self._clock()
            except ProviderUnavailable:
                if self._metadata is None:
                    raise
                logger.warning("reading the metadata of %s failed; keeping the copy read before", self.issuer)
        return self._metadata
