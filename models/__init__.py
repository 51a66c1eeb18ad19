"""Tortoise models: data only, no HTTP. `MODELS_MODULES` is what Tortoise loads."""

from models.account_tokens import AccountToken, TokenPurpose
from models.credentials import Credential, CredentialKind, RefreshToken
from models.external_identities import ExternalIdentity, ExternalLoginFlow, SpentIdToken
from models.signing_keys import SigningKey
from models.users import User

MODELS_MODULES = [
    "models.users",
    "models.credentials",
    "models.signing_keys",
    "models.account_tokens",
    "models.external_identities",
]

__all__ = [
    "MODELS_MODULES",
    "AccountToken",
    "Credential",
    "CredentialKind",
    "ExternalIdentity",
    "ExternalLoginFlow",
    "RefreshToken",
    "SigningKey",
    "SpentIdToken",
    "TokenPurpose",
    "User",
]
