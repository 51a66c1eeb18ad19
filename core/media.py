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


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of `accept`, lower-cased, with their quality, in order."""
    ranges = []
    for part in accept.split(","):
        name, *parameters = part.split(";")
        ranges.append((name.strip().lower(), _quality(parameters)))
    return ranges


def _qualities(ranges: list[tuple[str, float]], names: tuple[str, ...]) -> dict[str, tuple[float, int]]:
    """Each of `names` with its quality and how specifically it was named (2 by name, 1 by
    `type/*`, 0 by `*/*`, -1 not at all), the most specific range winning (RFC 9110 12.5.1)."""
    found: dict[str, tuple[float, int]] = {}
    for name in names:
        major = name.split("/")[0] + "/*"
        best = (0.0, -1)
        for listed, quality in ranges:
            specificity = 2 if listed == name else 1 if listed == major else 0 if listed == "*/*" else -1
            if specificity > best[1]:
                best = (quality, specificity)
        found[name] = best
    return found


@functools.lru_cache(maxsize=256)  # distinct Accept values (clients send a handful)
def _choose(accept: str) -> MediaType | None:
    ranges = _ranges(accept)
    names = [name for name, _ in ranges]
    qualities = _qualities(ranges, tuple(_BY_NAME))

    def rank(name: str) -> tuple[float, int, int, bool]:
        # The highest quality wins; then a type named outright beats one a wildcard
        # admits; then the one named first; `application/json` (the legacy type) wins
        # what is left, a bare wildcard among it.
        quality, specificity = qualities[name]
        position = names.index(name) if specificity == 2 else len(names)
        return (quality, specificity, -position, name == APPLICATION_JSON.name)

    best = max(_BY_NAME, key=rank)
    return _BY_NAME[best] if qualities[best][0] > 0 else None


@functools.lru_cache(maxsize=256)
def prefers_html(accept: str) -> bool:
    """Whether `accept` is a browser's: `text/html` acceptable and preferred to both
    GraphQL media types (named first when the qualities are equal)."""
    ranges = _ranges(accept)
    html = _qualities(ranges, ("text/html",))["text/html"]
    if html[0] <= 0 or html[1] < 2:
        return False
    names = [name for name, _ in ranges]
    html_position = names.index("text/html")
    for name in _BY_NAME:
        quality, specificity = _qualities(ranges, (name,))[name]
        if specificity == 2 and (
            quality > html[0] or (quality == html[0] and names.index(name) < html_position)
        ):
            return False
    return True


def negotiate(accept: str | None) -> MediaType | None:
    """The media type to answer in, or `None` when `accept` allows neither.

    No `Accept` (or an empty one) means `application/json`, as the specification asks
    of servers that still serve it. Among the acceptable types the highest quality wins,
    then the one named first; a wildcard alone chooses `application/json`.
    """
    if not accept or not accept.strip():
        return APPLICATION_JSON
    return _choose(accept)
