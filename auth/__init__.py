"""Authentication and authorization.

`transport/` says how a credential travels (Authorization header, cookie);
`strategy/` says what it is and how it is verified (session row, JWT, API token,
password); `authenticate.resolve_identity` joins them into one `Identity` per request;
`permissions` holds the classes that gate fields and print as schema directives.
"""
