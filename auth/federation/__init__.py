"""Signing in with other OpenID providers, and accepting their tokens (contract section 10).

- `discovery.py`: a provider's metadata, read from `{issuer}/.well-known/openid-configuration`
  and cached; the HTTP client every provider call goes through (`OIDC_TIMEOUT`).
- `keys.py`: a provider's JWKS, cached, refreshed (rate-limited) for a `kid` it lacks.
- `tokens.py`: ID tokens and access tokens verified: signature from the JWKS, asymmetric
  algorithms only, claims by authlib's rules over joserfc.
- `providers.py`: the `OIDC_PROVIDERS` (authorization URL with PKCE S256, state and nonce;
  the code exchanged by authlib's OAuth 2 client) and the `TRUSTED_ISSUERS`.

Nothing here reads a request or the database: the services run the flows and keep the
rows (services/external_identities.py), the HTTP face answers the callback
(web/federation.py), and `auth/strategy/trusted_issuer.py` reads provider tokens sent as
bearer credentials. No OAuth or JOSE step is written by hand.
"""
