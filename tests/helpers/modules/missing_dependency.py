"""A module importing something that does not exist: the error names what is missing."""

from __future__ import annotations

import reports_sdk_that_is_not_installed  # noqa: F401
