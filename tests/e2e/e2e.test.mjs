// End-to-end: the real pusher-js (8.x and 7.x) in headless Chromium, the sockudo
// Pusher-protocol server, the official npm `pusher` server library, and the
// function itself served by `cargo lambda watch` (scripts/run-local.sh). The only
// code of ours on the wire is the function; this file and page/page.js only drive
// and observe. See README.md next to this file.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  CHANNEL_RULES,
  WAIT_MS,
  WORK_DIR,
  assertSubscribed,
  browserScenario,
  channelInfo,
  jsonLines,
  loadPage,
  makeConfig,
  mintToken,
  pageLog,
  presenceUsers,
  socketOptions,
  startStack,
  stopStack,
  subscribe,
  uniq,
  waitForLog,
  waitUntil,
  assertJsonpRefused,
  errors4009,
  jsonpDenial,
} from './lib/harness.mjs';

const REFUSAL_BOUND_MS = 2000; // the issue: a refusal reaches the page within 2 s
const HANG_MS = 5000; // a refused subscription with no outcome after this is a hang

const cfg = makeConfig();
let stack; // startStack's handles
let sockudo;
let fn;
let gw; // the API Gateway REST API stage (mapping templates) in front of `fn`
let pageA; // origin listed in ALLOWED_ORIGINS
let pageB; // another origin, not listed
let api; // the official npm `pusher` server library, talking to sockudo's HTTP API
const consoleLines = [];

before(
  async () => {
    stack = await startStack(cfg, {
      pageServers: 2,
      fn: ({ pages }) => ({ allowedOrigins: [pages[0].origin] }),
      gateway: ({ pages }) => ({
        stage: 'staging',
        // As template.yaml sets them (PUSHER_SECRET_ID left out: the secret comes from the
        // function's environment here, not from Secrets Manager).
        stageVariables: { PUSHER_APP_ID: cfg.appId, PUSHER_KEY: cfg.key, PUSHER_CLUSTER: 'mt1', ALLOWED_ORIGINS: pages[0].origin },
        // Not the integration's 11 s: a request can wait for cargo lambda watch to rebuild.
        integrationTimeoutMs: WAIT_MS,
      }),
    });
    ({ sockudo, fn, gw, api } = stack);
    [pageA, pageB] = stack.pages;
    console.log(`# function ready after ${fn.readyAfterMs} ms; work dir ${WORK_DIR}`);
    console.log(`# CHANNEL_RULES="${CHANNEL_RULES}"; ALLOWED_ORIGINS=${pageA.origin}; other origin ${pageB.origin}`);
    console.log(`# API Gateway stage (mapping templates) at ${gw.base}`);
  },
  { timeout: 420_000 },
);

// Everything started in `before`, stopped even when a scenario failed.
after(() => stopStack(stack));

// ---------------------------------------------------------------------------
// helpers

const baseOptions = () => socketOptions(sockudo);

/** pusher-js 8 options: channelAuthorization / userAuthentication with the token in `params`. */
function options8(transport, token, extraParams = {}) {
  const params = token === undefined ? { ...extraParams } : { token, ...extraParams };
  return {
    ...baseOptions(),
    channelAuthorization: { endpoint: fn.authEndpoint, transport, params },
    userAuthentication: { endpoint: fn.userAuthEndpoint, transport, params },
  };
}

/** pusher-js 7 configured the older way. */
function options7(token) {
  return { ...baseOptions(), authTransport: 'jsonp', authEndpoint: fn.authEndpoint, auth: { params: { token } } };
}

/**
 * A scenario: its own browser contexts, closed afterwards; on failure prints the
 * browser console, the function's log and sockudo's log from this scenario.
 */
function scenario(name, body, timeout) {
  browserScenario(name, { stack: () => stack, consoleLines, timeout }, ({ newContext, note }) => {
    const open = async (label, { origin = pageA.origin, version = 8 } = {}) => {
      const context = await newContext();
      const page = await loadPage(context, consoleLines, label, `${origin}/v${version}.html`, { version });
      return { page, context, label };
    };
    return body({ open, note });
  });
}

