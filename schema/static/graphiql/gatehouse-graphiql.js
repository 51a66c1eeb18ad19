// Gatehouse's GraphiQL set-up (development only), adapted from Strawberry's graphiql.html.
// It lives in a file rather than inline so the page's Content-Security-Policy can say
// `script-src 'self'`: nothing but these same-origin files runs.
//
// Differences from Strawberry's page:
// - the fetcher sends cookies explicitly (`credentials: "same-origin"`), so the session
//   cookie set by `login` (COOKIE transport) is sent with the next operation; the server's
//   CSRF check accepts it because the browser's `Origin` is the server's own;
// - no js-cookie and no `x-csrftoken` header (that is Django's CSRF scheme, not ours);
// - no WebSocket subscription URL: Gatehouse serves no subscriptions;
// - no incremental delivery (`multipart/mixed`): Gatehouse answers plain JSON;
// - the query is not mirrored into the address bar, and headers are not persisted;
// - a toolbar button switches the docs, the explorer and the editor's checks between the
//   full schema (introspection) and the caller's own (contract section 7): it loads
//   `/graphql/schema.graphql?viewer=me` with the page's cookie and the Headers tab's
//   headers, builds it with graphql-js's `buildSchema` (the copy GraphiQL's bundle
//   carries, `GraphiQL.GraphQL`) and hands it to GraphiQL's `schema` prop. It reloads
//   when the headers change and after each mutation (a login or logout changes who you are).
"use strict";

// Every block indented under a `#` below is a document that runs as typed, in this order
// (tests/schema/test_graphiql.py runs them against the app): copy one into the editor.
const EXAMPLE_QUERY = `# Welcome to Gatehouse's GraphiQL (development only).
#
# Create an account; it signs you in with the session cookie at once:
#
#     mutation {
#       register(input: {username: "alice", email: "alice@example.com", password: "correct horse battery staple"}) {
#         user { id username }
#       }
#     }
#
# Ask who you are, and which sessions and tokens you hold:
#
#     { me { username email roles } }
#
#     { myCredentials { kind name current createdAt } }
#
# Sign in again (the username or the email, ignoring case):
#
#     mutation {
#       login(input: {login: "alice", password: "correct horse battery staple"}) {
#         user { username }
#       }
#     }
#
# The cookie is HttpOnly: GraphiQL never sees it, the browser sends it. For a bearer
# token instead, ask for one, then put {"Authorization": "Bearer <accessToken>"} in the
# Headers tab:
#
#     mutation {
#       login(input: {login: "alice", password: "correct horse battery staple", transport: BEARER}) {
#         accessToken refreshToken expiresIn
#       }
#     }
#
# Sign out of this session:
#
#     mutation { logout }
#
# Each gated field's docs end with its rule ("Requires: @hasRole(...)"). The docs
# button in the toolbar (under Copy) switches the docs, the explorer and the editor's
# checks to your own schema: only what your credential may use. The whole API, for the
# people who call it: docs/API.md.
#
# Ctrl-Enter (or the play button above) runs the document; Ctrl-Space completes.
`;

// A shared link may carry `?q=`, `?variables=` or `?headers=`; read them once. Unlike
// Strawberry's page, edits are not written back into the address bar: a `login`
// mutation holds a password, and a reload would send it to the server in the URL.
const parameters = {};

for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(
      entry.slice(eq + 1),
    );
  }
}

const fetchURL = window.location.origin + window.location.pathname;

function sameOriginFetch(url, init) {
  return window.fetch(url, Object.assign({}, init, { credentials: "same-origin" }));
}

const fetcher = GraphiQL.createFetcher({
  url: fetchURL,
  fetch: sameOriginFetch,
  enableIncrementalDelivery: false,
});

const explorerPlugin = GraphiQLPluginExplorer.explorerPlugin();

// The caller's own schema: the SDL reduced to what this credential could use.
const VIEWER_SCHEMA_URL = fetchURL + "/schema.graphql?viewer=me";
const HEADERS_SETTLE_MS = 400;
const FULL_LABEL = "Show only what your credential may use (your own schema)";
const MINE_LABEL = "Showing your own schema: click for the full schema";

