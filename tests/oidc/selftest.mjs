// Proves the provider of server.mjs and the HTTP steps of drive.mjs: sign-in without a
// browser, code exchange (client_secret_basic and client_secret_post), id_token signature
// and claims, userinfo, and that the provider refuses what it must (code replay, a wrong or
// missing PKCE verifier, a wrong secret, a different redirect_uri).
// Run: node --test selftest.mjs   (or: npm run selftest)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPublicKey, verify, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { startProvider } from './server.mjs';
import { driveLogin, pkcePair, authUrl, CookieJar } from './drive.mjs';

const REDIRECT = 'http://127.0.0.1:8090/api/oauth2-redirect';
let op;

before(async () => { op = await startProvider(); });
after(async () => { await op.close(); });

const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function token(form, { auth = 'basic', secret = op.clientSecret } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (auth === 'basic') headers.authorization = basic(op.clientId, secret);
  else {
    body.set('client_id', op.clientId);
    body.set('client_secret', secret);
  }
  const res = await fetch(`${op.issuer}/token`, { method: 'POST', headers, body: body.toString() });
  return { status: res.status, body: await res.json() };
}

async function signIn(login, { claims, pkce = pkcePair(), redirectUri = REDIRECT, jar } = {}) {
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const url = authUrl(op.issuer, { clientId: op.clientId, redirectUri, state, nonce, challenge: pkce?.challenge });
  const back = await driveLogin(url, { login, claims, jar });
  assert.equal(back.error, null, `${back.error}: ${back.error_description}`);
  assert.equal(back.state, state);
  assert.equal(back.iss, op.issuer);
  assert.ok(back.code);
  assert.ok(back.location.startsWith(`${redirectUri}?`), back.location);
  return { ...back, pkce, nonce, redirectUri };
}

async function verifyIdToken(jwt, nonce) {
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const { keys } = await (await fetch(`${op.issuer}/jwks`)).json();
  const jwk = keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, 'the id_token kid is in the JWKS');
  assert.equal(header.alg, 'RS256');
  const ok = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  assert.ok(ok, 'id_token signature verifies with the JWKS key');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  assert.equal(claims.iss, op.issuer);
  assert.equal(claims.aud, op.clientId);
  assert.equal(claims.nonce, nonce);
  assert.ok(claims.exp > Date.now() / 1000);
  return claims;
}

test('discovery document advertises what the tests rely on', async () => {
  const res = await fetch(`${op.issuer}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  const d = await res.json();
  assert.equal(d.issuer, op.issuer);
  assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
  for (const m of ['client_secret_basic', 'client_secret_post']) assert.ok(d.token_endpoint_auth_methods_supported.includes(m));
  for (const s of ['openid', 'email', 'profile']) assert.ok(d.scopes_supported.includes(s));
  for (const c of ['sub', 'email', 'email_verified', 'name', 'preferred_username', 'picture']) assert.ok(d.claims_supported.includes(c));
  assert.equal(d.authorization_endpoint, `${op.issuer}/auth`);
  assert.equal(d.token_endpoint, `${op.issuer}/token`);
  assert.equal(d.userinfo_endpoint, `${op.issuer}/me`);
});

test('code flow with PKCE: the HTTP steps, the exchange (basic), id_token and userinfo', async () => {
  const s = await signIn('alice');
  assert.deepEqual(s.steps.map((x) => `${x.method} ${new URL(x.url).pathname.replace(/\/[^/]{20,}$/, '/<uid>')} ${x.status}`), [
    'GET /auth 303', 'GET /interaction/<uid> 200', 'POST /interaction/<uid> 303', 'GET /auth/<uid> 303',
  ]);
  const t = await token({ grant_type: 'authorization_code', code: s.code, redirect_uri: s.redirectUri, code_verifier: s.pkce.verifier });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal(t.body.token_type, 'Bearer');
  assert.equal(t.body.scope, 'openid email profile');
  const claims = await verifyIdToken(t.body.id_token, s.nonce);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.email, 'alice@example.com');
  assert.equal(claims.email_verified, true);
  const ui = await fetch(`${op.issuer}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
  assert.equal(ui.status, 200);
  assert.deepEqual(await ui.json(), {
    sub: 'alice',
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice',
    preferred_username: 'alice',
    picture: `${op.issuer}/avatar/alice.png`,
  });
  const av = await fetch(`${op.issuer}/avatar/alice.png`);
  assert.equal(av.status, 200);
  assert.equal(av.headers.get('content-type'), 'image/png');
  assert.equal(Buffer.from(await av.arrayBuffer()).subarray(1, 4).toString(), 'PNG');
});

test('client_secret_post is accepted too; a wrong secret is invalid_client', async () => {
  const s = await signIn('bob');
  const bad = await token({ grant_type: 'authorization_code', code: s.code, redirect_uri: s.redirectUri, code_verifier: s.pkce.verifier }, { auth: 'post', secret: 'nope' });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.error, 'invalid_client');
  const t = await token({ grant_type: 'authorization_code', code: s.code, redirect_uri: s.redirectUri, code_verifier: s.pkce.verifier }, { auth: 'post' });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal((await verifyIdToken(t.body.id_token, s.nonce)).sub, 'bob');
});

