"""Persisted queries: Apollo's automatic protocol, and a fixed manifest.

Automatic persisted queries (`PERSISTED_QUERIES=auto`, the default): a client sends
`extensions.persistedQuery = {"version": 1, "sha256Hash": h}` alone; an unknown `h`
answers `PERSISTED_QUERY_NOT_FOUND` and the client sends the query with its hash once,
which is checked and remembered. Documents are content-addressed, so a remembered one
can never be stale: each instance keeps recent ones in memory and, with `REDIS_URL`,
every instance shares them through Redis.

`PERSISTED_QUERIES=only` runs the documents of `PERSISTED_QUERIES_FILE` and nothing
else, for apps that ship fixed operations. The file is a JSON object of sha256 hash to
document (GraphQL Code Generator's `persisted-documents.json`), or Apollo's persisted
query manifest (`{"format": "apollo-persisted-query-manifest", "operations": [...]}`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from core.errors import BadRequest, PersistedQueryNotFound
from core.settings import SettingsError
from schema.engine import Engine, Prepared

LOCAL_BYTES = 8 * 1024 * 1024  # what an instance remembers in memory, 8 MiB of documents
# Documents longer than this are run but never remembered (and so never cost memory or
# Redis space): a real operation within the token limit is a few KiB.
MAX_REMEMBERED_BYTES = 32 * 1024
SHARED_TTL = 7 * 24 * 3600  # seconds a document stays in Redis after it was registered, 7 days
REDIS_PREFIX = "gatehouse:apq:"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ManifestError(SettingsError):
    """`PERSISTED_QUERIES_FILE` cannot be read as a manifest; the message says why."""


def sha256_hex(document: str) -> str:
    """The hash persisted-query clients compute: SHA-256 of the UTF-8 text, hex."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def load_manifest(path: str) -> dict[str, str]:
    """The documents of a manifest file, by hash; each hash is checked against its text."""
    try:
        raw: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"PERSISTED_QUERIES_FILE {path!r} cannot be read: {exc}") from None
    if isinstance(raw, dict) and isinstance(raw.get("operations"), list):
        pairs = [(op.get("id"), op.get("body")) for op in raw["operations"] if isinstance(op, dict)]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise ManifestError(f"PERSISTED_QUERIES_FILE {path!r} must hold a JSON object of hash to document")
    documents: dict[str, str] = {}
    for digest, document in pairs:
        if not isinstance(digest, str) or not isinstance(document, str):
            raise ManifestError(f"PERSISTED_QUERIES_FILE {path!r} has an entry that is not hash: document")
        if sha256_hex(document) != digest.lower():
            raise ManifestError(
                f"PERSISTED_QUERIES_FILE {path!r}: {digest} is not the sha256 of its document"
            )
        documents[digest.lower()] = document
    return documents


def _requested_hash(extensions: Any) -> str | None:
    """The `sha256Hash` of `extensions.persistedQuery`, or `None` when there is none."""
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    version = persisted.get("version") if isinstance(persisted, dict) else None
    if type(version) is not int or version != 1:  # `true == 1` in Python: not a version
        raise BadRequest("extensions.persistedQuery must be {version: 1, sha256Hash: <hex>}.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest.lower()):
        raise BadRequest("extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits.")
    return digest.lower()


class PersistedQueries:
    """Turns a request's `query` and `extensions` into the document to run."""

    @classmethod
    def from_settings(cls, settings: Any, redis: Any | None) -> PersistedQueries:
        """The store `PERSISTED_QUERIES` asks for; a manifest file is read (and checked) now."""
        file = settings.persisted_queries_file
        return cls(settings.persisted_queries, load_manifest(file) if file else None, redis)

    def __init__(self, mode: str, manifest: dict[str, str] | None = None, redis: Any | None = None) -> None:
        self.mode = mode
        self.manifest = manifest or {}
        self.redis = redis
        self._local: LRUCache[str, str] = LRUCache(maxsize=LOCAL_BYTES, getsizeof=len)

    async def document(self, query: str | None, extensions: Any) -> tuple[str, str | None]:
        """The document the request asks for, and the hash to `remember` it by once it
        prepares (`None` when there is nothing new to remember); raises
        `PersistedQueryNotFound` or `BadRequest`."""
        digest = _requested_hash(extensions)
        if digest is None:
            if query is None:
                raise BadRequest("The request has no query (send `query`, or a persisted query's hash).")
            if self.mode == "only" and sha256_hex(query) not in self.manifest:
                raise PersistedQueryNotFound("Only the documents of this server's manifest run here.")
            return query, None
        if query is not None:
            if sha256_hex(query) != digest:
                raise BadRequest("extensions.persistedQuery.sha256Hash does not match the query.")
            if self.mode == "only" and digest not in self.manifest:
                raise PersistedQueryNotFound("Only the documents of this server's manifest run here.")
            return query, (digest if self.mode == "auto" else None)
        found = await self._find(digest)
        if found is None:
            raise PersistedQueryNotFound()
        return found, None

    async def prepare(self, engine: Engine, query: str | None, extensions: Any) -> Prepared:
        """The prepared document a request (or a socket's `subscribe`) asks for: resolved
        by `document`, prepared by `engine`, and remembered once it prepares; raises as
        `document` does."""
        document, digest = await self.document(query, extensions)
        prepared = engine.prepare(document)
        if digest is not None and not prepared.errors:
            # Only a document that parses and validates is worth remembering.
            await self.remember(digest, document)
        return prepared

    async def _find(self, digest: str) -> str | None:
        listed = self.manifest.get(digest)
        if listed is not None or self.mode != "auto":
            return listed
        found = self._local.get(digest)
        if found is None and self.redis is not None:
            shared = await self.redis.get(REDIS_PREFIX + digest)
            if shared is not None:
                found = shared.decode("utf-8") if isinstance(shared, bytes) else str(shared)
                self._local[digest] = found
        return found

    async def remember(self, digest: str, query: str) -> None:
        """Keep `query` under its hash, here and (with Redis) for every instance; a document
        over `MAX_REMEMBERED_BYTES` is not kept (it ran; its hash alone will not)."""
        if len(query) > MAX_REMEMBERED_BYTES or self._local.get(digest) == query:
            return
        self._local[digest] = query
        if self.redis is not None:
            await self.redis.set(REDIS_PREFIX + digest, query, ex=SHARED_TTL)