async function connect(page, id, options) {
  const r = await page.evaluate(([i, key, o, t]) => window.E2E.connect(i, key, o, t), [id, cfg.key, options, WAIT_MS]);
  assert.equal(r.outcome, 'connected', `${id} connects to sockudo: ${JSON.stringify(r)}`);
  assert.match(r.detail.socketId, /^\d+\.\d+$/);
  return r.detail.socketId;
}

/** The function's own log line for this request: which transport pusher-js used, and the decision. */
async function functionLogged(since, { transport, channel, decision = 'allowed' }) {
  return waitUntil(`the function to log ${decision} ${transport} ${channel}`, 5000, async () =>
    jsonLines(fn.child.logSince(since))
      .find((e) => e.transport === transport && e.channel === channel && e.decision === decision));
}

// ---------------------------------------------------------------------------
// Scenarios 1–4: private, presence and encrypted channels over JSONP and over AJAX.

for (const transport of ['jsonp', 'ajax']) {
  scenario(`${transport}: private channel subscribes`, async ({ open }) => {
    const { page } = await open('private');
    const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Private Person' });
    await connect(page, 'c', options8(transport, token));
    const since = fn.child.logSize();
    const channel = `private-allowed-${uniq()}`;
    assertSubscribed(await subscribe(page, 'c', channel), channel);
    assert.equal((await channelInfo(api, channel)).occupied, true, 'sockudo has the subscriber');
    await functionLogged(since, { transport, channel });
  });

  scenario(`${transport}: presence channel shows the validated user and user_info from the token`, async ({ open }) => {
    const { page } = await open('presence');
    const sub = `alice-${uniq()}`;
    const token = await mintToken(cfg, { sub, name: 'Alice Example' });
    // Identity comes from the token only: user_id / user_info sent by the client are ignored.
    const spoof = { user_id: 'mallory', user_info: JSON.stringify({ name: 'Mallory' }) };
    await connect(page, 'c', options8(transport, token, spoof));
    const since = fn.child.logSize();
    const channel = `presence-room-${uniq()}`;
    const r = await subscribe(page, 'c', channel);
    assertSubscribed(r, channel);
    await functionLogged(since, { transport, channel });
    assert.deepEqual(r.detail.members.me, { id: sub, info: { name: 'Alice Example' } });
    assert.deepEqual(r.detail.members.members, { [sub]: { name: 'Alice Example' } });
    assert.equal(r.detail.members.count, 1);
    assert.deepEqual(await presenceUsers(api, channel), [sub], 'sockudo lists the user');
  });

  scenario(`${transport}: encrypted channel subscribes and decrypts an event sent by the npm pusher library`, async ({ open }) => {
    const { page } = await open('encrypted');
    const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Cipher' });
    await connect(page, 'c', options8(transport, token));
    const since = fn.child.logSize();
    const channel = `private-encrypted-room-${uniq()}`;
    assertSubscribed(await subscribe(page, 'c', channel), channel);
    await functionLogged(since, { transport, channel });
    const payload = { text: `secret ${uniq()}`, n: 42, nested: { ok: true, list: [1, 'two'] } };
    const res = await api.trigger(channel, 'secret-event', payload);
    assert.equal(res.status, 200);
    const got = await waitForLog(
      page,
      'the encrypted event in the browser',
      (e) => e.kind === 'channel' && e.detail.channel === channel && e.detail.event === 'secret-event',
    );
    assert.deepEqual(got.detail.data, payload, 'decrypted payload equals what was sent');
  });
}

// ---------------------------------------------------------------------------
// Scenario 5: user authentication (pusher.signin()) over JSONP and AJAX; sockudo
// knows the user id: it delivers sendToUser() to that user only and
// terminateUserConnections() disconnects that user only.