test('a code is refused the second time (replay)', async () => {
  const s = await signIn('carol');
  const form = { grant_type: 'authorization_code', code: s.code, redirect_uri: s.redirectUri, code_verifier: s.pkce.verifier };
  assert.equal((await token(form)).status, 200);
  const again = await token(form);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant');
});

test('a wrong PKCE verifier is refused, and so is a missing one when a challenge was sent', async () => {
  const s = await signIn('dave');
  const wrong = await token({ grant_type: 'authorization_code', code: s.code, redirect_uri: s.redirectUri, code_verifier: pkcePair().verifier });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error, 'invalid_grant');
  assert.equal(wrong.body.error_description, 'grant request is invalid');
  const s2 = await signIn('dave');
  const missing = await token({ grant_type: 'authorization_code', code: s2.code, redirect_uri: s2.redirectUri });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error, 'invalid_grant');
});

test('the redirect_uri at the token endpoint must be the one of the authorization', async () => {
  const s = await signIn('erin', { redirectUri: 'http://127.0.0.1:1/some/test/url' });
  const t = await token({ grant_type: 'authorization_code', code: s.code, redirect_uri: REDIRECT, code_verifier: s.pkce.verifier });
  assert.equal(t.status, 400);
  assert.equal(t.body.error, 'invalid_grant');
});

test('without PKCE (confidential client) the flow works when not required', async () => {
  const s = await signIn('frank', { pkce: null });
  const t = await token({ grant_type: 'authorization_code', code: s.code, redirect_uri: s.redirectUri });
  assert.equal(t.status, 200, JSON.stringify(t.body));
});

test('the test chooses the user: one cookie jar, two sign-ins, two users; claims overrides', async () => {
  const jar = new CookieJar();
  const a = await signIn('gina', { jar });
  const b = await signIn('unverified', { jar });
  const c = await signIn('henry', { jar, claims: { email: 'shared@example.com', email_verified: 'false', picture: '' } });
  const d = await signIn('noemail', { jar });
  const subs = [];
  for (const s of [a, b, c, d]) {
    const t = await token({ grant_type: 'authorization_code', code: s.code, redirect_uri: s.redirectUri, code_verifier: s.pkce.verifier });
    assert.equal(t.status, 200);
    const ui = await (await fetch(`${op.issuer}/me`, { headers: { authorization: `Bearer ${t.body.access_token}` } })).json();
    subs.push(ui);
  }
  assert.deepEqual(subs.map((u) => u.sub), ['gina', 'unverified', 'henry', 'noemail']);
  assert.equal(subs[1].email_verified, false);
  assert.equal(subs[2].email, 'shared@example.com');
  assert.equal(subs[2].email_verified, false);
  assert.equal(subs[2].picture, undefined);
  assert.equal(subs[3].email, undefined);
  assert.equal(subs[3].email_verified, undefined);
});

test('cancelling at the sign-in page sends the browser back with error=access_denied', async () => {
  const url = authUrl(op.issuer, { clientId: op.clientId, redirectUri: REDIRECT, state: 'xyz', challenge: pkcePair().challenge });
  const back = await driveLogin(url, { abort: true });
  assert.equal(back.error, 'access_denied');
  assert.equal(back.state, 'xyz');
  assert.equal(back.code, null);
});

test('an unknown client is refused at the authorization endpoint without a redirect', async () => {
  const url = authUrl(op.issuer, { clientId: 'nobody', redirectUri: REDIRECT, state: 's' });
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, 'invalid_client');
});

test('CLI: --redirect-uri restricts the redirect URIs, --pkce-required and --consent', async () => {
  const child = spawn(process.execPath, [
    fileURLToPath(new URL('./server.mjs', import.meta.url)),
    '--port', '0', '--client-id', 'cli-client', '--client-secret', 'cli-secret',
    '--redirect-uri', REDIRECT, '--pkce-required', '--consent',
  ], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const line = await new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    const info = JSON.parse(line);
    assert.equal(info.issuer, `http://127.0.0.1:${info.port}`);
    assert.equal(info.client_id, 'cli-client');
    // a redirect URI not registered: an error page, no redirect
    const other = await fetch(authUrl(info.issuer, { clientId: 'cli-client', redirectUri: 'http://127.0.0.1:1/x', state: 's', challenge: pkcePair().challenge }), { redirect: 'manual' });
    assert.equal(other.status, 400);
    assert.equal((await other.json()).error, 'invalid_redirect_uri');
    // PKCE required: no challenge is refused by a redirect with an error
    const noPkce = await driveLogin(authUrl(info.issuer, { clientId: 'cli-client', redirectUri: REDIRECT, state: 's' }), { login: 'x' });
    assert.equal(noPkce.error, 'invalid_request');
    // consent mode: login, then a consent page, then the code
    const pkce = pkcePair();
    const back = await driveLogin(authUrl(info.issuer, { clientId: 'cli-client', redirectUri: REDIRECT, state: 's2', challenge: pkce.challenge }), { login: 'ivy' });
    assert.ok(back.code, JSON.stringify(back));
    assert.deepEqual(back.steps.filter((x) => x.prompt).map((x) => x.prompt), ['login', 'consent']);
    const res = await fetch(`${info.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('cli-client:cli-secret').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: back.code, redirect_uri: REDIRECT, code_verifier: pkce.verifier }).toString(),
    });
    assert.equal(res.status, 200);
  } finally {
    child.kill('SIGTERM');
  }
});
