"""Sign-in with other OpenID providers: flows, accounts and links (contract section 10).

- `begin_flow` starts a browser sign-in (or a link, for a signed-in user): the state row
  is single-use, expires after `FLOW_LIFETIME`, and is bound to the browser that began it
  (the digest of its flow cookie's random value); the provider gets PKCE S256, `state`
  and `nonce` (auth/federation/providers.py).
- `finish_flow` is the callback: the state consumed once, by the browser that began it
  and for the provider it was begun with, RFC 9207's `iss` checked, the code exchanged,
  the ID token verified, then the account found, created or linked.
- `sign_in_with_id_token` is the mobile sign-in: an ID token a native SDK holds, verified
  and used once.

Accounts (docs/FEDERATION.md): an external identity is the pair (issuer, `sub`). A pair
linked to a user signs that user in. An unknown pair creates an account, but only with an
email the provider vouches for (`email_verified: true`) and that no account has: an
existing account is never joined by a sign-in, whatever the provider says about the
address (`AccountLinkRequired`); its owner signs in and links the provider
(`linkExternalIdentity`). Accounts made this way have no password (`NO_PASSWORD_HASH`).
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth.federation.discovery import ProviderUnavailable
from auth.federation.keys import KeysUnavailable
from auth.federation.providers import CodeRejected, Federation, OidcProvider, PkceUnsupported
from auth.federation.tokens import MAX_TOKEN_BYTES, InvalidProviderToken, ProviderClaims
from auth.identity import EXTERNAL_AMR, Identity
from auth.identity_cache import IdentityCache
from auth.passwords import NO_PASSWORD_HASH
from auth.ratelimit import LoginLimiter
from auth.secrets import SESSION_ID_PATTERN, digest, new_secret
from auth.strategy.session import SessionStrategy
from core.client import ClientInfo
from core.clock import as_utc, utcnow
from core.errors import (
    AccountLinkRequired,
    BadUserInput,
    EmailNotVerified,
    ServiceUnavailable,
    Unauthenticated,
)
from core.hosts import ascii_host
from models import Credential, CredentialKind, ExternalIdentity, ExternalLoginFlow, SpentIdToken, User
from services import credential_rows
from services.audit import audit
from services.credentials import SignIn, sign_in_with_session
from services.validation import USERNAME_PATTERN, normalise_email

LOGIN, LINK = "login", "link"
FLOW_LIFETIME = timedelta(minutes=10)
# A link lasts until it is revoked; its credential row still needs an expiry.
LINK_EXPIRES_AT = datetime(9999, 12, 31, tzinfo=UTC)
REDIRECT_MAX = 2048  # models/external_identities.py `redirect_to`
STATE_MAX = 256
USERNAME_MAX = 32
USERNAME_ATTEMPTS = 5
SIGN_IN_FAILED = "Sign-in with this provider failed."
EMAIL_IN_USE = "EMAIL_IN_USE"
PROVIDER_EMAIL_UNVERIFIED = "PROVIDER_EMAIL_UNVERIFIED"
_EMAIL_IN_USE_MESSAGE = (
    "An account with this email address already exists. Sign in to it, then link this "
    "provider (linkExternalIdentity); it is never joined by a sign-in alone."
)
_UNVERIFIED_MESSAGE = (
    "The provider does not vouch for an email address (no email_verified), so no account "
    "is made from this sign-in. Register, then link this provider (linkExternalIdentity)."
)


# An account without a password proves itself, where a current password is asked for
# (changePassword, deleteAccount), by a sign-in through its provider this recent.
PROVIDER_PROOF_MAX_AGE = timedelta(minutes=10)
NO_PASSWORD_PROOF = (
    "This account has no password: sign in through your provider again (within the last "
    "10 minutes), then send an empty currentPassword."
)


def proves_provider_sign_in(identity: Identity, now: datetime | None = None) -> bool:
    """Whether the request's credential comes from a sign-in through a provider within
    `PROVIDER_PROOF_MAX_AGE`: what stands for the current password of an account that
    has none (a provider token of TRUSTED_ISSUERS never does: a service holds it)."""
    if EXTERNAL_AMR[0] not in identity.amr or identity.auth_time is None:
        return False
    if identity.credential_kind not in (CredentialKind.SESSION.value, CredentialKind.REFRESH.value):
        return False
    return (now or utcnow()) - identity.auth_time <= PROVIDER_PROOF_MAX_AGE


class FlowFailed(Exception):
    """A callback that cannot sign in or link: `code` is the stable error code the browser
    is sent back with (docs/FEDERATION.md), `redirect_to` where it goes (`None`: the error
    page), `reason` a refinement of `account_link_required`."""

    def __init__(self, code: str, redirect_to: str | None = None, reason: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.redirect_to = redirect_to
        self.reason = reason


# Codes of FlowFailed: lower-case, as OAuth's own error codes.
INVALID_REQUEST = "invalid_request"
INVALID_STATE = "invalid_state"
ISSUER_MISMATCH = "issuer_mismatch"
PROVIDER_ERROR = "provider_error"
CODE_REJECTED = "code_rejected"
INVALID_ID_TOKEN = "invalid_id_token"
ACCOUNT_LINK_REQUIRED = "account_link_required"
IDENTITY_IN_USE = "identity_in_use"
ACCOUNT_DISABLED = "account_disabled"
EMAIL_NOT_VERIFIED = "email_not_verified"
SESSION_MISMATCH = "session_mismatch"
PROVIDER_UNAVAILABLE = "provider_unavailable"
UNKNOWN_PROVIDER = "unknown_provider"
FORBIDDEN_REDIRECT = "forbidden_redirect"
SERVER_ERROR = "server_error"


class IdentityInUse(Exception):
    """The provider account is linked to another local user already."""


@dataclass(frozen=True)
class FlowOutcome:
    """A finished callback: the user signed in (`sign_in`, a new session) or linked."""

    purpose: str
    user: User
    redirect_to: str | None
    sign_in: SignIn | None = None


# -- redirectTo ------------------------------------------------------------------------


def origin_of(url: str) -> str | None:
    """The origin of an http(s) URL as browsers send it in `Origin` (scheme and host
    lower-case, the host IDNA-encoded, a default port dropped), or `None`."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = ascii_host(parts.hostname or "")
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def server_origins(host: str, is_https: bool, public_url: str | None) -> tuple[str, ...]:
    """The server's own origins: as a request reached it (its scheme, behind a trusted
    proxy the forwarded one, and its `Host`, which `HostCheck` vouched for), then
    `PUBLIC_URL`'s when that is set."""
    origins = [f"{'https' if is_https else 'http'}://{host}".lower()]
    public = origin_of(public_url) if public_url else None
    if public is not None:
        origins.append(public)
    return tuple(dict.fromkeys(origins))


