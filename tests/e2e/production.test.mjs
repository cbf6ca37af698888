// End-to-end in the deployed shape (issue 9): AUTH_MODE=jwt with RS256/ES256 keys from a
// JWKS endpoint (a stand-in for a Cognito user pool on 127.0.0.1, lib/idp.mjs),
// JWT_ISSUER/JWT_AUDIENCE set, Cognito-shaped ID and access tokens, claim-based
// CHANNEL_RULES, USER_INFO_CLAIMS=name,email, pusher-js signed in over JSONP, the function
// at AWS_LAMBDA_LOG_LEVEL=TRACE. The same real parts as e2e.test.mjs: pusher-js in
// headless Chromium, sockudo, the npm `pusher` library, the function under
// `cargo lambda watch`. See README.md next to this file.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  WAIT_MS,
  WORK_DIR,
  assertJsonpRefused,
  assertSubscribed,
  browserScenario,
  channelInfo,
  errors4009,
  jsonpDenial,
  loadPage,
  makeConfig,
  socketOptions,
  startStack,
  recordSentFrames,
  stopStack,
  subscribe,
  subscribesFor,
  uniq,
  waitForLog,
  waitUntil,
} from './lib/harness.mjs';
import { ISSUER, accessClaims, hsWithPublicKey, idClaims, makeUser, sign, signRaw, startUserPool } from './lib/idp.mjs';

const HANG_MS = 5000; // a refusal with no outcome after this is a hang
// The README's rules: the user's own channel, and the channels of the user's organisation.
const CHANNEL_RULES = 'private-user-{sub} private-org-{org_id}-* presence-org-{org_id}-* private-encrypted-org-{org_id}-*';

const cfg = makeConfig();
let stack; // startStack's handles
let pool; // the user pool: keys, JWKS endpoint, app clients
let sockudo;
let fn;
let pageServer;
let api;
const consoleLines = [];
// Everything the log must never hold: every token minted, every answer's auth,
// shared_secret, channel_data and user_data (as the browser got them), the secrets.
const secrets = { tokens: new Set(), answers: [] };

const alice = makeUser({ username: 'alice', name: 'Alice Liddell', email: 'alice@example.com', orgId: 'acme' });
const bob = makeUser({ username: 'bob', name: 'Bob Ross', email: 'bob@example.com', orgId: 'acme' });
const carol = makeUser({ username: 'carol', name: 'Carol Corp', email: 'carol@example.com', orgId: 'acme-corp' });
const probeUser = makeUser({ username: 'probe', name: 'Probe', email: 'probe@example.com', orgId: 'probe' });

/** A token, remembered for the log check. */
async function token(key, claims, options) {
  const t = await sign(key, claims, options);
  secrets.tokens.add(t);
  return t;
}

const idToken = (user, key = pool.keys.rs, overrides = {}) => token(key, idClaims(pool, user, overrides));

before(
  async () => {
    stack = await startStack(cfg, {
      pageServers: 1,
      prepare: async ({ closers }) => {
        pool = await startUserPool();
        closers.push(() => pool.close());
      },
      fn: ({ pages }) => ({
        allowedOrigins: [pages[0].origin],
        env: {
          AUTH_MODE: 'jwt',
          JWT_ALGORITHMS: 'RS256,ES256',
          JWT_SECRET: undefined,
          JWT_JWKS_URL: pool.jwksUrl,
          JWT_ISSUER: ISSUER,
          JWT_AUDIENCE: pool.clientId,
          USER_INFO_CLAIMS: 'name,email',
          CHANNEL_RULES,
          AWS_LAMBDA_LOG_LEVEL: 'TRACE',
        },
        // ES256: the RSA key is rotated mid-run, the probe must keep working.
        probeToken: async () => token(pool.keys.es, idClaims(pool, probeUser, { exp: Math.floor(Date.now() / 1000) + 3600 })),
        probeChannel: `private-user-${probeUser.sub}`,
      }),
    });
    ({ sockudo, fn, api } = stack);
    [pageServer] = stack.pages;
    console.log(`# function ready after ${fn.readyAfterMs} ms; work dir ${WORK_DIR}`);
    console.log(`# JWT_JWKS_URL=${pool.jwksUrl} JWT_ISSUER=${ISSUER} JWT_AUDIENCE=${pool.clientId}`);
    console.log(`# CHANNEL_RULES="${CHANNEL_RULES}"`);
  },
  { timeout: 420_000 },
);

