"""Tortoise models: data only, no HTTP. `MODELS_MODULES` is what Tortoise loads."""

from models.account_tokens import AccountToken, TokenPurpose
from models.credentials import Credential, CredentialKind, RefreshToken
from models.signing_keys import SigningKey
from models.users import User

MODELS_MODULES = ["models.users", "models.credentials", "models.signing_keys", "models.account_tokens"]

__all__ = [
    "MODELS_MODULES",
    "AccountToken",
    "Credential",
    "CredentialKind",
    "RefreshToken",
    "SigningKey",
    "TokenPurpose",
    "User",
]
