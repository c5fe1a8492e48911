// Drives a sign-in at the provider of server.mjs by plain HTTP, no browser: the same steps a
// Rust test does with reqwest (cookie store on, redirects off). See README.md.
//
//   1. GET  <auth URL>                 -> 303, Location: /interaction/<uid>  (+ cookies)
//   2. POST /interaction/<uid>          form: login=<name> [email=..&email_verified=..&...]
//                                      -> 303, Location: <issuer>/auth/<uid>
//   3. GET  <issuer>/auth/<uid>        -> 303, Location: <redirect_uri>?code=..&state=..&iss=..
//      (with --consent: step 3 answers 303 /interaction/<uid> again; POST prompt=consent
//       there, then GET /auth/<uid> once more)

import { createHash, randomBytes } from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A PKCE pair: { verifier, challenge } (S256). */
export function pkcePair(verifier = b64url(randomBytes(32))) {
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

/** A minimal cookie jar: host + path scoped, enough for oidc-provider's cookies. */
export class CookieJar {
  constructor() { this.cookies = []; }

  store(url, response) {
    const { hostname } = new URL(url);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(/;\s*/);
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v] = attr.split('=');
        if (k.toLowerCase() === 'path') path = v;
        if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path && c.host === hostname));
      if (!expired) this.cookies.push({ name, value, path, host: hostname });
    }
  }

  header(url) {
    const { hostname, pathname } = new URL(url);
    return this.cookies
      .filter((c) => c.host === hostname && (pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

async function request(jar, url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(url, res);
  return res;
}

function expectRedirect(res, step) {
  const location = res.headers.get('location');
  if (res.status !== 303 && res.status !== 302) {
    throw new Error(`${step}: expected a redirect, got ${res.status}`);
  }
  return location;
}

/**
 * Signs in at the provider for the given authorization URL (the one a relying party such
 * as PocketBase built) and answers where the provider sent the browser back to:
 * { location, code, state, iss, error, error_description, steps }.
 * `login` names the user; `claims` may override email, email_verified, name,
 * preferred_username, picture for this sign-in ('' removes the claim).
 * `abort: true` cancels at the sign-in page instead (the answer carries error=access_denied).
 */
export async function driveLogin(authUrl, { login, claims = {}, abort = false, jar = new CookieJar() } = {}) {
  const steps = [];
  let res = await request(jar, authUrl);
  let location = expectRedirect(res, 'GET auth URL');
  steps.push({ method: 'GET', url: authUrl, status: res.status, location });
  let url = new URL(location, authUrl).href;

  for (let hop = 0; hop < 6; hop += 1) {
    const path = new URL(url).pathname;
    if (!path.startsWith('/interaction/') && !path.startsWith('/auth/')) break;
    if (path.startsWith('/interaction/')) {
      // what the page asks for: the sign-in or (only with --consent) the consent
      const page = await request(jar, url);
      const html = await page.text();
      const prompt = /name="prompt" value="consent"/.test(html) ? 'consent' : 'login';
      steps.push({ method: 'GET', url, status: page.status, prompt });
      if (abort) {
        res = await request(jar, `${url}/abort`);
        location = expectRedirect(res, 'GET abort');
        steps.push({ method: 'GET', url: `${url}/abort`, status: res.status, location });
      } else {
        const form = new URLSearchParams({ prompt });
        if (prompt === 'login') {
          form.set('login', login);
          for (const [k, v] of Object.entries(claims)) form.set(k, String(v));
        }
        res = await request(jar, url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        });
        location = expectRedirect(res, `POST ${prompt}`);
        steps.push({ method: 'POST', url, body: form.toString(), status: res.status, location });
      }
    } else {
      res = await request(jar, url);
      location = expectRedirect(res, 'GET resume');
      steps.push({ method: 'GET', url, status: res.status, location });
    }
    url = new URL(location, url).href;
  }

  const back = new URL(url);
  const p = back.searchParams;
  return {
    location: url,
    code: p.get('code'),
    state: p.get('state'),
    iss: p.get('iss'),
    error: p.get('error'),
    error_description: p.get('error_description'),
    steps,
  };
}

/** Builds an authorization URL for the provider (what a relying party would). */
export function authUrl(issuer, { clientId, redirectUri, state, challenge, scope = 'openid email profile', nonce, extra = {} }) {
  const u = new URL(`${issuer}/auth`);
  u.searchParams.set('client_id', clientId);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('scope', scope);
  u.searchParams.set('redirect_uri', redirectUri);
  if (state) u.searchParams.set('state', state);
  if (nonce) u.searchParams.set('nonce', nonce);
  if (challenge) {
    u.searchParams.set('code_challenge', challenge);
    u.searchParams.set('code_challenge_method', 'S256');
  }
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  return u.href;
}
