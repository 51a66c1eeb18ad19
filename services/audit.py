"""Audit records: one structured log line per security event, never a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from core.client import ClientInfo

audit_logger = logging.getLogger("gatehouse.audit")
# Told the name of each event as it is recorded (web/metrics.py counts sign-ins so, under
# METRICS=on); never its fields. Process-wide, like the logger.
_listeners: list[Callable[[str], None]] = []


def add_listener(listener: Callable[[str], None]) -> None:
    """Call `listener(event)` for every audit event from now on."""
    _listeners.append(listener)


def remove_listener(listener: Callable[[str], None]) -> None:
    """Stop calling `listener` (no-op when it was not added)."""
    if listener in _listeners:
        _listeners.remove(listener)


def audit(event: str, client: ClientInfo | None = None, **fields: Any) -> None:
    """Log `event` with user ids, IP and user agent. Callers never pass secrets."""
    for listener in _listeners:
        listener(event)
    record: dict[str, Any] = {"event": event}
    if client is not None:
        record["ip"] = client.ip
        record["user_agent"] = client.user_agent
    record.update({k: (str(v) if v is not None else None) for k, v in fields.items()})
    audit_logger.info(json.dumps(record, sort_keys=True), extra={"audit": record})
