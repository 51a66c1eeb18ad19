"""GraphiQL without a CDN: in development the page and every asset it references come
from this server (unchanged upstream files, checked against the page's integrity
hashes); in production neither is served."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from graphql import parse

from app.factory import create_app
from core.settings import Settings
from schema.graphiql import ASSET_MEDIA_TYPES, ASSETS_PATH
from tests.helpers import GRAPHQL, LOGIN, ME, STRONG_PASSWORD, gql, make_settings, register

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# The only absolute URL on the page: the SVG namespace inside the data: favicon, never fetched.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


class _References(HTMLParser):
    """Every `src` and `href` on a page, with its `integrity` attribute (or None)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            value = attributes.get(name)
            if value is not None:
                self.found.append((value, attributes.get("integrity")))


def references(page: str) -> list[tuple[str, str | None]]:
    parser = _References()
    parser.feed(page)
    return parser.found


def asset_references(page: str) -> list[tuple[str, str | None]]:
    return [(url, integrity) for url, integrity in references(page) if not url.startswith("data:")]


@pytest.fixture
def settings() -> Settings:
    return make_settings(app_env="development")


async def graphiql_page(http: httpx.AsyncClient) -> str:
    response = await http.get(GRAPHQL, headers=HTML)
    assert response.status_code == 200, response.text
    return response.text


async def test_get_with_accept_html_returns_the_page(http: httpx.AsyncClient):
    response = await http.get(GRAPHQL, headers=HTML)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="graphiql"' in response.text
    assert f'src="{ASSETS_PATH}/graphiql.min.js"' in response.text


async def test_the_page_references_no_external_url(http: httpx.AsyncClient):
    page = await graphiql_page(http)

    assert "unpkg" not in page.lower()
    assert "cdn" not in page.lower()
    assert set(re.findall(r"https?://[^\s\"'<>%]*", page)) == {SVG_NAMESPACE}
    for url, _ in references(page):
        assert url.startswith((f"{ASSETS_PATH}/", "data:")), url
    # The page loads every asset the app serves, and nothing else.
    assert {url.removeprefix(f"{ASSETS_PATH}/") for url, _ in asset_references(page)} == set(
        ASSET_MEDIA_TYPES
    )


async def test_the_page_allows_same_origin_resources_only(http: httpx.AsyncClient):
    response = await http.get(GRAPHQL, headers=HTML)

    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["content-security-policy"].split("; ")
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert "<script>" not in await graphiql_page(http)  # no inline script to allow


async def test_every_referenced_asset_is_served_with_its_content_type(http: httpx.AsyncClient):
    page = await graphiql_page(http)
    assets = asset_references(page)
    assert len(assets) == len(ASSET_MEDIA_TYPES)

    for url, integrity in assets:
        response = await http.get(url)

        assert response.status_code == 200, url
        expected = CONTENT_TYPES[url[url.rindex(".") :]]
        assert response.headers["content-type"].split(";")[0] == expected, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content, url
        if integrity is not None:
            # The vendored file is the published one, byte for byte.
            digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
            assert integrity == f"sha384-{digest}", url


async def test_the_vendored_files_carry_integrity_hashes(http: httpx.AsyncClient):
    page = await graphiql_page(http)

    unhashed = [url for url, integrity in asset_references(page) if integrity is None]
    assert unhashed == [f"{ASSETS_PATH}/gatehouse-graphiql.js"]  # our own set-up script only


@pytest.mark.parametrize(
    "name",
    [
        "README.md",
        "react.LICENSE.txt",
        "graphiql.min.js.map",
        "..%2Fgraphiql.html",
        "..%2F..%2Fview.py",
        "missing.js",
    ],
)
async def test_files_that_are_not_assets_are_not_served(http: httpx.AsyncClient, name):
    response = await http.get(f"{ASSETS_PATH}/{name}")

    assert response.status_code == 404
    assert "<" not in response.text


async def test_the_fetcher_sends_same_origin_cookies(http: httpx.AsyncClient):
    script = (await http.get(f"{ASSETS_PATH}/gatehouse-graphiql.js")).text

    assert 'credentials: "same-origin"' in script
    assert "subscriptionUrl" not in script  # Gatehouse serves no WebSocket


async def test_login_then_me_from_the_page_same_origin(http: httpx.AsyncClient):
    """What GraphiQL's fetch sends: the server's own Origin, the session cookie."""
    await register(http, "grace")
    browser = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}

    login = await gql(
        http,
        LOGIN,
        {"input": {"login": "grace", "password": STRONG_PASSWORD, "transport": "COOKIE"}},
        headers=browser,
    )
    me = await gql(http, ME, headers=browser)

    assert login.status == 200, login.body
    assert login.data["login"]["user"]["username"] == "grace"
    assert "session" in http.cookies
    assert me.status == 200, me.body
    assert me.data["me"]["username"] == "grace"
    assert me.data["me"]["email"] == "grace@example.com"


async def test_a_foreign_origin_is_still_refused(http: httpx.AsyncClient):
    """Serving GraphiQL does not loosen the CSRF check for other sites."""
    await register(http, "heidi")

    login = await gql(
        http,
        LOGIN,
        {"input": {"login": "heidi", "password": STRONG_PASSWORD, "transport": "COOKIE"}},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )

    assert login.status == 403
    assert login.codes == ["FORBIDDEN"]
    assert "session" not in http.cookies


