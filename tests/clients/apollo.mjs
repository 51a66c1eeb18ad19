// A real Apollo Client 4 application against Gatehouse, reporting what the APPLICATION sees.
//
//   node tests/clients/apollo.mjs http://127.0.0.1:8000/graphql
//
// Prints one JSON object: {"apolloClient": version, "cases": {name: outcome}}. Each outcome
// says what `client.query` / `client.mutate` handed the app (default errorPolicy "none", as
// most apps run):
//   {"outcome": "data", "data": ...}
//   {"outcome": "CombinedGraphQLErrors", "codes": [...], "messages": [...], "data": ...}
//   {"outcome": "ServerError", "statusCode": 401, "bodyText": "..."}   (or ServerParseError, ...)
// plus "exchanges": every HTTP request the link made for the case (method, the request's
// Accept and Content-Type, the body's keys or the GET query's keys) with the response's
// status, Content-Type and WWW-Authenticate. The exit code is 0 whenever the cases ran:
// tests/e2e/test_graphql_over_http_clients.py judges the output; 2 means a usage error.
//
// Cases:
//   anonymous_protected  a query of `user(id:)` (@isAuthenticated) with no credentials
//   bad_token            `me` with `Authorization: Bearer <garbage>`
//   register_bearer      `register(transport: BEARER)`: the positive path ...
//   me_bearer            ... then `me` with the access token it answered
//   get_anonymous        `me` over GET (HttpLink `useGETForQueries: true`), anonymous
//   persisted_query      `me` through Apollo's PersistedQueryLink (automatic persisted
//                        queries, sha256 from node:crypto), anonymous, over POST: the hash
//                        alone first, the document too once the server says
//                        PERSISTED_QUERY_NOT_FOUND
//   persisted_query_again  the same document from a new client: the hash alone suffices
//   persisted_query_get  another document with `useGETForHashedQueries: true`: the hash over
//                        GET, then (Apollo's rule) the document over POST
//   forbidden            `users` (admin only) with the registered user's access token
//   validation_failed    a field the schema does not have (`me { passwordHash }`), anonymous
//   get_variables        `user(id: $id)` over GET with the access token and variables
import { createHash, randomBytes } from 'node:crypto';

import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  ServerParseError,
  gql,
  version,
} from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const uri = process.argv[2];
if (!uri) {
  console.error('usage: node apollo.mjs <graphql endpoint url>');
  process.exit(2);
}

const PASSWORD = 'correct horse battery staple';

/** A fetch that records every exchange into `sink` and otherwise is the platform's fetch. */
function recordingFetch(sink) {
  return async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const headers = new Headers(init.headers);
    const exchange = {
      method: init.method ?? 'GET',
      accept: headers.get('accept'),
      contentType: headers.get('content-type'),
    };
    if (typeof init.body === 'string') {
      try {
        const body = JSON.parse(init.body);
        exchange.bodyKeys = Object.keys(body);
        if ('extensions' in body) exchange.extensions = body.extensions;
      } catch {
        exchange.bodyKeys = null;
      }
    }
    if (url.search) {
      exchange.queryKeys = [...url.searchParams.keys()];
      if (url.searchParams.has('extensions')) exchange.extensions = JSON.parse(url.searchParams.get('extensions'));
    }
    const response = await fetch(input, init);
    exchange.status = response.status;
    exchange.responseContentType = response.headers.get('content-type');
    exchange.wwwAuthenticate = response.headers.get('www-authenticate');
    sink.push(exchange);
    return response;
  };
}

/** An app's client: an auth link putting `token` (when set) into Authorization, then HTTP. */
function makeClient({ token = null, exchanges, http = {}, persisted = null }) {
  const auth = new SetContextLink((prevContext) =>
    token ? { headers: { ...prevContext.headers, authorization: `Bearer ${token}` } } : {},
  );
  const links = [auth];
  if (persisted) {
    const sha256 = (text) => createHash('sha256').update(text).digest('hex');
    links.push(new PersistedQueryLink({ sha256, ...persisted }));
  }
  links.push(new HttpLink({ uri, fetch: recordingFetch(exchanges), ...http }));
  return new ApolloClient({ link: ApolloLink.from(links), cache: new InMemoryCache() });
}

