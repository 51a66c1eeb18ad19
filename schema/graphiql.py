"""GraphiQL without a CDN (development only).

Strawberry's GraphiQL page loads React, GraphiQL and the explorer plugin from unpkg.com,
which a machine without internet (or a developer who wants no third party in the loop)
cannot use. Gatehouse serves the very same files instead: they were taken from the npm
packages unchanged (react@18.2.0, react-dom@18.2.0, graphiql@3.8.3,
@graphiql/plugin-explorer@1.0.2) into `schema/static/graphiql/`, and the page
(`schema/static/graphiql.html`) keeps the upstream integrity hashes, so the browser
refuses a vendored file that differs from the published one. How to refresh them:
`schema/static/graphiql/README.md`.

The page's set-up script is a file of ours (`gatehouse-graphiql.js`) rather than inline,
so the page's Content-Security-Policy allows same-origin scripts only: a stray
reference to any other host fails in the browser instead of quietly fetching it.

The docs show each gated field's rule (its description ends with it), and a toolbar
button switches the docs, the explorer and the editor's checks to the caller's own
schema (contract section 7): the script loads `/graphql/schema.graphql?viewer=me` with
the page's cookie and the Headers tab's headers, builds it with the graphql-js that
GraphiQL's bundle carries, and passes it as GraphiQL's `schema`; it reloads after a
mutation (a login changes who is calling) and when the headers change.
`tests/schema/test_graphiql_browser.py` drives it in Chromium.

Production serves neither the page nor the assets: `create_app` adds `graphiql_routes()`
only in development, and the view renders the page only when its IDE is on.
"""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

ASSETS_PATH = "/graphiql/static"
"""The URL path under which the page's scripts and stylesheets are served."""

_STATIC_DIR = Path(__file__).parent / "static"
_ASSETS_DIR = _STATIC_DIR / "graphiql"
_PAGE_TEMPLATE = _STATIC_DIR / "graphiql.html"

# Only these files are served; the folder's licences and README are not assets.
ASSET_MEDIA_TYPES: dict[str, str] = {
    "react.production.min.js": "text/javascript",
    "react-dom.production.min.js": "text/javascript",
    "graphiql.min.js": "text/javascript",
    "graphiql.min.css": "text/css",
    "graphiql-plugin-explorer.umd.js": "text/javascript",
    "graphiql-plugin-explorer.css": "text/css",
    "gatehouse-graphiql.js": "text/javascript",
}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # The page's own <style> block and the style attributes GraphiQL's editors set.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_NOSNIFF = {"X-Content-Type-Options": "nosniff"}


@functools.cache
def graphiql_page() -> str:
    """The GraphiQL page's HTML, with its assets pointing at `ASSETS_PATH`."""
    return _PAGE_TEMPLATE.read_text(encoding="utf-8").replace("{{ASSETS}}", ASSETS_PATH)


def graphiql_response() -> Response:
    """The GraphiQL page, locked to same-origin resources by its Content-Security-Policy."""
    return HTMLResponse(
        graphiql_page(),
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, **_NOSNIFF},
    )


async def graphiql_asset(request: Request) -> Response:
    """One of the page's vendored scripts or stylesheets; 404 for any other name."""
    name = request.path_params["name"]
    media_type = ASSET_MEDIA_TYPES.get(name)
    if media_type is None:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(_ASSETS_DIR / name, media_type=media_type, headers=_NOSNIFF)


def graphiql_routes() -> list[Route]:
    """The asset routes; `create_app` mounts them in development only."""
    return [Route(f"{ASSETS_PATH}/{{name}}", graphiql_asset, methods=["GET"])]