@pytest.fixture
async def production_http(clean_backends: None) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(make_settings(app_env="production"))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            yield client


async def test_production_serves_no_page(production_http: httpx.AsyncClient):
    response = await production_http.get(GRAPHQL, headers=HTML)

    # A GET without a query is a GraphQL request missing its query, not a page.
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert ASSETS_PATH not in response.text


@pytest.mark.parametrize("name", sorted(ASSET_MEDIA_TYPES))
async def test_production_serves_no_assets(production_http: httpx.AsyncClient, name):
    response = await production_http.get(f"{ASSETS_PATH}/{name}")

    assert response.status_code == 404
    assert len(response.content) < 100  # a short "Not Found", not the file


# --- The docs can switch to the caller's own schema (contract section 7) ---------------

SETUP_SCRIPT = f"{ASSETS_PATH}/gatehouse-graphiql.js"


async def test_the_page_can_switch_to_the_callers_own_schema(http: httpx.AsyncClient):
    script = (await http.get(SETUP_SCRIPT)).text

    # Relative to the page's own /graphql: same origin, within the page's CSP.
    assert 'fetchURL + "/schema.graphql?viewer=me"' in script
    assert "GraphiQL.GraphQL.buildSchema(body)" in script
    assert "schema: mine ? schema || null : undefined" in script, "undefined: GraphiQL introspects"
    assert "toolbar: { additionalContent: button }" in script
    assert "onEditHeaders: onEditHeaders" in script, "a bearer token typed in Headers is used"
    assert "sameOriginFetch(VIEWER_SCHEMA_URL" in script, "with the page's cookie"


async def test_the_bundle_offers_what_the_switch_relies_on(http: httpx.AsyncClient):
    """A refreshed GraphiQL that dropped one of these would leave the button dead."""
    bundle = (await http.get(f"{ASSETS_PATH}/graphiql.min.js")).text

    assert "_GraphiQL.GraphiQL.GraphQL = GraphQL;" in bundle
    assert "_GraphiQL.GraphiQL.React = GraphiQLReact;" in bundle
    for export in ("ToolbarButton", "DocsIcon", "DocsFilledIcon"):
        assert f"exports.{export} = {export};" in bundle, export
    assert 'Object.defineProperty(exports, "buildSchema"' in bundle
    assert "props.toolbar.additionalComponent" in bundle and "_props$toolbar.additionalContent" in bundle
    assert "onEdit: props.onEditHeaders" in bundle
    # The schema prop: a GraphQLSchema is used as is, undefined makes GraphiQL introspect.
    assert "graphql.isSchema(props.schema) || props.schema == null ? props.schema : void 0" in bundle


async def test_the_page_reaches_the_callers_schema_as_the_browser_sends_it(http: httpx.AsyncClient):
    """What the button's fetch sends: same-origin, the session cookie (after a login in the page)."""
    await register(http, "ivan")
    browser = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    anonymous = await http.get("/graphql/schema.graphql?viewer=me", headers={"Sec-Fetch-Site": "same-origin"})
    await gql(
        http,
        LOGIN,
        {"input": {"login": "ivan", "password": STRONG_PASSWORD, "transport": "COOKIE"}},
        headers=browser,
    )
    signed_in = await http.get("/graphql/schema.graphql?viewer=me", headers={"Sec-Fetch-Site": "same-origin"})

    assert anonymous.status_code == 200 and "myCredentials" not in anonymous.text
    assert signed_in.status_code == 200 and "myCredentials" in signed_in.text


GRAPHIQL_SCRIPT = (
    Path(__file__).resolve().parents[2] / "schema" / "static" / "graphiql" / "gatehouse-graphiql.js"
)


def welcome_examples() -> list[str]:
    """The documents of GraphiQL's welcome text: each block of lines indented under `#`."""
    found = re.search(r"const EXAMPLE_QUERY = `(.*?)`;", GRAPHIQL_SCRIPT.read_text(), re.DOTALL)
    assert found is not None, "the welcome text moved"
    blocks: list[list[str]] = [[]]
    for line in found.group(1).splitlines():
        if line.startswith("#     "):
            blocks[-1].append(line.removeprefix("#     "))
        elif blocks[-1]:
            blocks.append([])
    return ["\n".join(block) for block in blocks if block]


def test_the_welcome_text_starts_with_register():
    examples = welcome_examples()
    assert len(examples) >= 5, examples
    assert examples[0].startswith("mutation {\n  register(input: "), examples[0]
    for example in examples:
        parse(example)  # only GraphQL is indented: nothing else would run as typed


async def test_every_example_of_the_welcome_text_runs_as_typed(http: httpx.AsyncClient):
    """In order, on one browser-like client (the cookie kept), from the page's own origin."""
    browser = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    for example in welcome_examples():
        result = await gql(http, example, headers=browser)

        assert result.status == 200 and not result.errors, (example, result.body)
        assert all(value is not None for value in result.data.values()), (example, result.body)
