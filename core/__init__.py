"""Application plumbing: settings, errors, the ASGI app and the database wiring."""
