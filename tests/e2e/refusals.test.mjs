// End-to-end: the cells of README.md's "What the page sees" table the other files do not prove,
// with the real pusher-js 8 in headless Chromium against sockudo and the function under
// `cargo lambda watch`: a bad socket id and the function failing, each with pusher-js over JSONP,
// pusher-js over AJAX and the client/ package (client/pusher-batch-auth.js over JSONP and AJAX);
// the client package without a token or with an expired one; a refused signin with pusher-js
// over AJAX. See README.md next to this file.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  WAIT_MS,
  WORK_DIR,
  browserScenario,
  channelInfo,
  jsonLines,
  jsonpDenial,
  assertJsonpRefused,
  errors4009,
  loadPage,
  makeConfig,
  mintToken,
  pageLog,
  recordSentFrames,
  socketOptions,
  startMisconfiguredFunction,
  startStack,
  stopStack,
  subscribe,
  subscribesFor,
  uniq,
  waitUntil,
  connectWithSetup,
} from './lib/harness.mjs';

const cfg = makeConfig();
let stack; // startStack's handles; stack.gw is the stage with a broken stage variable
let broken; // the second function, whose configuration is refused
const consoleLines = [];

// A stage variable the function refuses (digits only): every request through that stage is
// refused with `server_error` (500) by the function itself.
const BROKEN_STAGE_VARIABLES = { PUSHER_APP_ID: 'not-an-app-id' };
// A configuration the function refuses at cold start (run-local.sh would not even start it).
const BROKEN_ENV = { JWT_ALGORITHMS: 'none' };
// How long a request that gets no usable answer is watched.
const QUIET_MS = 5000;
const BAD_SOCKET_ID = 'abc';

before(
  async () => {
    stack = await startStack(cfg, {
      pageServers: 1,
      fn: ({ pages }) => ({ allowedOrigins: [pages[0].origin] }),
      gateway: ({ pages }) => ({
        stageVariables: { PUSHER_KEY: cfg.key, PUSHER_CLUSTER: 'mt1', ALLOWED_ORIGINS: pages[0].origin, ...BROKEN_STAGE_VARIABLES },
      }),
      ready: async (s) => {
        broken = await startMisconfiguredFunction(cfg, { allowedOrigins: [s.pages[0].origin], env: BROKEN_ENV });
        s.closers.push(() => broken.child.stop());
      },
    });
    console.log(`# function ready after ${stack.fn.readyAfterMs} ms; work dir ${WORK_DIR}`);
    console.log(`# misconfigured function (${JSON.stringify(BROKEN_ENV)}) answers ${broken.answer.status} ${JSON.stringify(broken.answer.body)} (CORS: ${broken.answer.cors})`);
  },
  { timeout: 600_000 },
);

after(() => stopStack(stack));

// ---------------------------------------------------------------------------
// helpers

/** Every endpoint this file's pages may ask. */
const endpointBases = () => [stack.fn.base, stack.gw.base, broken.base];

/**
 * A scenario: `open(label, path)` loads a page of the page server (its origin is in
 * ALLOWED_ORIGINS) recording every answer the browser gets from an endpoint (`answers`:
 * url, route, method, status, body, channel) and every frame the page sends (`frames`).
 */