for (const transport of ['jsonp', 'ajax']) {
  scenario(`${transport}: signin succeeds and sockudo knows the user id`, async ({ open }) => {
    const { page } = await open('signin');
    const alice = `alice-${uniq()}`;
    const bob = `bob-${uniq()}`;
    await connect(page, 'alice', options8(transport, await mintToken(cfg, { sub: alice, name: 'Alice' })));
    await connect(page, 'bob', options8(transport, await mintToken(cfg, { sub: bob, name: 'Bob' })));
    for (const [id, sub, name] of [['alice', alice, 'Alice'], ['bob', bob, 'Bob']]) {
      const r = await page.evaluate(([i, t]) => window.E2E.signin(i, t), [id, WAIT_MS]);
      assert.equal(r.outcome, 'signin_success', `${id} signs in: ${JSON.stringify(r)}`);
      assert.deepEqual(JSON.parse(r.detail.user_data), { id: sub, user_info: { name } });
      assert.deepEqual(r.userData, { id: sub, user_info: { name } }, 'pusher-js holds the user data');
    }

    // sendToUser: each message reaches its user's connection and not the other's.
    assert.equal((await api.sendToUser(alice, 'direct', { to: alice })).status, 200);
    assert.equal((await api.sendToUser(bob, 'direct', { to: bob })).status, 200);
    const isDirect = (id) => (e) => e.client === id && e.kind === 'user' && e.detail.event === 'direct';
    const toAlice = await waitForLog(page, 'alice to receive her message', isDirect('alice'));
    const toBob = await waitForLog(page, 'bob to receive his message', isDirect('bob'));
    assert.deepEqual(toAlice.detail.data, { to: alice });
    assert.deepEqual(toBob.detail.data, { to: bob });
    const direct = (await pageLog(page)).filter((e) => e.kind === 'user' && e.detail.event === 'direct');
    assert.equal(direct.length, 2, `exactly one message each: ${JSON.stringify(direct)}`);

    // terminateUserConnections: sockudo closes alice's connection (4009), bob stays connected.
    assert.equal((await api.terminateUserConnections(alice)).status, 200);
    const closed = await waitForLog(
      page,
      "alice's connection to be closed by sockudo",
      (e) => e.client === 'alice' && e.kind === 'connection-error' && e.detail.data && e.detail.data.code === 4009,
    );
    assert.equal(closed.detail.type, 'PusherError');
    await waitUntil('alice to be disconnected', WAIT_MS, async () =>
      (await page.evaluate(() => window.E2E.state('alice'))).state === 'disconnected');
    assert.equal((await page.evaluate(() => window.E2E.state('bob'))).state, 'connected', 'bob is still connected');
    assert.equal((await api.sendToUser(bob, 'direct', { to: bob, again: true })).status, 200);
    await waitForLog(page, 'bob to still receive messages', (e) => isDirect('bob')(e) && e.detail.data.again === true);
  });
}

// ---------------------------------------------------------------------------
// Scenario 6: refusals reach the page within 2 s and nothing subscribes.

const REFUSALS = [
  { name: 'no token', token: async () => undefined, channel: (kind) => `${kind}-${uniq()}`, ajaxStatus: 401, code: 'unauthenticated' },
  {
    name: 'expired token',
    token: async () => mintToken(cfg, { sub: `late-${uniq()}`, name: 'Late', expiresInSeconds: -600 }),
    channel: (kind) => `${kind}-${uniq()}`,
    ajaxStatus: 401,
    code: 'token_expired',
  },
  {
    name: 'channel refused by CHANNEL_RULES',
    token: async () => mintToken(cfg, { sub: `user-${uniq()}`, name: 'Valid' }),
    channel: (kind) => `${kind.replace(/-(allowed|room)$/, '')}-forbidden-${uniq()}`,
    ajaxStatus: 403,
    code: 'forbidden',
  },
];
// kind → channel prefix of an otherwise allowed channel
const KINDS = { private: 'private-allowed', presence: 'presence-room', encrypted: 'private-encrypted-room' };

