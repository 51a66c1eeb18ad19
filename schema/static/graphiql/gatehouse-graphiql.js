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
// - the query is not mirrored into the address bar, and headers are not persisted.
"use strict";

const EXAMPLE_QUERY = `# Welcome to Gatehouse's GraphiQL (development only).
#
# Sign in with the session cookie, then ask who you are:
#
#     mutation {
#       login(input: {login: "alice", password: "..."}) {
#         user { username }
#       }
#     }
#
#     { me { username email } }
#
# The cookie is HttpOnly: GraphiQL never sees it, the browser sends it.
# For a bearer token, pass transport: BEARER and put
# {"Authorization": "Bearer <accessToken>"} in the Headers tab.
#
# Keyboard shortcuts:
#
#       Run Query:  Ctrl-Enter (or press the play button above)
#
#   Auto Complete:  Ctrl-Space (or just start typing)
#
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

const root = ReactDOM.createRoot(document.getElementById("graphiql"));
root.render(
  React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [explorerPlugin],
    defaultQuery: EXAMPLE_QUERY,
    query: parameters.q,
    variables: parameters.variables,
    headers: parameters.headers,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    // Headers (a bearer token, say) stay in memory, never in localStorage.
    shouldPersistHeaders: false,
  }),
);
