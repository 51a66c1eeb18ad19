"""The two media types of GraphQL over HTTP, and choosing one from `Accept`."""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class MediaType:
    """A response media type: its name and the `Content-Type` it is sent with."""

    name: str

    @property
    def content_type(self) -> str:
        """The `Content-Type` value (UTF-8 is the only charset GraphQL over HTTP uses)."""
        return f"{self.name}; charset=utf-8"


GRAPHQL_RESPONSE_JSON = MediaType("application/graphql-response+json")
APPLICATION_JSON = MediaType("application/json")
_BY_NAME = {m.name: m for m in (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON)}


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


@functools.lru_cache(maxsize=256)  # distinct Accept values (clients send a handful)
def _choose(accept: str) -> MediaType | None:
    best: tuple[float, int, MediaType] | None = None
    for order, part in enumerate(accept.split(",")):
        name, *parameters = part.split(";")
        name = name.strip().lower()
        quality = _quality(parameters)
        if quality <= 0:
            continue
        if name in _BY_NAME:
            media = _BY_NAME[name]
        elif name in ("*/*", "application/*"):
            # A wildcard means the legacy type: clients that know the new one name it.
            media = APPLICATION_JSON
            order += 1000  # an explicit type of the same quality wins
        else:
            continue
        if best is None or (quality, -order) > (best[0], -best[1]):
            best = (quality, order, media)
    return None if best is None else best[2]


def negotiate(accept: str | None) -> MediaType | None:
    """The media type to answer in, or `None` when `accept` allows neither.

    No `Accept` (or an empty one) means `application/json`, as the specification asks
    of servers that still serve it. Among the acceptable types the highest quality wins,
    then the one named first; a wildcard alone chooses `application/json`.
    """
    if not accept or not accept.strip():
        return APPLICATION_JSON
    return _choose(accept)