def check_redirect(
    value: str | None, own_origins: Collection[str], allowed_origins: Collection[str]
) -> str | None:
    """Where a finished flow may send the browser: `None` when not given, else an
    absolute http(s) URL on the server's own origin or on `ALLOWED_ORIGINS` (a path
    such as `/app` is taken on the server's own first origin). `BadUserInput` on
    `redirectTo` for anything else: another site, a scheme-relative `//host`, user
    information, backslashes, control characters, other schemes."""
    if value is None or value == "":
        return None
    refused = BadUserInput(
        {"redirectTo": "Give an http(s) URL on this server's origin or on one of ALLOWED_ORIGINS."}
    )
    if len(value) > REDIRECT_MAX or "\\" in value or not value.isprintable() or value != value.strip():
        raise refused
    if value.startswith("/") and not value.startswith("//"):
        if not own_origins:
            raise refused
        value = next(iter(own_origins)) + value
    try:
        parts = urlsplit(value)
    except ValueError:
        raise refused from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise refused
    origin = origin_of(value)
    allowed = {o.lower() for o in (*own_origins, *allowed_origins)}
    if origin is None or origin not in allowed:
        raise refused
    return value


# -- beginning a flow ------------------------------------------------------------------


def _provider(federation: Federation, name: str) -> OidcProvider:
    provider = federation.provider(name)
    if provider is None:
        known = ", ".join(sorted(federation.providers)) or "none is configured"
        raise BadUserInput({"provider": f"No such provider (known: {known})."})
    return provider