/** What the application sees from one operation. */
async function outcome(run) {
  try {
    const result = await run();
    return { outcome: 'data', data: result.data ?? null };
  } catch (error) {
    if (CombinedGraphQLErrors.is(error)) {
      return {
        outcome: 'CombinedGraphQLErrors',
        codes: error.errors.map((e) => e.extensions?.code ?? null),
        messages: error.errors.map((e) => e.message),
        data: error.data ?? null,
      };
    }
    if (ServerError.is(error)) {
      return { outcome: 'ServerError', statusCode: error.statusCode, message: error.message, bodyText: error.bodyText };
    }
    if (ServerParseError.is(error)) {
      return { outcome: 'ServerParseError', statusCode: error.statusCode, message: error.message, bodyText: error.bodyText };
    }
    return { outcome: error?.name ?? 'Error', message: String(error?.message ?? error) };
  }
}

async function runCase(options, operation) {
  const exchanges = [];
  const client = makeClient({ ...options, exchanges });
  const result = await outcome(() => operation(client));
  return { ...result, exchanges };
}

const PROTECTED = gql`
  query Protected {
    user(id: "1") {
      id
    }
  }
`;
const ME = gql`
  query Me {
    me {
      id
      username
    }
  }
`;
const ME_ID = gql`
  query MeId {
    me {
      id
    }
  }
`;
const REGISTER = gql`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      accessToken
      tokenType
      user {
        id
        username
      }
    }
  }
`;

const USERS = gql`
  query Users {
    users {
      totalCount
    }
  }
`;
const NOT_IN_SCHEMA = gql`
  query NotInSchema {
    me {
      passwordHash
    }
  }
`;
const WHO = gql`
  query Who($id: ID!) {
    user(id: $id) {
      id
      username
    }
  }
`;

const cases = {};
cases.anonymous_protected = await runCase({}, (client) => client.query({ query: PROTECTED }));
cases.bad_token = await runCase({ token: `not-a-real-token-${randomBytes(8).toString('hex')}` }, (client) =>
  client.query({ query: ME }),
);

const username = `apollo_${randomBytes(6).toString('hex')}`;
cases.register_bearer = await runCase({}, (client) =>
  client.mutate({
    mutation: REGISTER,
    variables: { input: { username, email: `${username}@example.com`, password: PASSWORD, transport: 'BEARER' } },
  }),
);
const accessToken = cases.register_bearer.data?.register?.accessToken ?? null;
if (cases.register_bearer.data?.register) cases.register_bearer.data.register.accessToken = accessToken ? '<redacted>' : null;
cases.me_bearer = accessToken
  ? await runCase({ token: accessToken }, (client) => client.query({ query: ME }))
  : { outcome: 'skipped', message: 'register_bearer answered no accessToken' };
if (cases.me_bearer.data?.me) cases.me_bearer.expectedUsername = username;

const userId = cases.register_bearer.data?.register?.user?.id ?? null;
const skipped = { outcome: 'skipped', message: 'register_bearer answered no accessToken' };
cases.forbidden = accessToken
  ? await runCase({ token: accessToken }, (client) => client.query({ query: USERS }))
  : skipped;
cases.validation_failed = await runCase({}, (client) => client.query({ query: NOT_IN_SCHEMA }));
cases.get_variables = accessToken
  ? await runCase({ token: accessToken, http: { useGETForQueries: true } }, (client) =>
      client.query({ query: WHO, variables: { id: userId } }),
    )
  : skipped;
if (cases.get_variables.data?.user) cases.get_variables.expectedUsername = username;

cases.get_anonymous = await runCase({ http: { useGETForQueries: true } }, (client) => client.query({ query: ME }));
cases.persisted_query = await runCase({ persisted: {} }, (client) => client.query({ query: ME }));
cases.persisted_query_again = await runCase({ persisted: {} }, (client) => client.query({ query: ME }));
cases.persisted_query_get = await runCase({ persisted: { useGETForHashedQueries: true } }, (client) =>
  client.query({ query: ME_ID }),
);

console.log(JSON.stringify({ apolloClient: version, cases }));