for (const transport of ['jsonp', 'ajax']) {
  scenario(`${transport}: refusals (no token, expired token, refused channel) reach the page within 2 s`, async ({ open, note }) => {
    const { page } = await open('refusals');
    await fn.probe(); // the 2 s bound is about the answer, not about a pending rebuild
    for (const refusal of REFUSALS) {
      const id = refusal.name.replace(/\W+/g, '-');
      await connect(page, id, options8(transport, await refusal.token()));
      for (const [kind, prefix] of Object.entries(KINDS)) {
        const channel = refusal.channel(prefix);
        const what = `${transport}, ${refusal.name}, ${kind} ${channel}`;
        const r = await subscribe(page, id, channel, HANG_MS);
        note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
        assert.notEqual(r.outcome, 'timeout', `${what}: the page learns of the refusal (no hang)`);
        assert.ok(r.elapsedMs < REFUSAL_BOUND_MS, `${what}: within ${REFUSAL_BOUND_MS} ms (took ${r.elapsedMs} ms)`);
        assert.equal(r.subscribed, false, `${what}: not subscribed`);
        if (transport === 'jsonp') {
          // JSONP: the denial script emits pusher-js's own error shape on the channel, with
          // the endpoint's code (README "Answers to refusals"); nothing goes to sockudo.
          assertJsonpRefused(r, { code: refusal.code, status: refusal.ajaxStatus, what });
        } else {
          // AJAX: the refused POST.
          assert.equal(r.outcome, 'subscription_error', `${what}: ${JSON.stringify(r)}`);
        }
        assert.equal((await channelInfo(api, channel)).occupied, false, `${what}: sockudo has no subscriber`);
      }
      assert.equal((await page.evaluate((i) => window.E2E.state(i), id)).state, 'connected', `${refusal.name}: still connected`);
      await new Promise((ok) => setTimeout(ok, 300));
      assert.deepEqual(await errors4009(page, id), [], `${refusal.name}: no pusher:error 4009`);
    }

    // A {sub} rule: the user's own channel is signed, another user's is refused.
    const sub = `carol-${uniq()}`;
    await connect(page, 'own', options8(transport, await mintToken(cfg, { sub, name: 'Carol' })));
    assertSubscribed(await subscribe(page, 'own', `private-user-${sub}`), 'own private-user channel');
    const other = await subscribe(page, 'own', `private-user-${sub}x`, HANG_MS);
    assert.notEqual(other.outcome, 'subscription_succeeded', `another user's channel: ${JSON.stringify(other)}`);
    assert.notEqual(other.outcome, 'timeout');
    assert.ok(other.elapsedMs < REFUSAL_BOUND_MS, `another user's channel refused within ${REFUSAL_BOUND_MS} ms (${other.elapsedMs} ms)`);
  });
}

// AJAX from a listed origin: pusher-js reports the refusal's HTTP status (what an app
// needs to tell "log in again" from "not allowed") only if the refusal carries
// Access-Control-Allow-Origin like every other answer to that origin (README, CORS).
scenario('ajax: pusher-js sees the refusal status (401 without or with an expired token, 403 refused channel)', async ({ open }) => {
  const { page } = await open('refusal-status');
  for (const refusal of REFUSALS) {
    const id = refusal.name.replace(/\W+/g, '-');
    await connect(page, id, options8('ajax', await refusal.token()));
    const channel = refusal.channel(KINDS.private);
    const r = await subscribe(page, id, channel, HANG_MS);
    assert.equal(r.outcome, 'subscription_error', `${refusal.name}: ${JSON.stringify(r)}`);
    assert.equal(r.detail.status, refusal.ajaxStatus, `${refusal.name}, ${channel}: pusher-js reports ${JSON.stringify(r.detail)}`);
  }
});

// ---------------------------------------------------------------------------
// Scenario 7: two browser contexts, two users, one presence channel.