def callback_url(base: str, provider: str) -> str:
    """The provider's redirect URI: `{base}/auth/callback/{provider}`."""
    return f"{base.rstrip('/')}/auth/callback/{provider}"


async def begin_flow(
    federation: Federation,
    limiter: LoginLimiter,
    provider_name: str,
    *,
    purpose: str,
    redirect_to: str | None,
    own_origins: Collection[str],
    allowed_origins: Collection[str],
    callback_base: str,
    binding: str,
    client: ClientInfo,
    user: User | None = None,
    credential_id: str | None = None,
) -> str:
    """The provider's authorization URL for a new flow bound to the browser holding
    `binding` (the value of its flow cookie); a link flow records the credential that
    began it (`credential_id`), which must still be live at the callback. Counts against
    the per-IP login limit; an unknown provider, a provider without PKCE S256 and a
    `redirectTo` off the allowed origins are `BadUserInput`; an unreachable provider is
    `ServiceUnavailable`."""
    await limiter.external_attempt(client.ip)
    provider = _provider(federation, provider_name)
    target = check_redirect(redirect_to, own_origins, allowed_origins)
    state, nonce = new_secret(), new_secret()
    verifier = secrets.token_urlsafe(48)  # 64 characters (RFC 7636: 43 to 128)
    redirect_uri = callback_url(callback_base, provider.name)
    try:
        url = await provider.authorization_url(
            redirect_uri=redirect_uri, state=state, nonce=nonce, code_verifier=verifier
        )
    except PkceUnsupported as exc:
        audit("external_provider_refused", client, provider=provider.name, reason=str(exc))
        raise BadUserInput(
            {"provider": f"The provider {provider.name} cannot be used: it does not offer PKCE with S256."}
        ) from None
    except ProviderUnavailable as exc:
        audit("external_provider_unavailable", client, provider=provider.name, reason=str(exc))
        raise ServiceUnavailable(
            f"The provider {provider.name} cannot be reached; try again shortly."
        ) from None
    now = utcnow()
    await ExternalLoginFlow.filter(expires_at__lt=now).delete()
    await ExternalLoginFlow.create(
        id=digest(state),
        provider=provider.name,
        purpose=purpose,
        user=user,
        credential_id=credential_id,
        nonce=nonce,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        redirect_to=target,
        binding_hash=digest(binding),
        expires_at=now + FLOW_LIFETIME,
    )
    audit(
        "external_flow_begun",
        client,
        provider=provider.name,
        purpose=purpose,
        user_id=user.id if user else None,
    )
    return url


# -- the callback ----------------------------------------------------------------------


async def _consume_flow(provider: OidcProvider, state: str | None, binding: str | None) -> ExternalLoginFlow:
    """The flow of `state`, deleted so it is used once: only by the browser that began
    it, only at the callback of the provider it was begun with, only before it expires."""
    if not state or len(state) > STATE_MAX:
        raise FlowFailed(INVALID_STATE)
    row = await ExternalLoginFlow.filter(id=digest(state)).select_related("user").first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        raise FlowFailed(INVALID_STATE)
    if binding is None or not SESSION_ID_PATTERN.fullmatch(binding):
        raise FlowFailed(INVALID_STATE)
    if not hmac.compare_digest(digest(binding), row.binding_hash):
        raise FlowFailed(INVALID_STATE)  # another browser: the flow stays for its own
    if row.provider != provider.name:
        raise FlowFailed(ISSUER_MISMATCH)  # another provider's state (mix-up)
    if await ExternalLoginFlow.filter(id=row.id).delete() != 1:
        raise FlowFailed(INVALID_STATE)  # a concurrent callback spent it first
    return row


