"""Tortoise models: data only, no HTTP. `MODELS_MODULES` is what Tortoise loads."""

from models.credentials import Credential, CredentialKind, RefreshToken
from models.users import User

MODELS_MODULES = ["models.users", "models.credentials"]

__all__ = ["MODELS_MODULES", "Credential", "CredentialKind", "RefreshToken", "User"]
