// Probes the real PocketBase (the `pocketbase` on PATH, 0.40.6 here) against the real OpenID
// Connect provider of server.mjs: "Sign in with OAuth2" (code flow with PKCE) and the MFA
// flow, recording every request and PocketBase's exact answer (tokens, codes, verifiers and
// states redacted). Needs no network: the provider, PocketBase and an SMTP sink all listen
// on 127.0.0.1.
//
// Run: node pb_probe.mjs [--out FILE]        (default FILE: pb_probe.out.json beside this)
//      PB_BIN=/path/to/pocketbase node pb_probe.mjs
// Prints a readable transcript on stdout; writes the same steps as JSON to FILE.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startProvider } from './server.mjs';
import { driveLogin } from './drive.mjs';

const PB = process.env.PB_BIN ?? 'pocketbase';
const outArg = process.argv.indexOf('--out');
const OUT = outArg > 0 ? process.argv[outArg + 1] : fileURLToPath(new URL('./pb_probe.out.json', import.meta.url));
const SU_EMAIL = 'probe-admin@example.com';
const SU_PASS = 'probe-admin-pass-1234';
const TEST_REDIRECT = 'http://127.0.0.1:1/test/oauth2-callback';

// ---------------------------------------------------------------------------------------
// redaction: secrets and one-time values are replaced by a placeholder naming their shape

const SECRET_KEYS = new Set(['token', 'accessToken', 'refreshToken', 'codeVerifier', 'codeChallenge', 'state', 'code', 'clientSecret', 'password', 'passwordConfirm', 'id_token', 'access_token']);
function redactUrl(u) {
  try {
    const url = new URL(u);
    for (const k of ['state', 'code', 'code_challenge', 'client_secret']) {
      if (url.searchParams.has(k)) url.searchParams.set(k, `<${k}>`);
    }
    return url.href.replace(/%3C/g, '<').replace(/%3E/g, '>');
  } catch {
    return u;
  }
}
function redact(v, key) {
  if (Array.isArray(v)) return v.map((x) => redact(x));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(x, k)]));
  }
  if (typeof v === 'string') {
    if (SECRET_KEYS.has(key) && v !== '' && !(key === 'code' && v.startsWith('validation_'))) {
      if (key === 'token' || key === 'id_token') return `<jwt:${v.split('.').length === 3 ? 'valid-shape' : 'other'}>`;
      return `<${key}>`;
    }
    if (/^(authURL|authUrl|location)$/.test(key ?? '') || /^https?:\/\/.*[?&](state|code)=/.test(v)) return redactUrl(v);
    if (key === 'logo' && v !== '') return `<svg ${v.length} chars>`;
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// the transcript

const steps = [];
let section = '';
function heading(title) {
  section = title;
  process.stdout.write(`\n## ${title}\n`);
}
function note(text) {
  steps.push({ section, note: text });
  process.stdout.write(`  note: ${text}\n`);
}

let base = '';
async function call(name, method, path, { body, token, headers = {}, record = true, raw = false, keep } = {}) {
  const h = { ...headers };
  if (token) h.authorization = token;
  if (body !== undefined && !raw) h['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)),
    redirect: 'manual',
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  const out = {
    section,
    name,
    request: { method, path: redactUrl(`http://x${path}`).slice('http://x'.length), body: body === undefined ? undefined : redact(raw ? String(body) : body) },
    status: res.status,
    location: res.headers.get('location') ?? undefined,
    contentType: res.headers.get('content-type') ?? undefined,
    body: json !== undefined ? redact(json) : text,
  };
  if (keep && res.status === 200 && json) {
    // a collection answer is long: keep the named keys only
    out.body = Object.fromEntries(keep.map((k) => [k, out.body[k]]));
    out.bodyAbridged = `only ${keep.join(', ')} kept`;
  }
  if (record) {
    steps.push(out);
    process.stdout.write(`\n### ${name}\n${method} ${out.request.path}${out.request.body !== undefined ? ` ${JSON.stringify(out.request.body)}` : ''}\n-> ${res.status}${out.location ? ` Location: ${out.location}` : ''}\n${typeof out.body === 'string' ? out.body : JSON.stringify(out.body, null, 2)}\n`);
  }
  return { status: res.status, json, text, headers: res.headers };
}

// ---------------------------------------------------------------------------------------
// an SMTP sink: accepts any mail, keeps it in memory (PocketBase sends the OTP by mail)

function startSmtpSink() {
  const mails = [];
  const waiters = [];
  const server = netServer((sock) => {
    let buf = '';
    let inData = false;
    let mail = { from: '', to: [], data: '' };
    sock.write('220 localhost probe SMTP sink\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          mail.data = buf.slice(0, end).replace(/\r\n\.\./g, '\r\n.');
          buf = buf.slice(end + 5);
          inData = false;
          mails.push(mail);
          for (const w of waiters.splice(0)) w(mail);
          mail = { from: '', to: [], data: '' };
          sock.write('250 OK queued\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'EHLO') sock.write('250-localhost\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n');
        else if (cmd === 'HELO') sock.write('250 localhost\r\n');
        else if (cmd === 'MAIL') { mail.from = line; sock.write('250 OK\r\n'); }
        else if (cmd === 'RCPT') { mail.to.push(line); sock.write('250 OK\r\n'); }
        else if (cmd === 'DATA') { inData = true; sock.write('354 End data with <CR><LF>.<CR><LF>\r\n'); }
        else if (cmd === 'QUIT') { sock.end('221 Bye\r\n'); return; }
        else if (cmd === 'RSET' || cmd === 'NOOP') sock.write('250 OK\r\n');
        else sock.write('502 Command not implemented\r\n');
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      mails,
      // the next mail whose raw text matches `match` (auth alerts may come in between)
      next(match = /./, timeoutMs = 10000) {
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error('no mail arrived')), timeoutMs);
          const wait = (m) => {
            if (!match.test(m.data)) { waiters.push(wait); return; }
            clearTimeout(t);
            res(m);
          };
          waiters.push(wait);
        });
      },
      close: () => new Promise((r) => server.close(r)),
    }));
  });
}