async def finish_flow(
    federation: Federation,
    sessions: SessionStrategy,
    identity_cache: IdentityCache,
    provider_name: str,
    params: Mapping[str, str],
    binding: str | None,
    current: Identity,
    *,
    own_origins: Collection[str],
    allowed_origins: Collection[str],
    client: ClientInfo,
    require_verified_email: bool = False,
) -> FlowOutcome:
    """Finish the flow a provider's redirect carries (`params`: its query); `FlowFailed`
    with a stable code otherwise, never anything else for a bad request."""
    provider = federation.provider(provider_name)
    if provider is None:
        raise FlowFailed(UNKNOWN_PROVIDER)
    row = await _consume_flow(provider, params.get("state"), binding)
    try:
        redirect_to = check_redirect(row.redirect_to, own_origins, allowed_origins)
    except BadUserInput:
        raise FlowFailed(FORBIDDEN_REDIRECT) from None
    try:
        claims = await _verified_callback(provider, row, params)
        if row.purpose == LINK:
            return await _finish_link(row, provider, claims, current, redirect_to, client)
        user = await account_for(claims, provider.name, client)
        if not user.is_active:
            raise FlowFailed(ACCOUNT_DISABLED)
        if require_verified_email and user.email_verified_at is None:
            raise FlowFailed(EMAIL_NOT_VERIFIED)
        signed = await sign_in_with_session(sessions, identity_cache, current, user, client, EXTERNAL_AMR)
    except FlowFailed as failed:
        audit("external_login_failure", client, provider=provider.name, code=failed.code)
        raise FlowFailed(failed.code, redirect_to, failed.reason) from None
    except AccountLinkRequired as refused:
        audit("external_login_failure", client, provider=provider.name, code=ACCOUNT_LINK_REQUIRED)
        raise FlowFailed(ACCOUNT_LINK_REQUIRED, redirect_to, refused.reason.lower()) from None
    audit("external_login_success", client, provider=provider.name, user_id=user.id)
    return FlowOutcome(LOGIN, user, redirect_to, signed)


async def _verified_callback(
    provider: OidcProvider, row: ExternalLoginFlow, params: Mapping[str, str]
) -> ProviderClaims:
    """RFC 9207's `iss`, the provider's error, the code exchanged with the flow's PKCE
    verifier, the ID token verified against the flow's nonce."""
    try:
        metadata = await provider.metadata()
        issuer = params.get("iss")
        # RFC 9207 2.4: a provider that says it sends `iss` must send its own.
        if (issuer is not None and issuer != provider.issuer) or (
            issuer is None and metadata.sends_iss_parameter
        ):
            raise FlowFailed(ISSUER_MISMATCH)
        if params.get("error"):
            raise FlowFailed(PROVIDER_ERROR)
        code = params.get("code")
        if not code or len(code) > MAX_TOKEN_BYTES:
            raise FlowFailed(INVALID_REQUEST)
        token = await provider.exchange_code(
            code=code, redirect_uri=row.redirect_uri, code_verifier=row.code_verifier
        )
        access_token = token.get("access_token")
        claims = await provider.verify_id_token(token["id_token"], nonce=row.nonce, access_token=access_token)
        return await provider.with_userinfo(claims, access_token if isinstance(access_token, str) else None)
    except CodeRejected:
        raise FlowFailed(CODE_REJECTED) from None
    except InvalidProviderToken:
        raise FlowFailed(INVALID_ID_TOKEN) from None
    except (ProviderUnavailable, KeysUnavailable):
        raise FlowFailed(PROVIDER_UNAVAILABLE) from None


async def _finish_link(
    row: ExternalLoginFlow,
    provider: OidcProvider,
    claims: ProviderClaims,
    current: Identity,
    redirect_to: str | None,
    client: ClientInfo,
) -> FlowOutcome:
    user = row.user
    if user is None or not user.is_active:
        raise FlowFailed(ACCOUNT_DISABLED)
    # The browser still signed in as someone else than the user who asked for the link.
    if current.user_id is not None and current.user_id != str(user.id):
        raise FlowFailed(SESSION_MISMATCH)
    # The sign-in that began the link must still be live, and be this browser's own
    # when it is signed in: a logout everywhere or a password change (which revoke it)
    # ends a pending link too, so a flow begun with a stolen session dies with it.
    if row.credential_id is None or (
        current.credential_id is not None and current.credential_id != str(row.credential_id)
    ):
        raise FlowFailed(SESSION_MISMATCH)
    if await credential_rows.kind_of_own(str(user.id), str(row.credential_id)) is None:
        raise FlowFailed(SESSION_MISMATCH)
    try:
        await link_identity(user, claims, provider.name)
    except IdentityInUse:
        raise FlowFailed(IDENTITY_IN_USE) from None
    audit("external_link", client, provider=provider.name, user_id=user.id)
    return FlowOutcome(LINK, user, redirect_to)


