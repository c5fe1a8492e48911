// A real OpenID Connect provider (panva's certified `oidc-provider`) for the OAuth2 tests of
// hearth and of the real PocketBase. No fake: discovery, JWKS, authorization with PKCE,
// token endpoint (client_secret_basic and client_secret_post), userinfo and id_token are
// oidc-provider's own. What this file adds is only what a test needs around it:
//
//   - one confidential client whose redirect URIs are either the ones given or ANY URI;
//   - a sign-in page that needs no browser: POST the login (any name) and the flow goes on;
//   - an account store where the login names the user and the claims are derived from it
//     (overridable per sign-in with extra form fields);
//   - a tiny PNG at /avatar/<login>.png, the default `picture`, for avatar downloads;
//   - /plain-userinfo: the signed-in account's claims for any access token this provider
//     issued, whatever its scopes, shaped as Google's userinfo (sub, name, email,
//     email_verified, picture). With Google's two scopes accepted, a named provider
//     (`google`) can be pointed at this provider by overriding its URLs, as an app does
//     for a self-hosted or staging identity server.
//
// CLI: node server.mjs [--port N] [--host H] [--client-id ID] [--client-secret S]
//                      [--redirect-uri URI]... [--pkce-required] [--consent] [--log]
//                      [--exit-on-stdin-close]
// env: OIDC_PORT, OIDC_HOST, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
//      OIDC_REDIRECT_URIS (space separated), OIDC_PKCE_REQUIRED=1, OIDC_CONSENT=1, OIDC_LOG=1
// Once listening it prints ONE JSON line on stdout:
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"client_id":..,"client_secret":..,...}
// and runs until SIGTERM/SIGINT (or stdin closes, with --exit-on-stdin-close).
// See README.md beside this file for the HTTP steps.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

import Provider from 'oidc-provider';

export const DEFAULT_CLIENT_ID = 'hearth-test';
export const DEFAULT_CLIENT_SECRET = 'hearth-test-secret';
const SCOPES = ['openid', 'email', 'profile', 'offline_access'];
// The scopes PocketBase's `google` provider asks for (tools/auth/google.go).
const GOOGLE_SCOPES = [
  'https://www.googleapis.com/auth/userinfo.profile',
  'https://www.googleapis.com/auth/userinfo.email',
];

// 1x1 transparent PNG, the avatar every user gets unless `picture` is overridden.
const AVATAR_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

// Claims of a login when the sign-in gave no overrides. A small table of special logins
// (handy from a browser); every other login is a verified user <login>@example.com.
export function defaultClaims(login, issuer) {
  const claims = {
    sub: login,
    email: `${login}@example.com`,
    email_verified: true,
    name: login.charAt(0).toUpperCase() + login.slice(1),
    preferred_username: login,
    picture: `${issuer}/avatar/${encodeURIComponent(login)}.png`,
  };
  if (login === 'unverified' || login.startsWith('unverified-')) claims.email_verified = false;
  if (login === 'noemail' || login.startsWith('noemail-')) {
    delete claims.email;
    delete claims.email_verified;
  }
  return claims;
}

const OVERRIDABLE = ['email', 'email_verified', 'name', 'preferred_username', 'picture'];

// Applies the optional form fields of a sign-in: a field given with an empty value removes
// the claim; email_verified takes "true"/"false" (or "1"/"0").
function applyOverrides(claims, form) {
  for (const key of OVERRIDABLE) {
    if (!form.has(key)) continue;
    const value = form.get(key);
    if (value === '') delete claims[key];
    else if (key === 'email_verified') claims[key] = value === 'true' || value === '1';
    else claims[key] = value;
  }
  return claims;
}