// The Headers tab's JSON object; anything else sends no extra header, as GraphiQL does.
function headersFrom(text) {
  if (!text || !text.trim()) {
    return {};
  }
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
  } catch (error) {
    return {};
  }
}

async function fetchViewerSchema(headersText) {
  const response = await sameOriginFetch(VIEWER_SCHEMA_URL, { headers: headersFrom(headersText) });
  const body = await response.text();
  if (!response.ok) {
    let reason = "HTTP " + response.status;
    try {
      reason = JSON.parse(body).errors[0].message;
    } catch (error) {
      // Not our JSON error body: the status says enough.
    }
    throw new Error("Your schema could not be loaded: " + reason);
  }
  return GraphiQL.GraphQL.buildSchema(body);
}

function isMutation(params) {
  try {
    const document = GraphiQL.GraphQL.parse(params.query || "");
    return document.definitions.some(
      (node) => node.kind === "OperationDefinition" && node.operation === "mutation",
    );
  } catch (error) {
    return false;
  }
}

function GatehouseGraphiQL() {
  const [mine, setMine] = React.useState(false);
  // undefined: GraphiQL introspects the full schema itself.
  const [schema, setSchema] = React.useState(undefined);
  const [problem, setProblem] = React.useState(null);
  const mineRef = React.useRef(false);
  const headersRef = React.useRef(parameters.headers || "");
  const loadsRef = React.useRef(0);
  const settleRef = React.useRef(null);

  const showFull = React.useCallback(() => {
    loadsRef.current += 1;
    mineRef.current = false;
    setMine(false);
    setSchema(undefined);
  }, []);

  const loadMine = React.useCallback(() => {
    const load = (loadsRef.current += 1);
    fetchViewerSchema(headersRef.current).then(
      (built) => {
        if (load === loadsRef.current && mineRef.current) {
          setSchema(built);
          setProblem(null);
        }
      },
      (error) => {
        if (load === loadsRef.current) {
          setProblem(error.message);
          showFull();
        }
      },
    );
  }, [showFull]);

  const toggle = React.useCallback(() => {
    if (mineRef.current) {
      showFull();
      return;
    }
    mineRef.current = true;
    setMine(true);
    setProblem(null);
    loadMine();
  }, [loadMine, showFull]);

  const onEditHeaders = React.useCallback(
    (text) => {
      headersRef.current = text;
      if (mineRef.current) {
        window.clearTimeout(settleRef.current);
        settleRef.current = window.setTimeout(loadMine, HEADERS_SETTLE_MS);
      }
    },
    [loadMine],
  );

  // Stable, so GraphiQL does not introspect again on every render.
  const reloadingFetcher = React.useCallback(
    (params, options) => {
      const result = fetcher(params, options);
      if (mineRef.current && isMutation(params)) {
        Promise.resolve(result).then(
          () => mineRef.current && loadMine(),
          () => undefined,
        );
      }
      return result;
    },
    [loadMine],
  );

  const label = problem || (mine ? MINE_LABEL : FULL_LABEL);
  const button = React.createElement(
    GraphiQL.React.ToolbarButton,
    {
      onClick: toggle,
      label: label,
      className: "gatehouse-viewer-schema",
      "aria-pressed": mine ? "true" : "false",
      "aria-invalid": problem ? "true" : undefined,
      "data-schema": mine ? (schema ? "mine" : "loading") : "full",
    },
    React.createElement(mine ? GraphiQL.React.DocsFilledIcon : GraphiQL.React.DocsIcon, {
      className: "graphiql-toolbar-icon",
      "aria-hidden": "true",
    }),
  );

  return React.createElement(GraphiQL, {
    fetcher: reloadingFetcher,
    schema: mine ? schema || null : undefined,
    toolbar: { additionalContent: button },
    defaultEditorToolsVisibility: true,
    plugins: [explorerPlugin],
    defaultQuery: EXAMPLE_QUERY,
    query: parameters.q,
    variables: parameters.variables,
    headers: parameters.headers,
    onEditHeaders: onEditHeaders,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    // Headers (a bearer token, say) stay in memory, never in localStorage.
    shouldPersistHeaders: false,
  });
}

const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(React.createElement(GatehouseGraphiQL));