scenario('two users in two browser contexts see each other join and leave a presence channel', async ({ open }) => {
  const a = await open('alice');
  const b = await open('bob');
  const alice = `alice-${uniq()}`;
  const bob = `bob-${uniq()}`;
  const channel = `presence-room-${uniq()}`;
  await connect(a.page, 'alice', options8('jsonp', await mintToken(cfg, { sub: alice, name: 'Alice' })));
  await connect(b.page, 'bob', options8('jsonp', await mintToken(cfg, { sub: bob, name: 'Bob' })));
  const memberEvent = (event, id) => (e) =>
    e.kind === 'channel' && e.detail.channel === channel && e.detail.event === event && e.detail.data && e.detail.data.id === id;

  let r = await subscribe(a.page, 'alice', channel);
  assertSubscribed(r, 'alice joins');
  assert.deepEqual(r.detail.members.members, { [alice]: { name: 'Alice' } });

  r = await subscribe(b.page, 'bob', channel);
  assertSubscribed(r, 'bob joins');
  assert.deepEqual(r.detail.members.members, { [alice]: { name: 'Alice' }, [bob]: { name: 'Bob' } }, 'bob sees alice');
  const added = await waitForLog(a.page, 'alice to see bob added', memberEvent('pusher:member_added', bob));
  assert.deepEqual(added.detail.data.info, { name: 'Bob' });

  // alice leaves and comes back: bob sees her removed, then added.
  await a.page.evaluate(([c]) => window.E2E.unsubscribe('alice', c), [channel]);
  await waitForLog(b.page, 'bob to see alice removed', memberEvent('pusher:member_removed', alice));
  r = await subscribe(a.page, 'alice', channel);
  assertSubscribed(r, 'alice joins again');
  assert.deepEqual(r.detail.members.members, { [alice]: { name: 'Alice' }, [bob]: { name: 'Bob' } }, 'alice sees bob');
  const back = await waitForLog(b.page, 'bob to see alice added', memberEvent('pusher:member_added', alice));
  assert.deepEqual(back.detail.data.info, { name: 'Alice' });
  assert.deepEqual(await presenceUsers(api, channel), [alice, bob].sort());

  // bob closes his browser context: alice sees him removed.
  await b.context.close();
  await waitForLog(a.page, 'alice to see bob removed', memberEvent('pusher:member_removed', bob));
  const state = await a.page.evaluate(([c]) => window.E2E.channelState('alice', c), [channel]);
  assert.deepEqual(state.members.members, { [alice]: { name: 'Alice' } });
  assert.deepEqual(await presenceUsers(api, channel), [alice]);
});

// ---------------------------------------------------------------------------
// Scenario 8: pusher-js 7.x configured the older way (authTransport: 'jsonp').

scenario('pusher-js 7.x with authTransport jsonp: private and presence', async ({ open }) => {
  const { page } = await open('pusher-js-7', { version: 7 });
  const sub = `dave-${uniq()}`;
  await connect(page, 'c', options7(await mintToken(cfg, { sub, name: 'Dave Seven' })));
  const since = fn.child.logSize();
  const priv = `private-allowed-${uniq()}`;
  assertSubscribed(await subscribe(page, 'c', priv), priv);
  await functionLogged(since, { transport: 'jsonp', channel: priv });
  const presence = `presence-room-${uniq()}`;
  const r = await subscribe(page, 'c', presence);
  assertSubscribed(r, presence);
  assert.deepEqual(r.detail.members.me, { id: sub, info: { name: 'Dave Seven' } });
  assert.deepEqual(r.detail.members.members, { [sub]: { name: 'Dave Seven' } });
  await functionLogged(since, { transport: 'jsonp', channel: presence });
});

// ---------------------------------------------------------------------------
// Scenario 9: pages on two origins; only one is in ALLOWED_ORIGINS.

scenario('JSONP works from any origin; AJAX only from the origin in ALLOWED_ORIGINS', async ({ open }) => {
  const token = await mintToken(cfg, { sub: `erin-${uniq()}`, name: 'Erin' });
  const listed = await open('listed-origin', { origin: pageA.origin });
  const other = await open('other-origin', { origin: pageB.origin });
  for (const { page, label } of [listed, other]) {
    await connect(page, 'jsonp', options8('jsonp', token));
    assertSubscribed(await subscribe(page, 'jsonp', `private-allowed-${uniq()}`), `${label}: JSONP`);
    await connect(page, 'jsonp-presence', options8('jsonp', token));
    assertSubscribed(await subscribe(page, 'jsonp-presence', `presence-room-${uniq()}`), `${label}: JSONP presence`);
  }
  await connect(listed.page, 'ajax', options8('ajax', token));
  assertSubscribed(await subscribe(listed.page, 'ajax', `private-allowed-${uniq()}`), 'listed origin: AJAX');

  const fnLogBefore = fn.child.logSize();
  await connect(other.page, 'ajax', options8('ajax', token));
  const channel = `private-allowed-${uniq()}`;
  const r = await subscribe(other.page, 'ajax', channel);
  // The browser blocks the answer (no Access-Control-Allow-Origin): pusher-js sees status 0.
  assert.equal(r.outcome, 'subscription_error', `other origin: AJAX refused: ${JSON.stringify(r)}`);
  assert.equal(r.detail.status, 0, `other origin: AJAX refused: ${JSON.stringify(r)}`);
  assert.equal(r.subscribed, false);
  assert.equal((await channelInfo(api, channel)).occupied, false);
  // …and the function did refuse it (its one log line for that request).
  await waitUntil('the function to log the refused origin', 5000, async () =>
    fn.child.logSince(fnLogBefore).includes('"reason":"origin_not_allowed"'));
});