function parseArgs(argv) {
  const opts = { redirectUris: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const next = () => {
      i += 1;
      if (i >= argv.length) throw new Error(`${a} needs a value`);
      return argv[i];
    };
    if (a === '--port') opts.port = Number(next());
    else if (a === '--host') opts.host = next();
    else if (a === '--client-id') opts.clientId = next();
    else if (a === '--client-secret') opts.clientSecret = next();
    else if (a === '--redirect-uri') opts.redirectUris.push(next());
    else if (a === '--pkce-required') opts.pkceRequired = true;
    else if (a === '--consent') opts.consent = true;
    else if (a === '--exit-on-stdin-close') opts.exitOnStdinClose = true;
    else if (a === '--log') opts.log = true;
    else if (/^\d+$/.test(a)) opts.port = Number(a);
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

function html(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><h1>${title}</h1>${body}</body></html>`;
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendJson(res, status, body) {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

/**
 * Starts the provider. Options (all optional): port (0 = any free one), host, clientId,
 * clientSecret, redirectUris (empty = any redirect URI is allowed), pkceRequired, consent
 * (true = a separate consent step; default: consent is granted with the login), log (true:
 * one line per request on stderr; a function: called with each line).
 * Resolves to { issuer, port, clientId, clientSecret, provider, accounts, close() }.
 */
export async function startProvider(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const clientId = options.clientId ?? DEFAULT_CLIENT_ID;
  const clientSecret = options.clientSecret ?? DEFAULT_CLIENT_SECRET;
  const redirectUris = options.redirectUris ?? [];
  const anyRedirect = redirectUris.length === 0;

  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const { port } = server.address();
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  // sub -> claims of the last sign-in of that login.
  const accounts = new Map();

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

  const configuration = {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      // client_secret_post is accepted as well: oidc-provider treats the two secret methods
      // as one (lib/shared/client_auth.js).
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: anyRedirect ? ['http://127.0.0.1/any-redirect-uri-is-allowed'] : redirectUris,
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: [...SCOPES, ...GOOGLE_SCOPES],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'picture'],
    },
    // The id_token carries the same claims as userinfo (PocketBase reads the id_token when
    // its oidc provider has no userInfoURL).
    conformIdTokenClaims: false,
    pkce: { required: () => Boolean(options.pkceRequired) },
    features: {
      devInteractions: { enabled: false },
      // the sign-in answers the redirect with iss (RFC 9207), oidc-provider's default
      claimsParameter: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    ttl: { AuthorizationCode: 300, Interaction: 600, Session: 3600, AccessToken: 3600, IdToken: 3600, Grant: 3600 },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    clientBasedCORS: () => true,
    async findAccount(ctx, sub) {
      const claims = accounts.get(sub) ?? defaultClaims(sub, issuer);
      return { accountId: sub, claims: async () => ({ ...claims }) };
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
  if (!options.consent) {
    // Consent is granted with the login (oidc-provider's recipe for first-party clients):
    // the grant gets every scope and claim asked for.
    configuration.loadExistingGrant = async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        const found = await ctx.oidc.provider.Grant.find(grantId);
        if (found) return found;
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope([...SCOPES, ...GOOGLE_SCOPES].join(' '));
      grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'preferred_username', 'picture']);
      await grant.save();
      return grant;
    };
  }

  const provider = new Provider(issuer, configuration);
  if (anyRedirect) {
    // Any redirect URI is allowed for the client; the token endpoint still checks that the
    // code is redeemed with the redirect_uri it was issued for.
    provider.Client.prototype.redirectUriAllowed = () => true;
  }
  const callback = provider.callback();

  async function plainUserinfo(req, res) {
    const bearer = /^bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const token = bearer && await provider.AccessToken.find(bearer[1]);
    if (!token || token.isExpired) {
      sendJson(res, 401, { error: 'invalid_token', error_description: 'no such access token' });
      return;
    }
    const claims = accounts.get(token.accountId) ?? defaultClaims(token.accountId, issuer);
    sendJson(res, 200, { ...claims, sub: token.accountId });
  }

  async function interaction(req, res, url) {
    const m = url.pathname.match(/^\/interaction\/([^/]+)(\/abort)?$/);
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      sendJson(res, 400, { error: err.name ?? 'invalid_request', error_description: err.message });
      return;
    }
    if (details.uid !== m[1]) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'interaction uid mismatch' });
      return;
    }
    if (m[2]) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
      return;
    }
    const { prompt, params, grantId, session } = details;
    if (req.method === 'GET') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      const action = `/interaction/${esc(details.uid)}`;
      if (prompt.name === 'login') {
        res.end(html('Sign-in', `<form method="post" action="${action}">`
          + '<input type="hidden" name="prompt" value="login">'
          + `<label>Login <input id="login" name="login" autofocus value="${esc(params.login_hint ?? '')}"></label>`
          + '<label>Password <input id="password" name="password" type="password"></label>'
          + '<button id="submit" type="submit">Sign-in</button></form>'
          + `<a href="${action}/abort">Cancel</a>`));
      } else {
        res.end(html('Authorize', `<p>${esc(params.client_id)} asks for ${esc(params.scope)}</p>`
          + `<form method="post" action="${action}">`
          + '<input type="hidden" name="prompt" value="consent">'
          + '<button id="submit" type="submit">Continue</button></form>'
          + `<a href="${action}/abort">Cancel</a>`));
      }
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'invalid_request', error_description: 'GET or POST' });
      return;
    }
    const form = await readForm(req);
    const step = form.get('prompt') ?? prompt.name;
    if (step !== prompt.name) {
      sendJson(res, 400, { error: 'invalid_request', error_description: `the interaction is at ${prompt.name}, not ${step}` });
      return;
    }
    if (step === 'login') {
      const login = (form.get('login') ?? '').trim();
      if (!login) {
        sendJson(res, 400, { error: 'invalid_request', error_description: 'login is required' });
        return;
      }
      accounts.set(login, applyOverrides(defaultClaims(login, issuer), form));
      await provider.interactionFinished(req, res, {
        login: { accountId: login },
      }, { mergeWithLastSubmission: false });
      return;
    }
    // consent (only with options.consent)
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    await provider.interactionFinished(req, res, {
      consent: { grantId: await grant.save() },
    }, { mergeWithLastSubmission: true });
  }

  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    if (options.log) {
      // one line per request on stderr: what a relying party sent (the token endpoint's
      // client authentication shows as basic when an Authorization header came)
      const auth = /^basic /i.test(req.headers.authorization ?? '') ? ' authorization=basic'
        : /^bearer /i.test(req.headers.authorization ?? '') ? ' authorization=bearer' : '';
      res.on('finish', () => {
        const line = `oidc: ${req.method} ${url.pathname} -> ${res.statusCode}${auth}`;
        if (typeof options.log === 'function') options.log(line);
        else process.stderr.write(`${line}\n`);
      });
    }
    if (url.pathname.startsWith('/interaction/')) {
      interaction(req, res, url).catch((err) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: err.message });
        else res.end();
      });
      return;
    }
    if (url.pathname === '/plain-userinfo' && req.method === 'GET') {
      plainUserinfo(req, res).catch((err) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: err.message });
      });
      return;
    }
    const avatar = url.pathname.match(/^\/avatar\/([^/]+)\.png$/);
    if (avatar && req.method === 'GET') {
      res.setHeader('content-type', 'image/png');
      res.setHeader('content-length', AVATAR_PNG.length);
      res.end(AVATAR_PNG);
      return;
    }
    if (url.pathname === '/auth' && /(^|;\s*)_session=/.test(req.headers.cookie ?? '')) {
      // Every new authorization request signs in again: the OP's session from an earlier
      // sign-in (same cookie jar) is neither reused (no silent sign-in as the last user) nor
      // ended later (no logout confirmation page): it is dropped from this request and the
      // browser is told to forget it. So each test chooses its user.
      req.headers.cookie = req.headers.cookie
        .split(/;\s*/)
        .filter((c) => !/^_session(\.legacy)?(\.sig)?=/.test(c))
        .join('; ');
      const { writeHead } = res;
      res.writeHead = function forgetSession(...args) {
        const set = [res.getHeader('set-cookie') ?? []].flat();
        if (!set.some((c) => String(c).startsWith('_session='))) {
          res.setHeader('set-cookie', [...set,
            '_session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; samesite=lax; httponly',
            '_session.sig=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; samesite=lax; httponly']);
        }
        return writeHead.apply(this, args);
      };
    }
    callback(req, res);
  });

  const close = () => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });

  return { issuer, port, clientId, clientSecret, provider, accounts, server, close };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const env = process.env;
  const op = await startProvider({
    port: args.port ?? (env.OIDC_PORT ? Number(env.OIDC_PORT) : 0),
    host: args.host ?? env.OIDC_HOST,
    clientId: args.clientId ?? env.OIDC_CLIENT_ID,
    clientSecret: args.clientSecret ?? env.OIDC_CLIENT_SECRET,
    redirectUris: args.redirectUris.length
      ? args.redirectUris
      : (env.OIDC_REDIRECT_URIS ?? '').split(/\s+/).filter(Boolean),
    pkceRequired: args.pkceRequired ?? env.OIDC_PKCE_REQUIRED === '1',
    consent: args.consent ?? env.OIDC_CONSENT === '1',
    log: args.log ?? env.OIDC_LOG === '1',
  });
  process.stdout.write(`${JSON.stringify({
    issuer: op.issuer,
    port: op.port,
    client_id: op.clientId,
    client_secret: op.clientSecret,
    authorization_endpoint: `${op.issuer}/auth`,
    token_endpoint: `${op.issuer}/token`,
    userinfo_endpoint: `${op.issuer}/me`,
    jwks_uri: `${op.issuer}/jwks`,
  })}\n`);
  const stop = () => op.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (args.exitOnStdinClose) {
    process.stdin.resume();
    process.stdin.on('end', stop);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}
