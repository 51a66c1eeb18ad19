"""Audit records: one structured log line per security event, never a secret."""

from __future__ import annotations

import json
import logging
from typing import Any

from core.client import ClientInfo

audit_logger = logging.getLogger("gatehouse.audit")


def audit(event: str, client: ClientInfo | None = None, **fields: Any) -> None:
    """Log `event` with user ids, IP and user agent. Callers never pass secrets."""
    record: dict[str, Any] = {"event": event}
    if client is not None:
        record["ip"] = client.ip
        record["user_agent"] = client.user_agent
    record.update({k: (str(v) if v is not None else None) for k, v in fields.items()})
    audit_logger.info(json.dumps(record, sort_keys=True), extra={"audit": record})