after(() => stopStack(stack));

// ---------------------------------------------------------------------------
// helpers

const baseOptions = () => socketOptions(sockudo);

/** pusher-js 8: channelAuthorization and userAuthentication. */
function options8(transport) {
  return {
    ...baseOptions(),
    channelAuthorization: { endpoint: fn.authEndpoint, transport },
    userAuthentication: { endpoint: fn.userAuthEndpoint, transport },
  };
}

/** pusher-js 7 configured the older way, plus userAuthentication for signin. */
function options7() {
  return {
    ...baseOptions(),
    authTransport: 'jsonp',
    authEndpoint: fn.authEndpoint,
    auth: {},
    userAuthentication: { endpoint: fn.userAuthEndpoint, transport: 'jsonp' },
  };
}

function scenario(name, body, timeout) {
  browserScenario(name, { stack: () => stack, consoleLines, timeout }, ({ newContext, note }) => {
    const open = async (label, { version = 8 } = {}) => {
      const context = await newContext();
      // Every answer of the function as the browser got it.
      const answers = [];
      context.on('response', async (res) => {
        const req = res.request();
        if (!res.url().startsWith(`${fn.base}/`) || req.method() === 'OPTIONS') return;
        // JSONP sends its parameters in the query, AJAX in the form body.
        const params = req.method() === 'POST' ? new URLSearchParams(req.postData() || '') : new URL(res.url()).searchParams;
        const route = new URL(res.url()).pathname.replace(/.*\/pusher\//, '');
        const entry = { url: res.url(), route, channel: params.get('channel_name'), status: res.status() };
        answers.push(entry);
        entry.body = await res.text().catch(() => '');
        secrets.answers.push(entry.body);
      });
      // Every frame the page sends to sockudo (to prove a refused channel sends no subscribe).
      const frames = [];
      const page = await loadPage(context, consoleLines, label, `${pageServer.origin}/v${version}.html`, {
        version,
        beforeGoto: (p) => recordSentFrames(p, frames),
      });
      return { page, context, label, answers, frames };
    };
    return body({ open, note });
  });
}

/**
 * Connects client `id` with `token` in a params object the page keeps
 * (window.E2E_PARAMS[id]): pusher-js reads it at every request, so `setToken`
 * changes the token the next request carries.
 */
async function connect(page, id, options, tokenValue) {
  const r = await page.evaluate(
    ([i, key, o, tok, t]) => {
      window.E2E_PARAMS = window.E2E_PARAMS || {};
      const params = { token: tok };
      window.E2E_PARAMS[i] = params;
      for (const name of ['channelAuthorization', 'userAuthentication', 'auth']) if (o[name]) o[name].params = params;
      return window.E2E.connect(i, key, o, t);
    },
    [id, cfg.key, options, tokenValue, WAIT_MS],
  );
  assert.equal(r.outcome, 'connected', `${id} connects to sockudo: ${JSON.stringify(r)}`);
  return r.detail.socketId;
}

function setToken(page, id, tokenValue) {
  return page.evaluate(([i, tok]) => {
    window.E2E_PARAMS[i].token = tok;
    // pusher-js 4 deep-copies its options when constructed: change its own copy of auth.params too.
    const config = window.E2E.client(i).config;
    if (config && config.auth && config.auth.params && config.auth.params !== window.E2E_PARAMS[i]) config.auth.params.token = tok;
  }, [id, tokenValue]);
}

function signin(page, id, timeoutMs = WAIT_MS) {
  return page.evaluate(([i, t]) => window.E2E.signin(i, t), [id, timeoutMs]);
}

const state = async (page, id) => (await page.evaluate((i) => window.E2E.state(i), id)).state;

/** Triggers an event on `channel` and waits for client `id` of `page` to receive it. */
async function assertReceives(page, id, channel, what) {
  const marker = uniq();
  await api.trigger(channel, 'still-here', { marker });
  await waitForLog(page, `${what}: ${id} receives an event on ${channel}`, (e) =>
    e.client === id && e.kind === 'channel' && e.detail.channel === channel && e.detail.event === 'still-here' && e.detail.data && e.detail.data.marker === marker);
}

/** The function's answer to the request for `channel` (or the latest user-auth answer). */
async function answerFor(answers, { channel, route = 'auth', after = 0 }) {
  return waitUntil(`the function's answer for ${channel || route}`, 5000, async () =>
    answers.slice(after).find((a) => a.route === route && a.body !== undefined && (!channel || a.channel === channel)));
}

/**
 * A refused channel as the page sees it: `pusher:subscription_error` on that channel, with
 * the status (AJAX: pusher-js's own error) or with the endpoint's code and status (JSONP:
 * the denial script emits it, README "Answers to refusals").
 */
function assertRefusedOnPage(r, { transport, code, status, what }) {
  assert.notEqual(r.outcome, 'timeout', `${what}: the page learns of the refusal: ${JSON.stringify(r)}`);
  assert.equal(r.subscribed, false, what);
  if (transport === 'ajax') {
    assert.equal(r.outcome, 'subscription_error', `${what}: ${JSON.stringify(r)}`);
    assert.equal(r.detail.status, status, `${what}: pusher-js reports ${JSON.stringify(r.detail)}`);
  } else {
    assertJsonpRefused(r, { code, status, what });
  }
}

/** The JSONP denial `answer` is for `channel` on `socketId`, with pusher-js's callback and the error. */
function assertDenialAnswer(answer, { socketId, channel, code, status, kind, what }) {
  assert.equal(answer.status, 200, what);
  const denial = jsonpDenial(answer.body);
  assert.ok(denial, `${what}: the channel denial script: ${answer.body}`);
  assert.equal(denial.socketId, socketId, what);
  assert.equal(denial.channel, channel, what);
  assert.equal(denial.callback, new URL(answer.url).searchParams.get('callback'), what);
  assert.deepEqual(denial.error, kind === 'presence' ? { error: code, status, channel_data: '{}' } : { error: code, status }, what);
}

/**
 * After the refusals on client `id`: no `pusher:error` 4009 reached it (a quiet moment
 * first, for one that would follow the last refusal) and no `pusher:subscribe` was sent
 * for any refused channel.
 */
async function assertNothingSentFor(page, frames, id, refused, what) {
  await new Promise((ok) => setTimeout(ok, 500));
  assert.deepEqual(await errors4009(page, id), [], `${what}: no pusher:error 4009`);
  for (const channel of refused) {
    assert.deepEqual(subscribesFor(frames, channel), [], `${what}: no pusher:subscribe sent for ${channel}`);
  }
}

const JSONP_PREFIX = /^\/\*\*\/typeof (Pusher\.auth_callbacks\['\d+'\]) === 'function' && \1\((.*)\);$/s;

/** The JSON a JSONP answer passes to pusher-js. */
function jsonpPayload(body) {
  const m = JSONP_PREFIX.exec(body);
  assert.ok(m, `a JSONP answer calling pusher-js's callback: ${body}`);
  return JSON.parse(m[2]);
}

// ---------------------------------------------------------------------------
// Scenario 1: the deployed shape working: signin, private, presence, encrypted.

scenario('production: signed-in pusher-js 8 over JSONP: signin, sendToUser, private, presence with claims, encrypted', async ({ open }) => {
  const a = await open('alice');
  const b = await open('bob');
  await connect(a.page, 'alice', options8('jsonp'), await idToken(alice, pool.keys.rs));
  await connect(b.page, 'bob', options8('jsonp'), await idToken(bob, pool.keys.es));

  // signin: user_data from the ID token's claims, honoured by sockudo.
  for (const [page, id, user] of [[a.page, 'alice', alice], [b.page, 'bob', bob]]) {
    const s = await signin(page, id);
    assert.equal(s.outcome, 'signin_success', `${id} signs in: ${JSON.stringify(s)}`);
    assert.deepEqual(s.userData, { id: user.sub, user_info: { name: user.name, email: user.email } });
  }
  const hello = uniq();
  await api.sendToUser(alice.sub, 'direct', { hello });
  const direct = await waitForLog(a.page, 'alice to get sendToUser', (e) => e.kind === 'user' && e.detail.event === 'direct');
  assert.deepEqual(direct.detail.data, { hello });

  // private: the user's own channel ({sub}, a UUID with '-').
  const own = `private-user-${alice.sub}`;
  assertSubscribed(await subscribe(a.page, 'alice', own), own);
  await assertReceives(a.page, 'alice', own, 'own private channel');

  // presence: each member sees the other's user_info (name, email from the ID token).
  const room = `presence-org-acme-${uniq()}`;
  let r = await subscribe(a.page, 'alice', room);
  assertSubscribed(r, `alice joins ${room}`);
  assert.deepEqual(r.detail.members.me, { id: alice.sub, info: { name: alice.name, email: alice.email } });
  r = await subscribe(b.page, 'bob', room);
  assertSubscribed(r, `bob joins ${room}`);
  assert.deepEqual(r.detail.members.members, {
    [alice.sub]: { name: alice.name, email: alice.email },
    [bob.sub]: { name: bob.name, email: bob.email },
  });
  const added = await waitForLog(a.page, 'alice to see bob added', (e) =>
    e.kind === 'channel' && e.detail.channel === room && e.detail.event === 'pusher:member_added' && e.detail.data.id === bob.sub);
  assert.deepEqual(added.detail.data.info, { name: bob.name, email: bob.email });

  // encrypted: the npm `pusher` library encrypts with the master key, the page decrypts.
  const vault = `private-encrypted-org-acme-${uniq()}`;
  assertSubscribed(await subscribe(a.page, 'alice', vault), vault);
  const message = { text: `for acme only ${uniq()}` };
  await api.trigger(vault, 'sealed', message);
  const got = await waitForLog(a.page, 'alice to decrypt the event', (e) => e.kind === 'channel' && e.detail.channel === vault && e.detail.event === 'sealed');
  assert.deepEqual(got.detail.data, message);
  const answer = jsonpPayload((await answerFor(a.answers, { channel: vault })).body);
  assert.match(answer.shared_secret, /^[A-Za-z0-9+/]{43}=$/, 'the answer carried the shared secret');
});

// ---------------------------------------------------------------------------
// Scenario 2: Cognito access tokens (client_id, no aud) are accepted for this client.

scenario('production: a Cognito access token for this app client (client_id, no aud) signs private and presence', async ({ open }) => {
  const { page } = await open('access-token');
  await connect(page, 'c', options8('jsonp'), await token(pool.keys.rs, accessClaims(pool, alice)));
  const own = `private-user-${alice.sub}`;
  assertSubscribed(await subscribe(page, 'c', own), `${own} with an access token`);
  await assertReceives(page, 'c', own, 'access token');
});

// ---------------------------------------------------------------------------
// Scenario 3: every hole of issue 9 as a refusal the page sees, on a connection that
// keeps working (state connected, an already-subscribed channel still gets events).

const now = () => Math.floor(Date.now() / 1000);
const HOLES = [
  { name: 'ID token without aud', make: () => token(pool.keys.rs, idClaims(pool, alice), { drop: ['aud'] }) },
  { name: 'ID token with aud null', make: () => idToken(alice, pool.keys.rs, { aud: null }) },
  { name: "ID token for another app client's aud", make: () => idToken(alice, pool.keys.rs, { aud: pool.otherClientId }) },
  { name: 'access token of another app client (client_id)', make: () => token(pool.keys.es, accessClaims(pool, alice, { client_id: pool.otherClientId })) },
  { name: 'token_use refresh', make: () => idToken(alice, pool.keys.rs, { token_use: 'refresh' }) },
  { name: 'access token without client_id', make: () => token(pool.keys.rs, accessClaims(pool, alice), { drop: ['client_id'] }) },
  { name: 'token without iss', make: () => token(pool.keys.rs, idClaims(pool, alice), { drop: ['iss'] }) },
  { name: 'token with iss null', make: () => idToken(alice, pool.keys.rs, { iss: null }) },
  { name: 'token from another user pool (iss)', make: () => idToken(alice, pool.keys.rs, { iss: `${ISSUER}x` }) },
  {
    name: 'crit header',
    make: async () => {
      const t = await signRaw(pool.keys.rs, { alg: 'RS256', kid: pool.keys.rs.kid, typ: 'JWT', crit: ['x-tenant'], 'x-tenant': 'acme' }, idClaims(pool, alice));
      secrets.tokens.add(t);
      return t;
    },
  },
  {
    name: 'HS256 signed with the RSA public key (alg confusion)',
    make: async () => {
      const t = await hsWithPublicKey(pool, idClaims(pool, alice));
      secrets.tokens.add(t);
      return t;
    },
  },
  // Not a hole; its own public code so that pages can refresh the token.
  { name: 'expired ID token', make: () => idToken(alice, pool.keys.rs, { iat: now() - 7200, exp: now() - 3600 }), code: 'token_expired' },
];
const KINDS = {
  private: (org) => `private-org-${org}-${uniq()}`,
  presence: (org) => `presence-org-${org}-${uniq()}`,
  encrypted: (org) => `private-encrypted-org-${org}-${uniq()}`,
};

for (const transport of ['jsonp', 'ajax']) {
  scenario(`production (${transport}): every token hole and the cross-tenant channel are refusals that leave the connection working`, async ({ open, note }) => {
    const { page, answers, frames } = await open(`holes-${transport}`);
    const good = await idToken(alice, pool.keys.rs);
    const socketId = await connect(page, 'c', options8(transport), good);
    const refused = [];
    if (transport === 'jsonp') {
      const s = await signin(page, 'c');
      assert.equal(s.outcome, 'signin_success', `signin: ${JSON.stringify(s)}`);
    }
    const anchor = `private-user-${alice.sub}`;
    assertSubscribed(await subscribe(page, 'c', anchor), anchor);

    const cases = [
      ...HOLES.map((h) => ({ org: 'acme', status: 401, code: 'unauthenticated', ...h })),
      // A claim value holding the character after its placeholder: org "acme-corp" would
      // otherwise share channel names with org "acme" (private-…-org-acme-corp-x).
      { name: 'org acme-corp asks for its channels under the ambiguous rules', make: () => idToken(carol, pool.keys.rs), org: 'acme-corp', status: 403, code: 'forbidden' },
    ];
    for (const hole of cases) {
      await setToken(page, 'c', await hole.make());
      for (const [kind, channelOf] of Object.entries(KINDS)) {
        const channel = channelOf(hole.org);
        const what = `${hole.name}, ${kind} ${channel}`;
        const since = answers.length;
        const r = await subscribe(page, 'c', channel, HANG_MS);
        note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
        assertRefusedOnPage(r, { transport, code: hole.code, status: hole.status, what });
        refused.push(channel);
        const answer = await answerFor(answers, { channel, after: since });
        if (transport === 'jsonp') {
          assertDenialAnswer(answer, { socketId, channel, code: hole.code, status: hole.status, kind, what });
        } else {
          assert.deepEqual([answer.status, JSON.parse(answer.body)], [hole.status, { error: hole.code, status: hole.status }], what);
        }
        assert.equal((await channelInfo(api, channel)).occupied, false, `${what}: sockudo has no subscriber`);
        assert.equal(await state(page, 'c'), 'connected', `${what}: still connected`);
      }
      await assertReceives(page, 'c', anchor, hole.name);
    }
    await assertNothingSentFor(page, frames, 'c', refused, transport);
  });
}

// ---------------------------------------------------------------------------
// Scenario 4 (hole 8, issue 23): JSONP refusals with pusher-js 8.6, 7.6 and 4.4, on
// connections that signed in, that did not, and whose signin was refused (pusher-js 4 has no
// signin): each refused private, presence and encrypted channel gets
// `pusher:subscription_error` with the endpoint's code within 2 s, nothing is sent to sockudo
// for it (no subscribe, no 4009), a second subscribe asks the function again, a refusal for an
// expired token is signed once the token is refreshed, and the connection and its other
// channels keep working. See README ("Answers to refusals") for the answers chosen.

const MODES = { 8: ['signed in', 'not signed in', 'signin refused'], 7: ['signed in', 'not signed in', 'signin refused'], 4: ['not signed in'] };

for (const version of [8, 7, 4]) {
  scenario(`production (pusher-js ${version}, JSONP): refused channels fire subscription_error, ask again, leave the connection working, signed in or not`, async ({ open, note }) => {
    const { page, answers, frames } = await open(`hole8-v${version}`, { version });
    const opts = version === 8 ? options8('jsonp') : options7();
    const good = await idToken(alice, pool.keys.rs);
    const bad = await idToken(alice, pool.keys.rs, { aud: pool.otherClientId });
    const expired = await idToken(alice, pool.keys.rs, { iat: now() - 7200, exp: now() - 3600 });
    for (const mode of MODES[version]) {
      const id = mode.replace(/\W+/g, '-');
      const socketId = await connect(page, id, opts, good);
      const anchor = `private-user-${alice.sub}`;
      assertSubscribed(await subscribe(page, id, anchor), `${mode}: ${anchor}`);
      if (mode === 'signed in') {
        const s = await signin(page, id);
        assert.equal(s.outcome, 'signin_success', `${mode}: ${JSON.stringify(s)}`);
      }
      if (mode === 'signin refused') {
        const sockudoMark = sockudo.child.logSize();
        const since = answers.length;
        await setToken(page, id, bad);
        // The answer is a script that never calls pusher-js's callback: pusher-js sends no
        // pusher:signin, so the server has nothing to refuse and the connection stays. It
        // emits pusher:signin_error on that connection's pusher.user instead.
        const isSignin = (f) => f.event === 'pusher:signin';
        const signinsBefore = frames.filter(isSignin).length; // the signed-in connection's
        await page.evaluate((i) => {
          window.Pusher.instances.find((p) => p.connection.socket_id === window.E2E.state(i).socketId).signin();
        }, id);
        const answer = await answerFor(answers, { route: 'user-auth', after: since });
        assert.equal(answer.status, 200);
        const m = /^\/\*\*\/\(function\(s,k,e\)\{[^"<]*\}\)\((.*)\);$/s.exec(answer.body);
        assert.ok(m, `the signin denial script: ${answer.body}`);
        const callback = new URL(answer.url).searchParams.get('callback');
        assert.deepEqual(JSON.parse(`[${m[1]}]`), [socketId, /'(\d+)'/.exec(callback)[1], { error: 'unauthenticated', status: 401 }], answer.body);
        const signinError = await waitForLog(page, `${mode}: pusher:signin_error on pusher.user`, (e) =>
          e.client === id && e.kind === 'user' && e.detail.event === 'pusher:signin_error');
        assert.deepEqual(signinError.detail.data, { type: 'AuthError', error: 'unauthenticated', status: 401 }, JSON.stringify(signinError));
        assert.equal(frames.filter(isSignin).length, signinsBefore, `${mode}: no pusher:signin frame sent`);
        await setToken(page, id, good);
        // A presence channel after the refused signin: its answer has channel_data, so
        // pusher-js does not wait for the signin that never completes.
        const room = `presence-org-acme-${uniq()}`;
        const r = await subscribe(page, id, room);
        assertSubscribed(r, `${mode}: ${room}`);
        assert.deepEqual(r.detail.members.me, { id: alice.sub, info: { name: alice.name, email: alice.email } });
        assert.equal(await page.evaluate((i) => {
          const p = window.Pusher.instances.find((x) => x.connection.socket_id === window.E2E.state(i).socketId);
          return p.user.user_data;
        }, id), null, `${mode}: pusher-js is not signed in`);
        const signinLines = sockudo.child.logSince(sockudoMark).split('\n').filter((l) => l.includes(socketId) && /signin|signed in/i.test(l));
        assert.deepEqual(signinLines, [], `${mode}: sockudo got no pusher:signin from ${socketId}`);
      }
      const refused = [];
      for (const [kind, channelOf] of Object.entries(KINDS)) {
        // A channel of another org: refused, and refused again when subscribed again (the
        // second subscribe asks the function again: pusher-js no longer thinks it pending).
        const channel = channelOf('globex');
        refused.push(channel);
        for (const attempt of [1, 2]) {
          const what = `pusher-js ${version}, ${mode}: ${kind} ${channel}, attempt ${attempt}`;
          const since = answers.length;
          const r = await subscribe(page, id, channel, HANG_MS);
          note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
          assertJsonpRefused(r, { code: 'forbidden', status: 403, what });
          assertDenialAnswer(await answerFor(answers, { channel, after: since }), { socketId, channel, code: 'forbidden', status: 403, kind, what });
          assert.equal(answers.filter((a) => a.channel === channel).length, attempt, `${what}: asked the function ${attempt} time(s)`);
          assert.deepEqual(await page.evaluate(([i, c]) => window.E2E.channelState(i, c), [id, channel]).then((c) => [c.subscribed, c.pending]), [false, false], what);
          assert.equal(await state(page, id), 'connected', `${what}: still connected`);
        }
        assert.equal((await channelInfo(api, channel)).occupied, false, `${channel}: sockudo has no subscriber`);
        // The org's own channel with an expired token: token_expired, then signed on the next
        // subscribe once the page has a fresh token.
        const own = channelOf('acme');
        const what = `pusher-js ${version}, ${mode}: ${kind} ${own}`;
        await setToken(page, id, expired);
        let since = answers.length;
        let r = await subscribe(page, id, own, HANG_MS);
        note(`${what}, expired token: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
        assertJsonpRefused(r, { code: 'token_expired', status: 401, what: `${what}, expired token` });
        assertDenialAnswer(await answerFor(answers, { channel: own, after: since }), { socketId, channel: own, code: 'token_expired', status: 401, kind, what });
        await setToken(page, id, good);
        since = answers.length;
        r = await subscribe(page, id, own);
        assertSubscribed(r, `${what}, refreshed token`);
        assert.ok(jsonpPayload((await answerFor(answers, { channel: own, after: since })).body).auth, `${what}: signed`);
        const sent = subscribesFor(frames, own);
        assert.equal(sent.length, 1, `${what}: one pusher:subscribe, the signed one: ${JSON.stringify(sent)}`);
        assert.match(sent[0].data.auth, /^[^:]+:[0-9a-f]{64}$/, `${what}: the subscribe is signed`);
      }
      await assertNothingSentFor(page, frames, id, refused, `pusher-js ${version}, ${mode}`);
      await assertReceives(page, id, anchor, `pusher-js ${version}, ${mode}`);
      assert.equal(await state(page, id), 'connected', `pusher-js ${version}, ${mode}: still connected at the end`);
    }
  });
}

// ---------------------------------------------------------------------------
// Scenario 5: the pool rotates its RSA key; a token signed with the new key (new kid)
// is accepted once the function fetches the JWKS again (it refetches for an unknown kid,
// at most once a minute).

scenario('production: JWKS key rotation mid-run: a token with the new kid is accepted after the refetch', async ({ open, note }) => {
  const { page } = await open('rotation');
  const requestsBefore = pool.jwksRequests;
  assert.ok(requestsBefore >= 1, 'the function fetched the JWKS');
  const fresh = await pool.rotateRsa();
  const rotated = await idToken(alice, fresh);
  assert.notEqual(fresh.kid, pool.keys.rsOld.kid);
  // Node-side JSONP until the function has refetched (bounded by its refetch interval).
  const channel = `private-user-${alice.sub}`;
  const started = Date.now();
  await waitUntil('the function to accept a token signed with the rotated key', 120_000, async () => {
    const url = `${fn.authEndpoint}?callback=${encodeURIComponent("Pusher.auth_callbacks['0']")}&socket_id=1.1&channel_name=${channel}&token=${rotated}`;
    const body = await (await fetch(url)).text();
    secrets.answers.push(body);
    return body.includes('"auth":');
  }, 2000);
  note(`accepted after ${Date.now() - started} ms; JWKS requests ${requestsBefore} -> ${pool.jwksRequests}`);
  assert.ok(pool.jwksRequests > requestsBefore, 'the function fetched the JWKS again');
  await connect(page, 'c', options8('jsonp'), rotated);
  assertSubscribed(await subscribe(page, 'c', channel), `${channel} with the new key`);
  const s = await signin(page, 'c');
  assert.equal(s.outcome, 'signin_success', JSON.stringify(s));
});

// ---------------------------------------------------------------------------
// Scenario 6 (hole 3): the function ran at AWS_LAMBDA_LOG_LEVEL=TRACE all along; its log
// (stdout and stderr, as cargo lambda watch passes them on) holds none of what it signed
// or was sent.

scenario('production: at AWS_LAMBDA_LOG_LEVEL=TRACE the log holds no signature, shared secret, token, secret or raw query', async () => {
  // What the function wrote, after scripts/run-local.sh's banner (its example curl
  // commands and pusher-js snippets, printed before `cargo lambda watch` starts).
  const whole = fn.child.log();
  assert.ok(whole.includes('==> Serving the pusher-auth function'), 'the log holds the banner');
  const bannerEnd = whole.indexOf('\n\n', whole.indexOf('pusher-js over AJAX'));
  assert.ok(bannerEnd > 0, 'the banner ends');
  const log = whole.slice(bannerEnd);
  assert.ok(secrets.answers.length >= 20, `answers collected: ${secrets.answers.length}`);
  assert.ok(log.includes('"route":"channel-auth"') && log.includes('"route":"user-auth"'), 'the function logged its requests');
  const leaks = [];
  // As written, and JSON-escaped once or twice (a value inside a logged JSON string).
  const check = (what, value) => {
    if (!value || value.length < 8) return;
    const once = JSON.stringify(value).slice(1, -1);
    const twice = JSON.stringify(once).slice(1, -1);
    if ([value, once, twice].some((form) => log.includes(form))) leaks.push(what);
  };
  check('PUSHER_SECRET', cfg.secret);
  check('encryption master key', cfg.masterKeyBase64);
  for (const t of secrets.tokens) {
    for (const part of t.split('.')) check(`a token part (${part.slice(0, 12)}…)`, part);
  }
  for (const body of secrets.answers) {
    const m = JSONP_PREFIX.exec(body);
    let payload;
    try {
      payload = m ? JSON.parse(m[2]) : JSON.parse(body);
    } catch {
      continue;
    }
    if (payload.auth) check(`an auth signature (${payload.auth.slice(0, 20)}…)`, payload.auth.split(':')[1]);
    if (payload.shared_secret) check('a shared_secret', payload.shared_secret);
    if (payload.channel_data) check('a channel_data', payload.channel_data.length > 8 ? payload.channel_data : undefined);
    if (payload.user_data) check('a user_data', payload.user_data);
  }
  for (const raw of ['socket_id=', 'callback=', 'channel_name=', 'token=', 'auth_callbacks%5B']) {
    if (log.includes(raw)) leaks.push(`raw query text ${raw}`);
  }
  assert.deepEqual([...new Set(leaks)], [], `the function's TRACE log leaks (log in ${WORK_DIR}/function.log)`);
});
