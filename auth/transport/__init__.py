"""How credentials travel: the Authorization header and the session cookie."""
