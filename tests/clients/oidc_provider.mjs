// A real OpenID provider for the federation tests: panva's certified `oidc-provider`,
// configured from a JSON file (argv[2]) and driven headlessly.
//
// The provider is unchanged: discovery, JWKS, the authorization endpoint (PKCE required,
// RFC 9207 `iss` in every authorization response), the token endpoint, dynamic client
// registration (tests register their clients with the redirect URIs they need) and JWT
// access tokens for one resource (the trusted-issuer tests). Only the login page is ours:
// `/interaction/:uid` signs in the account named by the request's `login_hint` (the first
// configured account without one) and grants what the client asked for, with no form;
// `login_hint=deny` answers `access_denied` instead, as a user who refuses would.
//
// `/_harness/...` is for the tests alone: accounts (their claims) and overrides merged
// into the discovery document (a provider that advertises other PKCE methods, say).
//
// Config: { port, issuer, jwks: {keys: [...private JWKs]}, accounts: {sub: claims},
//           resource: {audience, scope} }

import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map(Object.entries(config.accounts ?? {}));
let discoveryOverrides = {};

const provider = new Provider(config.issuer, {
  jwks: config.jwks,
  cookies: { keys: [config.cookie_key ?? 'harness-cookie-key-not-secret'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
  },
  // The scope's claims go into the ID token, as Auth0, Keycloak and Google put them;
  // `conform_id_token_claims` keeps them for the UserInfo endpoint, as the specification
  // has it for the code flow.
  conformIdTokenClaims: Boolean(config.conform_id_token_claims),
  findAccount: async (_ctx, sub) => {
    if (!accounts.has(sub)) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...accounts.get(sub) }) };
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: Boolean(config.resource),
      defaultResource: () => config.resource?.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => ({
        scope: config.resource.scope,
        audience: indicator,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  enabledJWA: {
    // HS256 too, so a test can have the provider sign an ID token with a client secret.
    idTokenSigningAlgValues: ['RS256', 'ES256', 'HS256'],
  },
  pkce: { required: () => true },
  responseTypes: ['code'],
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 300, IdToken: 300 },
});
provider.proxy = false;

async function readJson(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/_harness/health') {
    ctx.body = { ok: true };
    return;
  }
  if (ctx.path.startsWith('/_harness/accounts/') && ctx.method === 'PUT') {
    const sub = decodeURIComponent(ctx.path.slice('/_harness/accounts/'.length));
    accounts.set(sub, await readJson(ctx));
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/_harness/discovery' && ctx.method === 'PUT') {
    discoveryOverrides = await readJson(ctx);
    ctx.status = 204;
    return;
  }
  if (ctx.path.startsWith('/interaction/') && ctx.method === 'GET') {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const hint = details.params.login_hint;
    if (hint === 'deny') {
      await provider.interactionFinished(ctx.req, ctx.res, {
        error: 'access_denied',
        error_description: 'The harness user refused.',
      });
      return;
    }
    if (details.prompt.name === 'login') {
      const accountId = hint && accounts.has(hint) ? hint : accounts.keys().next().value;
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId } });
      return;
    }
    const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = details.prompt.details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (missingOIDCScope.length) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  await next();
  if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200) {
    ctx.body = { ...ctx.body, ...discoveryOverrides };
  }
});

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