# -- accounts and links ----------------------------------------------------------------


async def _find_link(issuer: str, subject: str) -> ExternalIdentity | None:
    return (
        await ExternalIdentity.filter(issuer=issuer, subject=subject)
        .select_related("credential__user")
        .first()
    )


async def account_for(claims: ProviderClaims, provider_name: str, client: ClientInfo | None = None) -> User:
    """The user a verified provider identity signs in: the linked one, else a new
    account. `AccountLinkRequired` when no account may be made: the provider does not
    vouch for an email (`PROVIDER_EMAIL_UNVERIFIED`), or an account has the email
    already (`EMAIL_IN_USE`; checked only for an address the provider vouches for, so an
    unverified claim tells nobody which addresses have accounts)."""
    link = await _find_link(claims.issuer, claims.subject)
    if link is not None and link.credential.revoked_at is None:
        return link.credential.user
    email = claims.email if claims.email_verified else None
    normalised = normalise_email(email)[0] if email else None
    if normalised is None:
        raise AccountLinkRequired(PROVIDER_EMAIL_UNVERIFIED, _UNVERIFIED_MESSAGE)
    for _ in range(USERNAME_ATTEMPTS):
        if await User.filter(email_key=normalised.lower()).exists():
            raise AccountLinkRequired(EMAIL_IN_USE, _EMAIL_IN_USE_MESSAGE)
        username = await _free_username(claims)
        try:
            async with in_transaction():
                # The revoked link first, the user row after: inserting a user takes the
                # row of `user_count` until the commit (models/user_count.py), and
                # `delete_account` takes the links before the user; the same order in both
                # means neither waits on the other in a cycle.
                await _remove_revoked_link(link)
                user = await User.create(
                    username=username,
                    username_key=username.lower(),
                    email=normalised,
                    email_key=normalised.lower(),
                    password_hash=NO_PASSWORD_HASH,
                    roles=[],
                    email_verified_at=utcnow(),
                )
                await _new_link(user, claims, provider_name, created_account=True, replacing=None)
        except IntegrityError:
            # A race: the same identity signed in concurrently, or the email or the
            # username was taken meanwhile. Read again and decide again.
            link = await _find_link(claims.issuer, claims.subject)
            if link is not None and link.credential.revoked_at is None:
                return link.credential.user
            continue
        audit("external_account_created", client, provider=provider_name, user_id=user.id)
        return user
    raise ServiceUnavailable("The account could not be created; try again.")


async def _new_link(
    user: User,
    claims: ProviderClaims,
    provider_name: str,
    *,
    created_account: bool,
    replacing: ExternalIdentity | None,
) -> Credential:
    """A link's two rows (inside the caller's transaction); a revoked link of the same
    pair is removed first (its credential row stays, revoked, for the record)."""
    await _remove_revoked_link(replacing)
    credential = await Credential.create(
        user=user,
        kind=CredentialKind.EXTERNAL,
        name=provider_name,
        scopes=[],
        expires_at=LINK_EXPIRES_AT,
        auth_time=utcnow(),
        amr=list(EXTERNAL_AMR),
    )
    await ExternalIdentity.create(
        credential=credential,
        user=user,
        provider=provider_name,
        issuer=claims.issuer,
        subject=claims.subject,
        email=(claims.email or "")[:320] or None,
        created_account=created_account,
    )
    return credential


async def _remove_revoked_link(link: ExternalIdentity | None) -> None:
    """Delete the identity row of a revoked link (its credential row stays, for the record)."""
    if link is not None:
        await ExternalIdentity.filter(id=link.id).delete()


async def link_identity(user: User, claims: ProviderClaims, provider_name: str) -> Credential:
    """Link a verified provider identity to `user` (the owner asked for it, signed in):
    its `EXTERNAL` credential. Already linked to `user`: that credential; linked to
    someone else: `IdentityInUse`."""
    for _ in range(2):
        link = await _find_link(claims.issuer, claims.subject)
        if link is not None and link.credential.revoked_at is None:
            if str(link.user_id) != str(user.id):
                raise IdentityInUse()
            return link.credential
        try:
            async with in_transaction():
                return await _new_link(user, claims, provider_name, created_account=False, replacing=link)
        except IntegrityError:
            continue  # linked concurrently: read again
    raise IdentityInUse()