// Decodes a mail body enough to find the OTP (quoted-printable or base64 parts).
function mailText(raw) {
  let text = raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  for (const m of raw.matchAll(/Content-Transfer-Encoding: base64\r\n(?:[^\r\n]+\r\n)*\r\n([A-Za-z0-9+/=\r\n]+)/gi)) {
    text += `\n${Buffer.from(m[1].replace(/\r\n/g, ''), 'base64').toString('utf8')}`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// realtime (SSE) client: enough for PB_CONNECT and the @oauth2 message

async function openRealtime() {
  const ctrl = new AbortController();
  const res = await fetch(`${base}/api/realtime`, { signal: ctrl.signal, headers: { accept: 'text/event-stream' } });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const events = [];
  const waiters = [];
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { id: '', event: 'message', data: '' };
          for (const line of block.split('\n')) {
            const c = line.indexOf(':');
            const k = line.slice(0, c);
            const v = line.slice(c + 1).replace(/^ /, '');
            if (k === 'data') ev.data += v;
            else if (k === 'event') ev.event = v;
            else if (k === 'id') ev.id = v;
          }
          events.push(ev);
          for (const w of waiters.splice(0)) w();
        }
      }
    } catch { /* aborted */ }
  })();
  async function nextEvent(name, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const idx = events.findIndex((e) => e.event === name);
      if (idx >= 0) return events.splice(idx, 1)[0];
      if (Date.now() > deadline) throw new Error(`no realtime event ${name}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 200); });
    }
  }
  const connect = await nextEvent('PB_CONNECT');
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    connect,
    clientId: JSON.parse(connect.data).clientId,
    nextEvent,
    close: () => ctrl.abort(),
  };
}

// ---------------------------------------------------------------------------------------

const freePort = () => new Promise((resolve) => {
  const s = netServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

async function waitHealthy(url, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`${url}/api/health`);
      if (r.ok) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error('pocketbase did not start');
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function main() {
  const version = execFileSync(PB, ['--version']).toString().trim();
  const opLog = [];
  const op = await startProvider({ log: (line) => opLog.push(line) });
  const smtp = await startSmtpSink();
  const dir = mkdtempSync(join(tmpdir(), 'pb-probe-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Everything inside the temp dir: PocketBase's default migrations and hooks dirs are
  // beside --dir (here /tmp/pb_migrations), and automigrate (on by default) would write a
  // migration there for every collection PATCH, which the next run would then apply.
  const pbFlags = ['--dir', join(dir, 'pb_data'), '--migrationsDir', join(dir, 'pb_migrations'), '--hooksDir', join(dir, 'pb_hooks'), '--automigrate=false'];
  execFileSync(PB, ['superuser', 'upsert', SU_EMAIL, SU_PASS, ...pbFlags], { stdio: 'ignore' });
  const pb = spawn(PB, ['serve', ...pbFlags, '--http', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let pbErr = '';
  pb.stderr.on('data', (d) => { pbErr += d; });
  const cleanup = async () => {
    pb.kill('SIGTERM');
    await op.close();
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(base);
    process.stdout.write(`# PocketBase probe\n${version}; OIDC issuer ${op.issuer}; PocketBase ${base}\n`);
    await probe(op, smtp, version, port);
    heading('what PocketBase sent to the OIDC provider');
    const counts = {};
    for (const l of opLog) {
      const k = l.replace(/\/(interaction|auth)\/[^/ ]+/, '/$1/<uid>').replace(/^oidc: /, '');
      counts[k] = (counts[k] ?? 0) + 1;
    }
    steps.push({ section, name: 'OIDC provider requests (method path -> status, client auth), counted', body: counts });
    process.stdout.write(`${JSON.stringify(counts, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`${err.stack}\n${pbErr}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
  writeFileSync(OUT, `${JSON.stringify({ pocketbase: version, steps }, null, 2)}\n`);
  process.stdout.write(`\nwrote ${OUT}\n`);
}

async function probe(op, smtp, version, pbPort) {
  const oidcProvider = {
    name: 'oidc',
    clientId: op.clientId,
    clientSecret: op.clientSecret,
    authURL: `${op.issuer}/auth`,
    tokenURL: `${op.issuer}/token`,
    userInfoURL: `${op.issuer}/me`,
    displayName: 'Local OIDC',
    pkce: true,
  };

  heading('setup');
  const su = await call('superuser auth-with-password', 'POST', '/api/collections/_superusers/auth-with-password', { body: { identity: SU_EMAIL, password: SU_PASS }, record: false });
  const suToken = su.json.token;
  const usersBefore = await call('users collection as created by PocketBase (auth options only)', 'GET', '/api/collections/users', { token: suToken, record: false });
  steps.push({ section, name: 'users collection defaults (oauth2, mfa, otp, passwordAuth, fields)', body: {
    oauth2: usersBefore.json.oauth2,
    mfa: usersBefore.json.mfa,
    otp: usersBefore.json.otp,
    passwordAuth: usersBefore.json.passwordAuth,
    fields: usersBefore.json.fields.map((f) => ({ name: f.name, type: f.type, required: f.required, hidden: f.hidden })),
  } });
  process.stdout.write(`users defaults: ${JSON.stringify(steps.at(-1).body)}\n`);

  heading('meta: the providers PocketBase knows');
  const metaAnon = await call('GET meta/oauth2-providers, anonymous', 'GET', '/api/collections/meta/oauth2-providers');
  const meta = await call('GET meta/oauth2-providers, superuser (list abbreviated to oidc*)', 'GET', '/api/collections/meta/oauth2-providers', { token: suToken, record: false });
  steps.push({ section, name: 'GET meta/oauth2-providers as superuser', status: meta.status, body: {
    count: meta.json.length,
    keysOfEachItem: Object.keys(meta.json[0]),
    names: meta.json.map((p) => p.name),
    oidcItems: redact(meta.json.filter((p) => p.name.startsWith('oidc'))),
  } });
  process.stdout.write(`meta (superuser): ${JSON.stringify(steps.at(-1).body)}\n`);
  void metaAnon;

  heading('oauth2 disabled');
  await call('auth-methods with oauth2 disabled', 'GET', '/api/collections/users/auth-methods');
  await call('auth-with-oauth2 while oauth2 is disabled', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code: 'x', codeVerifier: 'y', redirectURL: TEST_REDIRECT } });

  heading('enable oauth2 with the oidc provider');
  await call('PATCH users: oauth2 enabled, provider oidc (an invalid provider name first)', 'PATCH', '/api/collections/users', { token: suToken, body: { oauth2: { enabled: true, providers: [{ ...oidcProvider, name: 'nope' }] } } });
  await call('PATCH users: provider missing clientSecret', 'PATCH', '/api/collections/users', { token: suToken, body: { oauth2: { enabled: true, providers: [{ ...oidcProvider, clientSecret: '' }] } } });
  const patched = await call('PATCH users: oauth2 enabled, provider oidc', 'PATCH', '/api/collections/users', { token: suToken, keep: ['oauth2', 'mfa', 'otp', 'passwordAuth'], body: { oauth2: { enabled: true, providers: [oidcProvider], mappedFields: { id: '', name: 'name', username: '', avatarURL: 'avatar' } } } });
  void patched;
  await call('GET users collection as superuser: is clientSecret shown?', 'GET', '/api/collections/users?fields=oauth2', { token: suToken });

  const methods = await call('auth-methods with the oidc provider', 'GET', '/api/collections/users/auth-methods');
  const prov = () => methods.json.oauth2.providers.find((p) => p.name === 'oidc');

  // one sign-in: fresh auth-methods (state + verifier), drive the OP, answer the code etc.
  async function freshProvider() {
    const m = await call('auth-methods', 'GET', '/api/collections/users/auth-methods', { record: false });
    return m.json.oauth2.providers.find((p) => p.name === 'oidc');
  }
  async function getCode(login, { claims, redirect = TEST_REDIRECT, provider } = {}) {
    const p = provider ?? await freshProvider();
    const url = p.authURL + encodeURIComponent(redirect);
    const back = await driveLogin(url, { login, claims });
    if (back.error || !back.code) throw new Error(`no code: ${JSON.stringify(back)}`);
    if (back.state !== p.state) throw new Error('state not echoed');
    return { p, code: back.code, state: back.state, redirect, back };
  }
  async function signIn(name, login, { claims, createData, redirect = TEST_REDIRECT, token, providerName = 'oidc', bodyExtra = {} } = {}) {
    const { p, code } = await getCode(login, { claims, redirect });
    const body = { provider: providerName, code, codeVerifier: p.codeVerifier, redirectURL: redirect, ...bodyExtra };
    if (createData) body.createData = createData;
    return call(name, 'POST', '/api/collections/users/auth-with-oauth2', { body, token });
  }

  heading('the auth URL PocketBase builds');
  {
    const p = prov();
    const u = new URL(`${p.authURL}${encodeURIComponent(TEST_REDIRECT)}`);
    steps.push({ section, name: 'authURL query parameters (in order)', body: [...u.searchParams.keys()] });
    process.stdout.write(`authURL params: ${[...u.searchParams.keys()].join(', ')}; ends with "&redirect_uri=": ${p.authURL.endsWith('&redirect_uri=')}\n`);
    note(`authURL ends with "&redirect_uri=": ${p.authURL.endsWith('&redirect_uri=')}; state length ${p.state.length}; codeVerifier length ${p.codeVerifier.length}; codeChallengeMethod ${p.codeChallengeMethod}; scope=${u.searchParams.get('scope')}`);
  }

  heading('first sign-in, second sign-in');
  const first = await signIn('alice first sign-in (createData: emailVisibility true, name)', 'alice', { createData: { emailVisibility: true, name: 'Alice From CreateData' } });
  const aliceToken = first.json?.token;
  note(`avatar after first sign-in: ${JSON.stringify(first.json?.record?.avatar)} (the mapped avatar URL is on 127.0.0.1: PocketBase's safeFileFromURL refuses loopback, so no file)`);
  await signIn('alice second sign-in (createData ignored for existing record)', 'alice', { createData: { name: 'Ignored' } });

  heading('linking to an existing record by email');
  await call('create bob@example.com verified (superuser)', 'POST', '/api/collections/users/records', { token: suToken, body: { email: 'bob@example.com', password: 'bob-password-123', passwordConfirm: 'bob-password-123', verified: true, name: 'Bob Existing' } });
  await signIn('bob signs in with OIDC, same email, existing record verified', 'bob');
  await call('bob password still works', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'bob@example.com', password: 'bob-password-123' } });

  await call('create carol@example.com unverified (superuser)', 'POST', '/api/collections/users/records', { token: suToken, body: { email: 'carol@example.com', password: 'carol-password-123', passwordConfirm: 'carol-password-123', verified: false, name: 'Carol Existing' } });
  await signIn('carol signs in with OIDC, same email, existing record unverified', 'carol');
  await call('carol old password after the OIDC sign-in', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'carol@example.com', password: 'carol-password-123' } });

  heading('OIDC emails that PocketBase does not take');
  await call('create dave@example.com verified (superuser)', 'POST', '/api/collections/users/records', { token: suToken, body: { email: 'dave@example.com', password: 'dave-password-123', passwordConfirm: 'dave-password-123', verified: true } });
  await signIn('dave signs in, OIDC email dave@example.com but email_verified false', 'dave', { claims: { email_verified: 'false' } });
  await signIn('noemail signs in (no email claim at all)', 'noemail');
  await signIn('noemail-2 signs in (no email claim), createData gives an email', 'noemail-2', { createData: { email: 'given@example.com' } });
  await signIn('erin signs in, createData.email differs from the OIDC email', 'erin', { createData: { email: 'erin-other@example.com' } });
  await signIn('frank signs in, createData invalid (name too long? unknown field, bad password)', 'frank', { createData: { password: '1', passwordConfirm: '2', unknownField: 1 } });
  await signIn('grace signs in, createData.verified false and emailVisibility false', 'grace', { createData: { verified: false, emailVisibility: false } });

  heading('signed-in record as fallback (linking a second identity)');
  await signIn('henry (new OIDC identity) signs in while Authorization is alice (alice already has an oidc link)', 'henry', { token: aliceToken });
  await call('create kate@example.com verified with a password (superuser)', 'POST', '/api/collections/users/records', { token: suToken, record: false, body: { email: 'kate@example.com', password: 'kate-password-123', passwordConfirm: 'kate-password-123', verified: true } });
  const kate = await call('kate auth-with-password', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'kate@example.com', password: 'kate-password-123' }, record: false });
  await signIn('OIDC identity "kate-work" (email kate-work@example.com) signs in while Authorization is kate', 'kate-work', { token: kate.json.token });
  await call('_externalAuths as kate', 'GET', '/api/collections/_externalAuths/records', { token: kate.json.token });

  heading('state, replay, verifier, redirect URL');
  {
    const { p, code } = await getCode('alice');
    note('PocketBase\'s auth-with-oauth2 takes no state: comparing the state the OP sent back with auth-methods\' state is the client\'s job (the SDK compares it with the realtime clientId it sent as state).');
    await call('auth-with-oauth2 with an extra "state" field that does not match (ignored by PB)', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: TEST_REDIRECT, state: 'not-the-state' } });
    await call('the same code a second time (replay)', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: TEST_REDIRECT } });
  }
  {
    const { code } = await getCode('alice');
    await call('wrong codeVerifier', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code, codeVerifier: 'x'.repeat(43), redirectURL: TEST_REDIRECT } });
  }
  {
    const { code } = await getCode('alice');
    await call('no codeVerifier (the auth URL had a code_challenge)', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code, redirectURL: TEST_REDIRECT } });
  }
  {
    const { p, code } = await getCode('alice');
    await call('redirectURL different from the one in the auth URL', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: 'http://127.0.0.1:1/other' } });
  }
  {
    const { p, code } = await getCode('alice');
    await call('deprecated redirectUrl (lowercase) instead of redirectURL', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectUrl: TEST_REDIRECT } });
  }
  await call('an invalid code', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code: 'not-a-code', codeVerifier: 'x'.repeat(43), redirectURL: TEST_REDIRECT } });

  heading('provider name and body validation');
  await call('unknown provider name (not a PocketBase provider)', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'nope', code: 'x', codeVerifier: 'y', redirectURL: TEST_REDIRECT } });
  await call('known PocketBase provider not enabled on the collection (github)', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'github', code: 'x', codeVerifier: 'y', redirectURL: TEST_REDIRECT } });
  await call('missing code', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', codeVerifier: 'y', redirectURL: TEST_REDIRECT } });
  await call('missing provider', 'POST', '/api/collections/users/auth-with-oauth2', { body: { code: 'x', codeVerifier: 'y', redirectURL: TEST_REDIRECT } });
  await call('empty body {}', 'POST', '/api/collections/users/auth-with-oauth2', { body: {} });
  await call('body not JSON', 'POST', '/api/collections/users/auth-with-oauth2', { body: '{not json', raw: true, headers: { 'content-type': 'application/json' } });
  await call('missing redirectURL (token endpoint sees no redirect_uri)', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code: 'x', codeVerifier: 'y' } });
  {
    const { p, code } = await getCode('alice');
    await call('valid code, no redirectURL', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code, codeVerifier: p.codeVerifier } });
  }
  await call('auth-with-oauth2 on a base collection (not auth)', 'POST', '/api/collections/_nope/auth-with-oauth2', { body: { provider: 'oidc', code: 'x' } });

  heading('collection rules on OAuth2 sign-up and sign-in');
  await call('PATCH users: createRule null (superusers only)', 'PATCH', '/api/collections/users', { token: suToken, keep: ['createRule'], body: { createRule: null } });
  await signIn('new identity "leo" with createRule null', 'leo');
  await signIn('existing alice with createRule null', 'alice');
  await call('PATCH users: createRule "@request.context != \'oauth2\'"', 'PATCH', '/api/collections/users', { token: suToken, keep: ['createRule'], body: { createRule: "@request.context != 'oauth2'" } });
  await signIn('new identity "leo" with a createRule refusing the oauth2 context', 'leo');
  await call('PATCH users: createRule back to "", authRule "email != \'alice@example.com\'"', 'PATCH', '/api/collections/users', { token: suToken, keep: ['createRule', 'authRule'], body: { createRule: '', authRule: "email != 'alice@example.com'" } });
  await signIn('alice with an authRule refusing her', 'alice');
  await call('PATCH users: authRule back to ""', 'PATCH', '/api/collections/users', { token: suToken, keep: ['authRule'], body: { authRule: '' }, record: false });

  heading('_externalAuths');
  await call('_externalAuths as alice', 'GET', '/api/collections/_externalAuths/records', { token: aliceToken });
  await call('_externalAuths anonymous', 'GET', '/api/collections/_externalAuths/records');
  await call('_externalAuths as superuser', 'GET', '/api/collections/_externalAuths/records?sort=created', { token: suToken });
  await call('_externalAuths create as alice (no create rule)', 'POST', '/api/collections/_externalAuths/records', { token: aliceToken, body: { collectionRef: 'x', recordRef: 'y', provider: 'oidc', providerId: 'z' } });

  heading('id_token instead of userinfo (oidc2, no userInfoURL, extra jwksURL + issuers)');
  await call('PATCH users: add oidc2 without userInfoURL', 'PATCH', '/api/collections/users', { token: suToken, keep: ['oauth2'], body: { oauth2: { enabled: true, providers: [oidcProvider, { ...oidcProvider, name: 'oidc2', userInfoURL: '', extra: { jwksURL: `${op.issuer}/jwks`, issuers: [op.issuer] } }] } } });
  {
    const m = await call('auth-methods', 'GET', '/api/collections/users/auth-methods', { record: false });
    const p2 = m.json.oauth2.providers.find((p) => p.name === 'oidc2');
    const back = await driveLogin(p2.authURL + encodeURIComponent(TEST_REDIRECT), { login: 'ivan' });
    await call('ivan signs in through oidc2 (claims from the id_token)', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc2', code: back.code, codeVerifier: p2.codeVerifier, redirectURL: TEST_REDIRECT } });
  }
  await call('PATCH users: oidc2 with a wrong issuers list (extra is merged into the stored one!)', 'PATCH', '/api/collections/users', { token: suToken, keep: ['oauth2'], body: { oauth2: { enabled: true, providers: [oidcProvider, { ...oidcProvider, name: 'oidc2', userInfoURL: '', extra: { issuers: ['http://other.example'] } }] } } });
  {
    const m = await call('auth-methods', 'GET', '/api/collections/users/auth-methods', { record: false });
    const p2 = m.json.oauth2.providers.find((p) => p.name === 'oidc2');
    const back = await driveLogin(p2.authURL + encodeURIComponent(TEST_REDIRECT), { login: 'ivan' });
    await call('ivan through oidc2 with a wrong issuers list', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc2', code: back.code, codeVerifier: p2.codeVerifier, redirectURL: TEST_REDIRECT } });
  }
  await call('PATCH users: oidc2 again, correct issuers, clientSecret left out', 'PATCH', '/api/collections/users', { token: suToken, keep: ['oauth2'], body: { oauth2: { enabled: true, providers: [oidcProvider, { name: 'oidc2', clientId: op.clientId, authURL: oidcProvider.authURL, tokenURL: oidcProvider.tokenURL, userInfoURL: '', pkce: true, extra: { jwksURL: `${op.issuer}/jwks`, issuers: [op.issuer] } }] } } });
  {
    // the record of noemail-2 is unverified (email given@example.com from createData) and has
    // an oidc link; a verified OIDC identity with that email arrives through oidc2
    const m = await call('auth-methods', 'GET', '/api/collections/users/auth-methods', { record: false });
    const p2 = m.json.oauth2.providers.find((p) => p.name === 'oidc2');
    const back = await driveLogin(p2.authURL + encodeURIComponent(TEST_REDIRECT), { login: 'given', claims: { email: 'given@example.com' } });
    await call('"given" (verified given@example.com) through oidc2: the unverified record of noemail-2 is taken over', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc2', code: back.code, codeVerifier: p2.codeVerifier, redirectURL: TEST_REDIRECT } });
    await call('_externalAuths of given@example.com\'s record (superuser): the old oidc link is gone', 'GET', `/api/collections/_externalAuths/records?filter=${encodeURIComponent("providerId='noemail-2' || providerId='given'")}`, { token: suToken });
  }
  await call('PATCH users: back to oidc only', 'PATCH', '/api/collections/users', { token: suToken, body: { oauth2: { enabled: true, providers: [oidcProvider] } }, record: false });

  heading('all-in-one flow: realtime @oauth2 + GET /api/oauth2-redirect');
  {
    const rt = await openRealtime();
    steps.push({ section, name: 'GET /api/realtime first event', status: rt.status, body: { contentType: rt.contentType, event: rt.connect.event, id: rt.connect.id ? '<clientId>' : '', data: JSON.parse(rt.connect.data) } });
    process.stdout.write(`realtime connect: ${JSON.stringify(steps.at(-1).body)}\n`);
    await call('subscribe to @oauth2', 'POST', '/api/realtime', { body: { clientId: rt.clientId, subscriptions: ['@oauth2'] } });
    const redirect = `${base}/api/oauth2-redirect`;
    const p = await freshProvider();
    const u = new URL(p.authURL + encodeURIComponent(redirect));
    u.searchParams.set('state', rt.clientId); // what the JS SDK does
    const back = await driveLogin(u.href, { login: 'judy' });
    steps.push({ section, name: 'the OP sends the browser to', body: { location: redactUrl(back.location) } });
    const path = back.location.slice(base.length);
    await call('GET /api/oauth2-redirect?code=..&state=<clientId>&iss=..', 'GET', path);
    const msg = await rt.nextEvent('@oauth2');
    const data = JSON.parse(msg.data);
    steps.push({ section, name: 'realtime message @oauth2', body: { event: msg.event, id: msg.id ? '<id>' : '', dataKeys: Object.keys(data), data: redact(data), stateIsClientId: data.state === rt.clientId, codeIsOPCode: data.code === back.code } });
    process.stdout.write(`realtime @oauth2: ${JSON.stringify(steps.at(-1).body)}\n`);
    await call('judy auth-with-oauth2 with the code from the realtime message', 'POST', '/api/collections/users/auth-with-oauth2', { body: { provider: 'oidc', code: data.code, codeVerifier: p.codeVerifier, redirectURL: redirect } });
    await call('GET /api/oauth2-redirect again with the same state (subscription gone)', 'GET', path);
    rt.close();
  }
  {
    const rt = await openRealtime();
    await call('subscribe to @oauth2', 'POST', '/api/realtime', { body: { clientId: rt.clientId, subscriptions: ['@oauth2'] }, record: false });
    const redirect = `${base}/api/oauth2-redirect`;
    const p = await freshProvider();
    const u = new URL(p.authURL + encodeURIComponent(redirect));
    u.searchParams.set('state', rt.clientId);
    const back = await driveLogin(u.href, { abort: true });
    await call('GET /api/oauth2-redirect?error=access_denied&error_description=..&state=<clientId>', 'GET', back.location.slice(base.length));
    const msg = await rt.nextEvent('@oauth2');
    steps.push({ section, name: 'realtime message @oauth2 after an error', body: { event: msg.event, data: redact(JSON.parse(msg.data)) } });
    process.stdout.write(`realtime @oauth2 (error): ${JSON.stringify(steps.at(-1).body)}\n`);
    rt.close();
  }
  await call('GET /api/oauth2-redirect with an unknown state', 'GET', '/api/oauth2-redirect?code=abc&state=unknown-client');
  await call('GET /api/oauth2-redirect without state', 'GET', '/api/oauth2-redirect?code=abc');
  await call('POST /api/oauth2-redirect (form_post) unknown state', 'POST', '/api/oauth2-redirect', { body: 'code=abc&state=unknown', raw: true, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  {
    const rt = await openRealtime();
    await call('subscribe to @oauth2', 'POST', '/api/realtime', { body: { clientId: rt.clientId, subscriptions: ['@oauth2'] }, record: false });
    await call('POST /api/oauth2-redirect (response_mode=form_post) with a subscribed state', 'POST', '/api/oauth2-redirect', { body: `code=some-code&state=${rt.clientId}`, raw: true, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const msg = await rt.nextEvent('@oauth2');
    steps.push({ section, name: 'realtime message @oauth2 after form_post', body: { event: msg.event, data: redact(JSON.parse(msg.data)) } });
    rt.close();
  }

  heading('MFA: password then OTP, OAuth2 then password');
  await call('PATCH settings: smtp to the local sink', 'PATCH', '/api/settings', { token: suToken, record: false, body: {
    meta: { senderName: 'Probe', senderAddress: 'noreply@example.com' },
    smtp: { enabled: true, host: '127.0.0.1', port: smtp.port, tls: false, authMethod: '', username: '', password: '' },
  } });
  await call('PATCH users: mfa enabled but only one method (password off, oauth2 off)', 'PATCH', '/api/collections/users', { token: suToken, body: { passwordAuth: { enabled: false }, oauth2: { enabled: false }, otp: { enabled: false }, mfa: { enabled: true, duration: 1800, rule: '' } } });
  await call('PATCH users: mfa + otp enabled', 'PATCH', '/api/collections/users', { token: suToken, keep: ['oauth2', 'mfa', 'otp', 'passwordAuth'], body: { passwordAuth: { enabled: true, identityFields: ['email'] }, oauth2: { enabled: true, providers: [oidcProvider] }, mfa: { enabled: true, duration: 1800, rule: '' }, otp: { enabled: true, duration: 180, length: 8 } } });
  await call('auth-methods with mfa and otp', 'GET', '/api/collections/users/auth-methods');
  await call('create mia@example.com verified (superuser)', 'POST', '/api/collections/users/records', { token: suToken, body: { email: 'mia@example.com', password: 'mia-password-123', passwordConfirm: 'mia-password-123', verified: true } });
  const pw = await call('mia auth-with-password (first factor)', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'mia@example.com', password: 'mia-password-123' } });
  const mfaId = pw.json?.mfaId;
  await call('mia auth-with-password again with the mfaId (same method)', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'mia@example.com', password: 'mia-password-123', mfaId } });
  await call('_mfas as superuser', 'GET', '/api/collections/_mfas/records', { token: suToken });
  const mailWait = smtp.next(/^Subject: OTP/m);
  const otpReq = await call('mia request-otp', 'POST', '/api/collections/users/request-otp', { body: { email: 'mia@example.com' } });
  const mail = await mailWait;
  const text = mailText(mail.data);
  const otpCode = (text.match(/\b(\d{8})\b/) ?? [])[1];
  steps.push({ section, name: 'the OTP mail', body: {
    envelope: { from: mail.from, to: mail.to },
    subject: (mail.data.match(/^Subject: (.*)$/m) ?? [])[1],
    codeFound: Boolean(otpCode),
    codeLength: otpCode?.length,
    otpIdInMail: text.includes(otpReq.json?.otpId ?? '---'),
  } });
  process.stdout.write(`otp mail: ${JSON.stringify(steps.at(-1).body)}\n`);
  await call('request-otp for an unknown email', 'POST', '/api/collections/users/request-otp', { body: { email: 'nobody@example.com' } });
  await call('_otps as superuser', 'GET', '/api/collections/_otps/records', { token: suToken });
  await call('mia auth-with-otp with a wrong password', 'POST', '/api/collections/users/auth-with-otp', { body: { otpId: otpReq.json?.otpId, password: '00000000', mfaId } });
  await call('mia auth-with-otp with a wrong mfaId', 'POST', '/api/collections/users/auth-with-otp', { body: { otpId: otpReq.json?.otpId, password: otpCode, mfaId: 'wrongmfaid12345' } });
  const mail2 = smtp.next(/^Subject: OTP/m);
  const otpReq2 = await call('mia request-otp (again: the wrong mfaId attempt consumed the OTP)', 'POST', '/api/collections/users/request-otp', { body: { email: 'mia@example.com' } });
  const otpCode2 = (mailText((await mail2).data).match(/\b(\d{8})\b/) ?? [])[1];
  await call('mia auth-with-otp with the mfaId (second factor)', 'POST', '/api/collections/users/auth-with-otp', { body: { otpId: otpReq2.json?.otpId, password: otpCode2, mfaId } });
  await call('_mfas as superuser after the MFA completed', 'GET', '/api/collections/_mfas/records', { token: suToken });
  await call('the first OTP again (deleted when the wrong-mfaId attempt passed the OTP check)', 'POST', '/api/collections/users/auth-with-otp', { body: { otpId: otpReq.json?.otpId, password: otpCode, mfaId } });
  await call('the used mfaId again', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'mia@example.com', password: 'mia-password-123', mfaId } });

  {
    const first2 = await signIn('alice OAuth2 as first factor (MFA on)', 'alice');
    const mfa2 = first2.json?.mfaId;
    await call('alice has no password: auth-with-password as second factor fails', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'alice@example.com', password: 'whatever-123', mfaId: mfa2 } });
    await call('create nina@example.com verified with password', 'POST', '/api/collections/users/records', { token: suToken, body: { email: 'nina@example.com', password: 'nina-password-123', passwordConfirm: 'nina-password-123', verified: true }, record: false });
    const n1 = await signIn('nina OAuth2 first factor (links to the existing verified record)', 'nina');
    await call('nina password as second factor with the mfaId', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'nina@example.com', password: 'nina-password-123', mfaId: n1.json?.mfaId } });
    const n2 = await call('nina password first', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'nina@example.com', password: 'nina-password-123' } });
    const { p, code } = await getCode('nina');
    await call('nina OAuth2 second factor, mfaId in the query string', 'POST', `/api/collections/users/auth-with-oauth2?mfaId=${n2.json?.mfaId}`, { body: { provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: TEST_REDIRECT } });
  }

  await call('PATCH users: mfa rule (only emails ending @mfa.example.com)', 'PATCH', '/api/collections/users', { token: suToken, keep: ['mfa'], body: { mfa: { enabled: true, duration: 1800, rule: "email ~ '@mfa.example.com'" } } });
  await call('mia auth-with-password with the rule not matching', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'mia@example.com', password: 'mia-password-123' } });
  await call('PATCH users: mfa duration 10, rule empty', 'PATCH', '/api/collections/users', { token: suToken, keep: ['mfa'], body: { mfa: { enabled: true, duration: 10, rule: '' } } });
  {
    const a = await call('mia password first (mfa duration 10s)', 'POST', '/api/collections/users/auth-with-password', { body: { identity: 'mia@example.com', password: 'mia-password-123' } });
    await new Promise((r) => setTimeout(r, 11500));
    const mw = smtp.next(/^Subject: OTP/m);
    const o = await call('mia request-otp', 'POST', '/api/collections/users/request-otp', { body: { email: 'mia@example.com' }, record: false });
    const c = (mailText((await mw).data).match(/\b(\d{8})\b/) ?? [])[1];
    await call('mia auth-with-otp with an mfaId older than the duration (11.5 s > 10 s)', 'POST', '/api/collections/users/auth-with-otp', { body: { otpId: o.json?.otpId, password: c, mfaId: a.json?.mfaId } });
    await call('_mfas as superuser after the expired attempt', 'GET', '/api/collections/_mfas/records', { token: suToken });
  }
  await call('PATCH users: mfa rule that does not parse', 'PATCH', '/api/collections/users', { token: suToken, body: { mfa: { enabled: true, duration: 1800, rule: 'email ~~~ nonsense' } } });
  await call('PATCH users: mfa duration 5 (below min)', 'PATCH', '/api/collections/users', { token: suToken, body: { mfa: { enabled: true, duration: 5, rule: '' } } });

  note(`done against ${version} on port ${pbPort}`);
}

main();