function scenario(name, body, timeout) {
  browserScenario(name, { stack: () => stack, consoleLines, timeout }, ({ newContext, note }) => {
    const open = async (label, path = '/v8.html') => {
      const context = await newContext();
      const answers = [];
      const describe = (req) => {
        if (!endpointBases().some((b) => req.url().startsWith(`${b}/`))) return null;
        const params = req.method() === 'POST' ? new URLSearchParams(req.postData() || '') : new URL(req.url()).searchParams;
        return {
          url: req.url(),
          method: req.method(),
          route: new URL(req.url()).pathname.replace(/.*\/pusher\//, ''),
          channel: params.get('channel_name') || params.get('channel_name[0]'),
          socketId: params.get('socket_id'),
        };
      };
      context.on('response', async (res) => {
        const entry = describe(res.request());
        if (!entry || entry.method === 'OPTIONS') return;
        entry.status = res.status();
        answers.push(entry);
        entry.body = await res.text().catch(() => '');
      });
      // What the browser does not hand to the page (a blocked script, a CORS failure): no
      // `response` event, the request fails with the browser's reason.
      context.on('requestfailed', (req) => {
        const entry = describe(req);
        if (!entry) return;
        entry.failure = req.failure() && req.failure().errorText;
        entry.body = null;
        answers.push(entry);
      });
      const frames = [];
      const page = await loadPage(context, consoleLines, label, `${stack.pages[0].origin}${path}`, {
        version: 8,
        beforeGoto: (p) => recordSentFrames(p, frames),
      });
      return { page, answers, frames };
    };
    return body({ open, note });
  });
}

/** pusher-js 8's own transports: the token in `params` (JSONP) or a bearer header (AJAX). */
function pusherOptions(transport, endpoint, token, userEndpoint) {
  const auth = (ep) => {
    const o = { endpoint: ep, transport };
    if (transport === 'jsonp') o.params = token ? { token } : {};
    else o.headers = token ? { Authorization: `Bearer ${token}` } : {};
    return o;
  };
  const options = { ...socketOptions(stack.sockudo), channelAuthorization: auth(endpoint) };
  if (userEndpoint) options.userAuthentication = auth(userEndpoint);
  return options;
}

// client/pusher-batch-auth.js as pusher-js 8's customHandler; every Error it gives pusher-js is
// recorded (its `code` and `status`, which pusher-js's event also carries as `error` and `status`).
const HELPER_SETUP = `
  window.E2E_HELPER_ERRORS = window.E2E_HELPER_ERRORS || [];
  const batch = PusherBatchAuth({ endpoint: arg.endpoint, transport: arg.transport, params: arg.token ? { token: arg.token } : {} });
  options.channelAuthorization = {
    customHandler: (params, callback) => batch.handler(params, (error, data) => {
      if (error) window.E2E_HELPER_ERRORS.push({ channel: params.channelName, socketId: params.socketId, code: error.code, status: error.status, message: error.message });
      callback(error, data);
    }),
  };
`;

/** Connects client `id` (after `setup`, run in the page with `options` and `arg`); returns the socket id. */
function connect(page, id, options, setup = null, arg = null) {
  return connectWithSetup(page, cfg.key, id, options, setup, arg);
}

/** pusher-js takes the socket id for each authorization request from `connection.socket_id`. */
function setSocketId(page, id, socketId) {
  return page.evaluate(([i, s]) => {
    window.E2E.client(i).connection.socket_id = s;
  }, [id, socketId]);
}

const state = async (page, id) => (await page.evaluate((i) => window.E2E.state(i), id)).state;
const channelState = (page, id, channel) => page.evaluate(([i, c]) => window.E2E.channelState(i, c), [id, channel]);
const helperErrors = (page) => page.evaluate(() => window.E2E_HELPER_ERRORS || []);

async function answerFor(answers, channel) {
  return waitUntil(`the answer for ${channel}`, 5000, async () => answers.find((a) => a.channel === channel && a.body !== undefined));
}

/** The function's channel-auth log lines written since `offset` (`child`: which function). */
function channelAuthLines(child, offset) {
  return jsonLines(child.logSince(offset)).filter((e) => e.route === 'channel-auth');
}

const JSONP_CALL = /^\/\*\*\/typeof (Pusher\.auth_callbacks\['\d+'\]) === 'function' && \1\((.*)\);$/s;

/** The callback a plain JSONP answer calls and the JSON it passes. */
function jsonpCall(body) {
  const m = JSONP_CALL.exec(body);
  assert.ok(m, `a JSONP answer calling a callback: ${body}`);
  return { callback: m[1], payload: JSON.parse(m[2]) };
}

/** After a scenario's refusals: the connection works (a channel the policy allows subscribes). */
async function assertStillWorks(page, id, what) {
  assert.equal(await state(page, id), 'connected', `${what}: still connected`);
  const channel = `private-allowed-${uniq()}`;
  const r = await subscribe(page, id, channel);
  assert.equal(r.outcome, 'subscription_succeeded', `${what}: another channel still subscribes: ${JSON.stringify(r)}`);
}

// ---------------------------------------------------------------------------
// A bad socket id. pusher-js never sends one by itself: the page sets `connection.socket_id`
// (where pusher-js 8 reads the socket id for every authorization request: Channel#subscribe,
// and the customHandler's `params.socketId`) after connecting.

scenario('bad socket id, pusher-js 8 over JSONP: the callback gets the error object, pusher-js subscribes without auth, sockudo answers 4009', async ({ open, note }) => {
  const { page, answers, frames } = await open('bad-socket-id-jsonp');
  const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Socket Person' });
  const socketId = await connect(page, 'c', pusherOptions('jsonp', stack.fn.authEndpoint, token));
  await setSocketId(page, 'c', BAD_SOCKET_ID);
  const since = stack.fn.child.logSize();
  for (const [kind, channel] of [['private', `private-allowed-${uniq()}`], ['presence', `presence-room-${uniq()}`]]) {
    const what = `JSONP, bad socket id, ${kind} ${channel}`;
    const r = await subscribe(page, 'c', channel, QUIET_MS);
    note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
    const answer = await answerFor(answers, channel);
    note(`${what}: answer ${answer.status} ${answer.body}`);
    assert.equal(answer.socketId, BAD_SOCKET_ID, `${what}: pusher-js sent the page's socket id`);
    assert.equal(answer.status, 200, what);
    assert.equal(jsonpDenial(answer.body), null, `${what}: not the channel denial script (the socket id is not valid)`);
    const call = jsonpCall(answer.body);
    assert.equal(call.callback, new URL(answer.url).searchParams.get('callback'), `${what}: pusher-js's own callback`);
    assert.deepEqual(call.payload, kind === 'presence'
      ? { error: 'invalid_socket_id', status: 400, channel_data: '{}' }
      : { error: 'invalid_socket_id', status: 400 }, what);
    // pusher-js takes it as a success and subscribes without `auth`: sockudo refuses that
    // subscription with pusher:error 4009 (no channel field), a connection `error` for pusher-js.
    const sent = subscribesFor(frames, channel);
    assert.equal(sent.length, 1, `${what}: one pusher:subscribe: ${JSON.stringify(sent)}`);
    assert.equal(sent[0].data.auth, undefined, `${what}: without auth: ${JSON.stringify(sent[0])}`);
    assert.equal(r.outcome, 'connection_error', `${what}: ${JSON.stringify(r)}`);
    assert.equal(r.detail.type, 'PusherError', JSON.stringify(r));
    assert.equal(r.detail.data.code, 4009, JSON.stringify(r));
    assert.equal(r.subscribed, false, what);
    assert.equal((await channelInfo(stack.api, channel)).occupied, false, `${what}: sockudo has no subscriber`);
    const cs = await channelState(page, 'c', channel);
    note(`${what}: channel state afterwards ${JSON.stringify(cs)}`);
    assert.equal(cs.subscribed, false, what);
  }
  assert.equal((await errors4009(page, 'c')).length, 2, 'one 4009 per channel');
  const lines = await waitUntil('two log lines', 5000, async () => {
    const found = channelAuthLines(stack.fn.child, since);
    return found.length >= 2 ? found : undefined;
  });
  for (const line of lines) {
    assert.equal(line.reason, 'invalid_socket_id', JSON.stringify(line));
    assert.equal(line.status, 400, JSON.stringify(line));
  }
  await setSocketId(page, 'c', socketId);
  await assertStillWorks(page, 'c', 'JSONP, bad socket id');
});

scenario('bad socket id, pusher-js 8 over AJAX: pusher:subscription_error with status 400, nothing sent to sockudo', async ({ open, note }) => {
  const { page, answers, frames } = await open('bad-socket-id-ajax');
  const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Socket Person' });
  const socketId = await connect(page, 'c', pusherOptions('ajax', stack.fn.authEndpoint, token));
  await setSocketId(page, 'c', BAD_SOCKET_ID);
  for (const channel of [`private-allowed-${uniq()}`, `presence-room-${uniq()}`]) {
    const what = `AJAX, bad socket id, ${channel}`;
    const r = await subscribe(page, 'c', channel, QUIET_MS);
    note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
    const answer = await answerFor(answers, channel);
    note(`${what}: answer ${answer.status} ${answer.body}`);
    assert.equal(answer.socketId, BAD_SOCKET_ID, what);
    assert.equal(answer.status, 400, what);
    assert.deepEqual(JSON.parse(answer.body), { error: 'invalid_socket_id', status: 400 }, what);
    assert.equal(r.outcome, 'subscription_error', `${what}: ${JSON.stringify(r)}`);
    assert.equal(r.detail.type, 'AuthError', what);
    assert.equal(r.detail.status, 400, `${what}: ${JSON.stringify(r.detail)}`);
    assert.equal(r.subscribed, false, what);
    assert.deepEqual(subscribesFor(frames, channel), [], `${what}: no pusher:subscribe sent`);
  }
  await sleep(300);
  assert.deepEqual(await errors4009(page, 'c'), [], 'no 4009');
  await setSocketId(page, 'c', socketId);
  await assertStillWorks(page, 'c', 'AJAX, bad socket id');
});

// ---------------------------------------------------------------------------
// The client package (client/pusher-batch-auth.js, script tag, pusher-js 8's customHandler):
// refusals of a whole request are an Error with the endpoint's code and status for every
// channel of it.

const HELPER_REFUSALS = [
  { name: 'no token', token: async () => undefined, code: 'unauthenticated', status: 401 },
  { name: 'expired token', token: () => mintToken(cfg, { sub: `late-${uniq()}`, name: 'Late', expiresInSeconds: -600 }), code: 'token_expired', status: 401 },
  { name: 'bad socket id', socketId: BAD_SOCKET_ID, code: 'invalid_socket_id', status: 400 },
];

for (const transport of ['jsonp', 'ajax']) {
  scenario(`client package over ${transport.toUpperCase()}: no token, an expired token and a bad socket id are errors with the code and status for every channel`, async ({ open, note }) => {
    const { page, answers, frames } = await open(`helper-${transport}`, '/v8-batch-helper.html');
    for (const refusal of HELPER_REFUSALS) {
      const id = refusal.name.replace(/\W+/g, '-');
      const token = refusal.token ? await refusal.token() : await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Helper Person' });
      const socketId = await connect(page, id, socketOptions(stack.sockudo), HELPER_SETUP, { endpoint: stack.fn.authEndpoint, transport, token });
      if (refusal.socketId) await setSocketId(page, id, refusal.socketId);
      const u = uniq();
      const channels = [`private-allowed-${u}`, `presence-room-${u}`];
      const results = await page.evaluate(([i, cs, t]) => Promise.all(cs.map((c) => window.E2E.subscribe(i, c, t))), [id, channels, QUIET_MS]);
      const errors = (await helperErrors(page)).filter((e) => channels.includes(e.channel));
      channels.forEach((channel, n) => {
        const what = `client package, ${transport}, ${refusal.name}, ${channel}`;
        const r = results[n];
        note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
        assert.equal(r.outcome, 'subscription_error', `${what}: ${JSON.stringify(r)}`);
        assert.deepEqual(r.detail, { type: 'AuthError', error: refusal.code, status: refusal.status }, what);
        assert.ok(r.elapsedMs < 2000, `${what}: within 2 s (${r.elapsedMs} ms)`);
        assert.equal(r.subscribed, false, what);
        const e = errors.find((x) => x.channel === channel);
        assert.ok(e, `${what}: the helper gave pusher-js an Error: ${JSON.stringify(errors)}`);
        assert.equal(e.code, refusal.code, `${what}: ${JSON.stringify(e)}`);
        assert.equal(e.status, refusal.status, `${what}: ${JSON.stringify(e)}`);
        assert.equal(e.socketId, refusal.socketId || socketId, what);
        assert.deepEqual(subscribesFor(frames, channel), [], `${what}: no pusher:subscribe sent`);
      });
      // One request for both channels, refused as a whole.
      await waitUntil(`the answer for ${refusal.name}`, 5000, async () => answers.some((a) => channels.includes(a.channel) && a.body !== undefined));
      await sleep(200); // a second request, had there been one, would be here by now
      const asked = answers.filter((a) => channels.includes(a.channel));
      note(`${transport}, ${refusal.name}: ${asked.map((a) => `${a.method} ${a.status} ${a.body}`).join(' | ')}`);
      assert.equal(asked.length, 1, `one request: ${JSON.stringify(asked)}`);
      if (transport === 'jsonp') {
        assert.equal(asked[0].status, 200);
        assert.deepEqual(jsonpCall(asked[0].body).payload, { error: refusal.code, status: refusal.status });
      } else {
        assert.equal(asked[0].status, refusal.status);
        assert.deepEqual(JSON.parse(asked[0].body), { error: refusal.code, status: refusal.status });
      }
      if (refusal.socketId) await setSocketId(page, id, socketId);
      if (refusal.socketId) await assertStillWorks(page, id, `client package, ${transport}, ${refusal.name}`);
      else assert.equal(await state(page, id), 'connected', `${refusal.name}: still connected`);
    }
  });
}

// ---------------------------------------------------------------------------
// The function failing: (a) a stage variable it refuses (the REST API stage, lib/apigw_stage.py,
// JSONP routes only): the function answers `server_error` (500) as a refusal; (b) a configuration
// refused at cold start: under `cargo lambda watch` every request is answered 500, text/plain,
// the configuration error as body (src/main.rs), without CORS headers (run-local.sh's
// `--disable-cors`; on AWS the init fails and the front door answers 5xx).

scenario('function failing, pusher-js 8 over JSONP: a broken stage variable is server_error (500); a failed init is never reported', async ({ open, note }) => {
  const { page, answers, frames } = await open('failing-jsonp');
  const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Failing Person' });

  // (a) through the stage with a broken stage variable.
  const socketId = await connect(page, 'stage', pusherOptions('jsonp', stack.gw.authEndpoint, token));
  const gwSince = stack.fn.child.logSize();
  for (const [kind, channel] of [['private', `private-allowed-${uniq()}`], ['presence', `presence-room-${uniq()}`]]) {
    const what = `JSONP through the broken stage, ${kind} ${channel}`;
    const r = await subscribe(page, 'stage', channel, QUIET_MS);
    note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
    assertJsonpRefused(r, { code: 'server_error', status: 500, what });
    const answer = await answerFor(answers, channel);
    assert.equal(answer.status, 200, what);
    const denial = jsonpDenial(answer.body);
    assert.ok(denial, `${what}: the channel denial script: ${answer.body}`);
    assert.equal(denial.socketId, socketId, what);
    assert.equal(denial.channel, channel, what);
    assert.deepEqual(denial.error, kind === 'presence' ? { error: 'server_error', status: 500, channel_data: '{}' } : { error: 'server_error', status: 500 }, what);
    assert.deepEqual(subscribesFor(frames, channel), [], `${what}: no pusher:subscribe sent`);
  }
  const lines = channelAuthLines(stack.fn.child, gwSince);
  note(`function log (broken stage): ${lines.map((l) => `${l.status}:${l.reason}`).join(' ')}`);
  assert.ok(lines.length >= 2 && lines.every((l) => l.status === 500), JSON.stringify(lines));
  assert.equal(await state(page, 'stage'), 'connected');

  // (b) the function whose cold start failed: a script answered 500 never runs, pusher-js has
  // no JSONP timeout and no error handler on the script: nothing is reported.
  await connect(page, 'init', pusherOptions('jsonp', broken.authEndpoint, token));
  const channel = `private-allowed-${uniq()}`;
  const r = await subscribe(page, 'init', channel, QUIET_MS);
  note(`JSONP to the failed init: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
  const answer = await answerFor(answers, channel);
  note(`JSONP to the failed init: answer ${JSON.stringify(answer)}`);
  // Chromium's opaque-response blocking: a cross-origin script answered text/plain with nosniff.
  assert.equal(answer.failure, 'net::ERR_BLOCKED_BY_ORB', `the browser does not run the 500: ${JSON.stringify(answer)}`);
  assert.equal(r.outcome, 'timeout', `nothing reported within ${QUIET_MS} ms: ${JSON.stringify(r)}`);
  assert.deepEqual(await channelState(page, 'init', channel), { subscribed: false, pending: true, members: null }, 'the channel stays pending');
  assert.deepEqual(subscribesFor(frames, channel), [], 'no pusher:subscribe sent');
  const log = (await pageLog(page)).filter((e) => e.client === 'init' && e.kind === 'connection-error');
  assert.deepEqual(log, [], 'no connection error');
  assert.equal(await state(page, 'init'), 'connected', 'still connected');
});

scenario('function failing, pusher-js 8 over AJAX: a failed init is pusher:subscription_error with the status the browser lets it read', async ({ open, note }) => {
  const { page, answers, frames } = await open('failing-ajax');
  const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Failing Person' });
  await connect(page, 'init', pusherOptions('ajax', broken.authEndpoint, token));
  const channel = `private-allowed-${uniq()}`;
  const r = await subscribe(page, 'init', channel, QUIET_MS);
  note(`AJAX to the failed init: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
  const answer = await answerFor(answers, channel);
  note(`AJAX to the failed init: answer ${JSON.stringify(answer)}`);
  // The preflight (pusher-js sends an Authorization header) is answered 500 without CORS headers.
  assert.equal(answer.failure, 'net::ERR_FAILED', `the browser does not hand the 500 to the page: ${JSON.stringify(answer)}`);
  assert.equal(r.outcome, 'subscription_error', JSON.stringify(r));
  assert.equal(r.detail.type, 'AuthError');
  // The 500 carries no Access-Control-Allow-Origin: the browser hides it from the page.
  assert.equal(r.detail.status, broken.answer.cors ? 500 : 0, JSON.stringify(r.detail));
  assert.ok(r.elapsedMs < 2000, `at once (${r.elapsedMs} ms)`);
  assert.equal(r.subscribed, false);
  assert.deepEqual(subscribesFor(frames, channel), [], 'no pusher:subscribe sent');
  assert.equal(await state(page, 'init'), 'connected', 'still connected');
});

for (const transport of ['jsonp', 'ajax']) {
  scenario(`function failing, client package over ${transport.toUpperCase()}: an error for every channel, with the code it can give`, async ({ open, note }) => {
    const { page, answers, frames } = await open(`failing-helper-${transport}`, '/v8-batch-helper.html');
    const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Failing Person' });
    const cases = [
      // The stage serves JSONP only (the AJAX proxy routes are not emulated).
      ...(transport === 'jsonp' ? [{ name: 'broken stage variable', endpoint: stack.gw.authEndpoint, code: 'server_error', status: 500 }] : []),
      { name: 'failed init', endpoint: broken.authEndpoint, failedInit: true },
    ];
    for (const c of cases) {
      const id = c.name.replace(/\W+/g, '-');
      await connect(page, id, socketOptions(stack.sockudo), HELPER_SETUP, { endpoint: c.endpoint, transport, token });
      const u = uniq();
      const channels = [`private-allowed-${u}`, `presence-room-${u}`];
      const results = await page.evaluate(([i, cs, t]) => Promise.all(cs.map((ch) => window.E2E.subscribe(i, ch, t))), [id, channels, 15_000]);
      const asked = await waitUntil(`the browser's answer for ${c.name}`, 5000, async () => {
        const found = answers.filter((a) => channels.includes(a.channel) && a.body !== undefined);
        return found.length ? found : undefined;
      });
      await sleep(200); // a second request, had there been one, would be here by now
      note(`${transport}, ${c.name}: ${JSON.stringify(answers.filter((a) => channels.includes(a.channel)))}`);
      assert.equal(answers.filter((a) => channels.includes(a.channel)).length, 1, `one request: ${JSON.stringify(asked)}`);
      const errors = (await helperErrors(page)).filter((e) => channels.includes(e.channel));
      // What the helper gives: the endpoint's refusal; for the failed init, a script answered
      // 500 fires the script's `error` event at once (network_error, 0), an XHR answered 500
      // without CORS headers reads as status 0 (http_error, 0).
      const code = c.failedInit ? (transport === 'jsonp' ? 'network_error' : 'http_error') : c.code;
      const status = c.failedInit ? (broken.answer.cors && transport === 'ajax' ? 500 : 0) : c.status;
      if (c.failedInit) {
        // JSONP: blocked by Chromium's ORB, the script's `error` event fires; AJAX (a simple
        // form POST, no preflight): the 500 has no Access-Control-Allow-Origin.
        assert.equal(asked[0].failure, transport === 'jsonp' ? 'net::ERR_BLOCKED_BY_ORB' : 'net::ERR_FAILED', JSON.stringify(asked[0]));
      } else {
        assert.equal(asked[0].status, 200);
        assert.deepEqual(jsonpCall(asked[0].body).payload, { error: 'server_error', status: 500 });
      }
      channels.forEach((channel, n) => {
        const what = `client package, ${transport}, ${c.name}, ${channel}`;
        const r = results[n];
        note(`${what}: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
        assert.equal(r.outcome, 'subscription_error', `${what}: ${JSON.stringify(r)}`);
        assert.deepEqual(r.detail, { type: 'AuthError', error: code, status }, what);
        assert.ok(r.elapsedMs < 2000, `${what}: at once, not after timeoutMs (${r.elapsedMs} ms)`);
        const e = errors.find((x) => x.channel === channel);
        assert.ok(e, `${what}: ${JSON.stringify(errors)}`);
        assert.equal(e.code, code, JSON.stringify(e));
        assert.equal(e.status, status, JSON.stringify(e));
        assert.deepEqual(subscribesFor(frames, channel), [], `${what}: no pusher:subscribe sent`);
      });
      assert.equal(await state(page, id), 'connected', `${c.name}: still connected`);
    }
  });
}

// ---------------------------------------------------------------------------
// A refused signin with pusher-js 8's own AJAX transport (JSONP: production.test.mjs; the
// client package: batch.test.mjs).

scenario('refused signin, pusher-js 8 over AJAX: pusher:signin_error with the status, nothing sent, still connected', async ({ open, note }) => {
  const { page, answers, frames } = await open('signin-ajax');
  const expired = await mintToken(cfg, { sub: `late-${uniq()}`, name: 'Late', expiresInSeconds: -600 });
  await connect(page, 'c', pusherOptions('ajax', stack.fn.authEndpoint, expired, stack.fn.userAuthEndpoint));
  const r = await page.evaluate(([i, t]) => window.E2E.signin(i, t), ['c', QUIET_MS]);
  note(`signin: ${r.outcome} after ${r.elapsedMs} ms ${JSON.stringify(r.detail)}`);
  const answer = await waitUntil('the user-auth answer', 5000, async () => answers.find((a) => a.route === 'user-auth' && a.body !== undefined));
  note(`answer ${answer.status} ${answer.body}`);
  assert.equal(answer.status, 401);
  assert.deepEqual(JSON.parse(answer.body), { error: 'token_expired', status: 401 });
  assert.equal(r.outcome, 'signin_error', JSON.stringify(r));
  assert.equal(r.detail.type, 'AuthError');
  assert.equal(r.detail.status, 401, JSON.stringify(r.detail));
  assert.ok(r.elapsedMs < 2000, `within 2 s (${r.elapsedMs} ms)`);
  assert.equal(r.userData, null, 'not signed in');
  assert.deepEqual(frames.filter((f) => f.event === 'pusher:signin'), [], 'no pusher:signin sent');
  await sleep(300);
  assert.deepEqual(await errors4009(page, 'c'), [], 'no 4009');
  assert.equal(await state(page, 'c'), 'connected', 'still connected');
});