def _username_candidates(claims: ProviderClaims) -> list[str]:
    """Usernames made from the provider's claims, in the contract's alphabet."""
    found: list[str] = []
    for raw in (claims.preferred_username, claims.email, claims.name):
        if not raw:
            continue
        value = raw.split("@", 1)[0] if "@" in raw else raw
        ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
        cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_only).strip("._-")[:USERNAME_MAX]
        if USERNAME_PATTERN.fullmatch(cleaned):
            found.append(cleaned)
    return found or ["user"]


async def _free_username(claims: ProviderClaims) -> str:
    """A username no account has: the provider's (`preferred_username`, else the email's
    local part, else the name), made valid, with a number added when it is taken."""
    bases = _username_candidates(claims)
    for base in bases:
        if not await User.filter(username_key=base.lower()).exists():
            return base
    base = bases[0]
    for _ in range(20):
        suffix = f"-{secrets.randbelow(10**6):06d}"
        candidate = base[: USERNAME_MAX - len(suffix)] + suffix
        if len(candidate) >= 3 and not await User.filter(username_key=candidate.lower()).exists():
            return candidate
    return "user-" + secrets.token_hex(8)


# -- mobile ----------------------------------------------------------------------------


async def sign_in_with_id_token(
    federation: Federation,
    limiter: LoginLimiter,
    provider_name: str,
    id_token: str,
    nonce: str | None,
    client: ClientInfo,
    *,
    require_verified_email: bool = False,
) -> User:
    """The user an ID token held by a native app signs in (`loginWithIdToken`).

    Counts against the per-IP login limit first. The token must be signed by the
    provider's keys, for this deployment's client or one of its `mobile_client_ids`,
    unexpired, carry `nonce` when one is given and be given its nonce when it carries
    one; it is used once (spent until it expires). Every refusal of the token, and a
    disabled account, is one `Unauthenticated` answer; an account that may not be made
    or joined is `AccountLinkRequired`; an unreachable provider `ServiceUnavailable`.
    """
    await limiter.external_attempt(client.ip)
    provider = _provider(federation, provider_name)
    if not id_token or len(id_token) > MAX_TOKEN_BYTES:
        raise Unauthenticated(SIGN_IN_FAILED)
    try:
        claims = await provider.verify_id_token(id_token, nonce=nonce, audiences=provider.settings.audiences)
    except InvalidProviderToken as refused:
        audit("external_id_token_refused", client, provider=provider.name, reason=refused.reason)
        raise Unauthenticated(SIGN_IN_FAILED) from None
    except (ProviderUnavailable, KeysUnavailable):
        raise ServiceUnavailable(
            f"The provider {provider.name} cannot be reached; try again shortly."
        ) from None
    if claims.nonce is not None and not nonce:
        audit("external_id_token_refused", client, provider=provider.name, reason="nonce not presented")
        raise Unauthenticated(SIGN_IN_FAILED)
    if not await _spend(id_token, claims.expires_at):
        audit("external_id_token_replayed", client, provider=provider.name)
        raise Unauthenticated(SIGN_IN_FAILED)
    try:
        user = await account_for(claims, provider.name, client)
    except ServiceUnavailable:
        # "Try again" must be true: the token was spent for nothing, so it is given back.
        await SpentIdToken.filter(id=digest(id_token)).delete()
        raise
    if not user.is_active:
        audit("external_login_failure", client, provider=provider.name, code=ACCOUNT_DISABLED)
        raise Unauthenticated(SIGN_IN_FAILED)
    if require_verified_email and user.email_verified_at is None:
        raise EmailNotVerified("Verify your email address before signing in.")
    audit("external_login_success", client, provider=provider.name, user_id=user.id, mobile=True)
    return user


async def _spend(id_token: str, expires_at: datetime) -> bool:
    """Record the token as used until it expires; False when it was used before."""
    now = utcnow()
    await SpentIdToken.filter(expires_at__lt=now).delete()
    try:
        await SpentIdToken.create(id=digest(id_token), expires_at=expires_at + timedelta(minutes=5))
    except IntegrityError:
        return False
    return True