// ---------------------------------------------------------------------------
// Scenario 10: through the REST API stage's mapping templates (lib/apigw_stage.py): the
// JSONP GET routes of template.yaml. pusher-js's callback is Pusher.auth_callbacks['N'];
// request.vtl's $util.escapeJavaScript turns its ' into \' (not JSON: Lambda would refuse
// the event and API Gateway answer 500) unless undone, and response.vtl must write the
// function's JavaScript out as it is, with a JavaScript Content-Type, for the browser to run it.

scenario('REST API stage (mapping templates): JSONP private, presence, signin and refusals through request.vtl', async ({ open, note }) => {
  const { page } = await open('apigw-stage');
  // Every answer of the stage as the browser got it.
  const answers = [];
  page.on('response', async (res) => {
    if (!res.url().startsWith(`${gw.base}/`)) return;
    const url = new URL(res.url());
    const entry = { route: url.pathname, query: Object.fromEntries(url.searchParams), status: res.status(), headers: res.headers() };
    answers.push(entry);
    entry.body = await res.text().catch((e) => `(body unavailable: ${e.message})`);
  });
  const gwMark = gw.child.logSize();
  const fnMark = fn.child.logSize();
  const sub = `grace-${uniq()}`;
  const token = await mintToken(cfg, { sub, name: "Grace O'Hara" });
  const params = { token };
  const options = {
    ...baseOptions(),
    channelAuthorization: { endpoint: gw.authEndpoint, transport: 'jsonp', params },
    userAuthentication: { endpoint: gw.userAuthEndpoint, transport: 'jsonp', params },
  };
  await connect(page, 'c', options);

  const priv = `private-allowed-${uniq()}`;
  assertSubscribed(await subscribe(page, 'c', priv), `${priv} through the stage`);
  assert.equal((await channelInfo(api, priv)).occupied, true, 'sockudo has the subscriber');

  const presence = `presence-room-${uniq()}`;
  const r = await subscribe(page, 'c', presence);
  assertSubscribed(r, `${presence} through the stage`);
  assert.deepEqual(r.detail.members.me, { id: sub, info: { name: "Grace O'Hara" } }, 'presence me from the token');
  assert.deepEqual(await presenceUsers(api, presence), [sub], 'sockudo lists the user');

  const signin = await page.evaluate(([i, t]) => window.E2E.signin(i, t), ['c', WAIT_MS]);
  assert.equal(signin.outcome, 'signin_success', `signin through the stage: ${JSON.stringify(signin)}`);
  assert.deepEqual(signin.userData, { id: sub, user_info: { name: "Grace O'Hara" } });

  // Refused channels reach the page within 2 s, as on the proxy path: the function's JSONP
  // denial is a success for API Gateway (200, the default integration response). Signed-in
  // connections: production.test.mjs.
  await connect(page, 'r', options);
  await fn.probe(); // the 2 s bound is about the answer, not about a pending rebuild
  const refusedPrivate = `private-forbidden-${uniq()}`;
  const rp = await subscribe(page, 'r', refusedPrivate, HANG_MS);
  note(`refused ${refusedPrivate}: ${rp.outcome} after ${rp.elapsedMs} ms ${JSON.stringify(rp.detail)}`);
  assert.notEqual(rp.outcome, 'timeout', `${refusedPrivate}: the page learns of the refusal (no hang)`);
  assert.ok(rp.elapsedMs < REFUSAL_BOUND_MS, `${refusedPrivate}: within ${REFUSAL_BOUND_MS} ms (took ${rp.elapsedMs} ms)`);
  // The denial script emits pusher-js's own error shape on the channel (README, "Answers to refusals").
  assertJsonpRefused(rp, { code: 'forbidden', status: 403, what: refusedPrivate });
  const refusedPresence = `presence-forbidden-${uniq()}`;
  const rq = await subscribe(page, 'r', refusedPresence, HANG_MS);
  note(`refused ${refusedPresence}: ${rq.outcome} after ${rq.elapsedMs} ms ${JSON.stringify(rq.detail)}`);
  assertJsonpRefused(rq, { code: 'forbidden', status: 403, what: refusedPresence });
  await new Promise((ok) => setTimeout(ok, 300));
  assert.deepEqual(await errors4009(page, 'r'), [], 'no pusher:error 4009');
  for (const channel of [refusedPrivate, refusedPresence]) {
    assert.equal((await channelInfo(api, channel)).occupied, false, `${channel}: sockudo has no subscriber`);
  }
  for (const id of ['c', 'r']) {
    assert.equal((await page.evaluate((i) => window.E2E.state(i), id)).state, 'connected', `${id}: still connected`);
  }

  // What went over the wire: every request pusher-js made went to the stage, with its
  // Pusher.auth_callbacks['N'] callback, and came back as JavaScript calling that callback
  // (signed) or as the denial script for that callback, socket and channel (refused).
  await waitUntil('the stage answers to be read', 5000, async () => answers.length >= 5 && answers.every((a) => a.body !== undefined));
  const expected = [
    ['/staging/pusher/auth', priv],
    ['/staging/pusher/auth', presence],
    ['/staging/pusher/user-auth', undefined],
    ['/staging/pusher/auth', refusedPrivate],
    ['/staging/pusher/auth', refusedPresence],
  ];
  assert.deepEqual(answers.map((a) => [a.route, a.query.channel_name]), expected, JSON.stringify(answers, null, 1));
  const access = gw.accessLog(gwMark);
  for (const a of answers) {
    const what = `${a.route} ${a.query.channel_name || ''}`;
    const callback = a.query.callback;
    assert.match(callback, /^Pusher\.auth_callbacks\['\d+'\]$/, `${what}: pusher-js's own callback`);
    assert.equal(a.status, 200, `${what}: ${a.body}`);
    assert.equal(a.headers['content-type'], 'application/javascript; charset=utf-8', what);
    assert.equal(a.headers['x-content-type-options'], 'nosniff', what);
    assert.equal(a.headers['cache-control'], 'no-store, private', what);
    const denial = jsonpDenial(a.body);
    if (a.query.channel_name === refusedPrivate || a.query.channel_name === refusedPresence) {
      assert.ok(denial, `${what}: the denial script: ${a.body}`);
      assert.deepEqual([denial.socketId, denial.channel, denial.callback], [a.query.socket_id, a.query.channel_name, callback], what);
      assert.equal(denial.error.error, 'forbidden', what);
    } else {
      assert.ok(a.body.startsWith(`/**/typeof ${callback} === 'function' && ${callback}({`), `${what}: ${a.body}`);
    }
    // The stage rendered request.vtl, invoked the function and applied the default integration response…
    const requestId = a.headers['x-amzn-requestid'];
    const line = access.find((e) => e.requestId === requestId);
    assert.ok(line, `${what}: the stage's access log has ${requestId}`);
    assert.deepEqual(
      [line.resourcePath, line.status, line.integrationStatus, line.selectionPattern],
      [a.route.replace('/staging', ''), 200, 'ok', 'default'],
      JSON.stringify(line),
    );
    // …and the function got the mapping-template event (its request id is the stage's).
    const logged = await waitUntil(`the function to log request ${requestId}`, 5000, async () =>
      jsonLines(fn.child.logSince(fnMark))
        .find((e) => e.request_id === requestId));
    assert.equal(logged.transport, 'jsonp', JSON.stringify(logged));
    assert.equal(logged.channel ?? undefined, a.query.channel_name, JSON.stringify(logged));
  }
});
