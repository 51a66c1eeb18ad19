// The GraphQL-over-HTTP audit suite (npm `graphql-http`, `serverAudits`) against a URL.
//
//   node tests/clients/audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one JSON line per audit: {"id", "name", "status", "reason", "httpStatus",
// "contentType"} with status one of ok, notice, warn, error (`reason`, `httpStatus` and
// `contentType` only for the ones that are not ok). Audits run one after the other so the
// server's log stays readable. A fatal audit (one that throws) is printed with status
// "error" and the exception as its reason. The exit code is 0 whenever the audits ran:
// tests/e2e/test_graphql_over_http_clients.py judges the lines; 2 means a usage error.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql endpoint url>');
  process.exit(2);
}

for (const audit of serverAudits({ url, fetchFn: fetch })) {
  let line;
  try {
    const result = await audit.fn();
    line = { id: result.id, name: result.name, status: result.status };
    if (result.status !== 'ok') {
      line.reason = result.reason;
      line.httpStatus = result.response?.status ?? null;
      line.contentType = result.response?.headers?.get('content-type') ?? null;
    }
  } catch (error) {
    line = { id: audit.id, name: audit.name, status: 'error', reason: `audit threw: ${error?.stack ?? error}` };
  }
  console.log(JSON.stringify(line));
}
