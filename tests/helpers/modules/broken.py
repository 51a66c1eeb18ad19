"""A module that fails while importing."""

from __future__ import annotations

raise RuntimeError("the reports database is not configured")
