"""Authentication and authorization.

`transport/` says how a credential travels (Authorization header, cookie);
`strategy/` says what it is and how it is verified (session row, JWT and refresh, API
token, Basic over the password verifier), all sharing `strategy.base.Strategy`;
`methods.AuthMethod` joins a transport to its strategy, and
`authenticate.Authenticator.authenticate` runs the joined pairs into one `Identity` per
request; `backend.AuthBackend` is the composition, built once; `permissions` holds the
classes that gate fields and print as schema directives.
"""
