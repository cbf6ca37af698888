// End-to-end: batched channel authorization, watchlists and the token_expired recipes, with the
// real pusher-js (8.x and 7.x) in headless Chromium against sockudo and the function under
// `cargo lambda watch`. Clients on the wire: the repository's client/pusher-batch-auth.js (served
// from the checkout) and the npm pusher-js-auth plugin. See README.md next to this file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CHANNEL_RULES,
  REPO_ROOT,
  WAIT_MS,
  WORK_DIR,
  browserScenario,
  bundledPage,
  channelInfo,
  jsonLines,
  loadPage,
  makeConfig,
  mintToken,
  presenceUsers,
  socketOptions as stackSocketOptions,
  startStack,
  stopStack,
  uniq,
  waitUntil,
  connectWithSetup,
} from './lib/harness.mjs';
import { upToDate } from '../../client/build.mjs';

const WATCHLIST_CLAIM = 'watchlist';

const cfg = makeConfig();
let stack; // startStack's handles
let sockudo;
let fn;
let pageServer; // its origin is in ALLOWED_ORIGINS
let api; // the official npm `pusher` server library, talking to sockudo's HTTP API
const consoleLines = [];

before(
  async () => {
    stack = await startStack(cfg, {
      pageServers: 1,
      // Watchlist events are off by default in sockudo.
      sockudo: { watchlistEvents: true },
      fn: ({ pages }) => ({
        allowedOrigins: [pages[0].origin],
        // A token expires when its exp passes (no leeway), and signin copies the watchlist claim.
        env: { WATCHLIST_CLAIM, JWT_LEEWAY_SECONDS: '0' },
      }),
      api: { encryption: false },
    });
    ({ sockudo, fn, api } = stack);
    [pageServer] = stack.pages;
    console.log(`# function ready after ${fn.readyAfterMs} ms; work dir ${WORK_DIR}`);
    console.log(`# CHANNEL_RULES="${CHANNEL_RULES}"; WATCHLIST_CLAIM=${WATCHLIST_CLAIM}; JWT_LEEWAY_SECONDS=0`);
  },
  { timeout: 420_000 },
);

after(() => stopStack(stack));

// ---------------------------------------------------------------------------
// helpers

/** Options every client needs to reach sockudo. */
const socketOptions = () => stackSocketOptions(sockudo);

/**
 * A scenario: its own browser contexts, closed afterwards; on failure prints the browser
 * console, the function's log and sockudo's log from this scenario. `open(label, path)` loads
 * one of the page server's pages and records every request the page makes to the function.
 */
function scenario(name, body, timeout) {
  browserScenario(name, { stack: () => stack, consoleLines, timeout }, ({ newContext, note }) => {
    const open = async (label, path) => {
      const context = await newContext();
      const requests = [];
      const page = await loadPage(context, consoleLines, label, `${pageServer.origin}${path}`, {
        version: path.slice(2, 3),
        beforeGoto: (p) =>
          p.on('request', (r) => {
            if (r.url().startsWith(`${fn.base}/`)) requests.push({ method: r.method(), url: r.url() });
          }),
      });
      return { page, requests };
    };
    return body({ open, note });
  });
}

/** The function's channel-authorization log lines written since `offset`. */
function channelAuthLines(offset) {
  return jsonLines(fn.child.logSince(offset)).filter((e) => e.route === 'channel-auth');
}

/** Waits until the function has logged `count` channel-authorization lines since `offset`. */
function channelAuthLogged(offset, count) {
  return waitUntil(`${count} channel-auth log line(s) from the function`, 5000, async () => {
    const lines = channelAuthLines(offset);
    return lines.length >= count ? lines : undefined;
  });
}

/** The `batch` field of a log line as {channel: reason}. */
function batchDecisions(line) {
  assert.equal(typeof line.batch, 'string', `a batch line: ${JSON.stringify(line)}`);
  return Object.fromEntries(
    line.batch.split(' ').map((entry) => {
      const at = entry.lastIndexOf(':');
      return [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
}

/**
 * Connects client `id` on the page; `setup` is a function source run in the page with
 * (options, arg) that may add to the options (an authorizer, a customHandler) before
 * `new Pusher`. Returns the socket id.
 */
function connect(page, id, options, setup = null, arg = null) {
  return connectWithSetup(page, cfg.key, id, options, setup, arg);
}

/** Subscribes to every channel in one turn of the page's event loop; pusher-js's outcome for each. */
async function subscribeAll(page, id, channels) {
  const results = await page.evaluate(
    ([i, cs, t]) => Promise.all(cs.map((c) => window.E2E.subscribe(i, c, t))),
    [id, channels, WAIT_MS],
  );
  return Object.fromEntries(channels.map((c, n) => [c, results[n]]));
}

async function channelOccupied(channel) {
  return (await channelInfo(api, channel)).occupied;
}

/** 5 private and 5 presence channels the policy allows. */
function tenChannels() {
  const u = uniq();
  return [
    ...[0, 1, 2, 3, 4].map((i) => `private-allowed-${u}-${i}`),
    ...[0, 1, 2, 3, 4].map((i) => `presence-room-${u}-${i}`),
  ];
}

/** Every channel subscribed, as pusher-js reports it and as sockudo's HTTP API confirms it. */
async function assertAllSubscribed(results, sub) {
  for (const [channel, r] of Object.entries(results)) {
    assert.equal(r.outcome, 'subscription_succeeded', `${channel}: ${JSON.stringify(r)}`);
    assert.equal(r.subscribed, true, channel);
    if (channel.startsWith('presence-')) {
      assert.deepEqual(await presenceUsers(api, channel), [sub], `sockudo lists ${sub} in ${channel}`);
    } else {
      assert.equal(await channelOccupied(channel), true, `sockudo has the subscriber of ${channel}`);
    }
  }
}

// In-page setup (function sources run with `options` and `arg`; see `connect`).

// client/pusher-batch-auth.js as pusher-js 8's customHandler; each request it sends is recorded.
const HELPER_SETUP = `
  window.E2E_BATCH_REQUESTS = [];
  const batch = PusherBatchAuth({
    endpoint: arg.endpoint,
    transport: arg.transport,
    params: { token: arg.token },
    onRequest: (channels) => window.E2E_BATCH_REQUESTS.push(channels),
  });
  options.channelAuthorization = { customHandler: batch.handler };
`;

// The npm pusher-js-auth plugin, configured the legacy way (pusher-js 8 ignores `authorizer`
// when `channelAuthorization` is set). It must have found this page's pusher-js.
const PLUGIN_SETUP = `
  if (typeof window.PusherBatchAuthorizer !== 'function') throw new Error('pusher-js-auth did not load');
  options.authEndpoint = arg.endpoint;
  options.auth = { params: { token: arg.token } };
  options.authorizer = window.PusherBatchAuthorizer;
`;

const CLIENTS = [
  { name: 'client/pusher-batch-auth.js over JSONP (pusher-js 8)', path: '/v8-batch-helper.html', setup: HELPER_SETUP, transport: 'jsonp' },
  // The client/ package as a bundler takes it (its package.json `exports`: the ES module),
  // bundled by esbuild with pusher-js 8.
  { name: 'pusher-batch-auth imported and bundled by esbuild over JSONP (pusher-js 8)', path: '/v8-bundled.html', setup: HELPER_SETUP, transport: 'jsonp', bundled: true },
  { name: 'pusher-batch-auth imported and bundled by esbuild over AJAX (pusher-js 8)', path: '/v8-bundled.html', setup: HELPER_SETUP, transport: 'ajax', bundled: true },
  { name: 'pusher-js-auth over AJAX with pusher-js 8', path: '/v8-pusher-js-auth.html', setup: PLUGIN_SETUP, transport: 'ajax' },
  { name: 'pusher-js-auth over AJAX with pusher-js 7', path: '/v7-pusher-js-auth.html', setup: PLUGIN_SETUP, transport: 'ajax' },
];

// The script-tag build is generated from the package's one source (client/build.mjs).
test('client/pusher-batch-auth.js is the build of client/src/pusher-batch-auth.mjs (node client/build.mjs)', () => {
  assert.ok(upToDate(), 'run node client/build.mjs');
});

// docs/batching.md installs the package from what `npm pack ./client` writes: it holds every
// file the package's `exports`, `main` and `types` name.
test('npm pack of client/ holds every file its package.json names', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--loglevel=error', './client'], { cwd: REPO_ROOT, encoding: 'utf8' }));
  const files = packed.files.map((f) => f.path).sort();
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'client/package.json'), 'utf8'));
  const named = new Set([pkg.main, pkg.module, pkg.types]);
  const walk = (v) => (typeof v === 'string' ? named.add(v) : Object.values(v).forEach(walk));
  walk(pkg.exports);
  for (const file of named) assert.ok(files.includes(file.replace(/^\.\//, '')), `${file} is in the tarball: ${files}`);
  assert.equal(packed.name, 'pusher-batch-auth');
});

/** The bundled page: built from the package's ES module (not the script-tag build). */
async function assertBundled(page) {
  const { inputs } = await bundledPage();
  assert.ok(inputs.some((f) => f.endsWith('client/src/pusher-batch-auth.mjs')), `the ES module was bundled: ${inputs}`);
  assert.ok(!inputs.some((f) => f.endsWith('client/pusher-batch-auth.js')), `not the script-tag build: ${inputs}`);
  // Observed: pusher-js 8's web build sets window.Pusher itself when it loads (its runtime's
  // setup; with encryption, to the base class the imported one extends, sharing its static
  // `instances` and `auth_callbacks`), bundled or not, so JSONP answers reach it either way.
  assert.deepEqual(
    await page.evaluate(() => [typeof window.Pusher, window.E2E_PUSHER.prototype instanceof window.Pusher,
      window.E2E_PUSHER.instances === window.Pusher.instances, Array.isArray(window.Pusher.instances)]),
    ['function', true, true, true],
    'the bundled pusher-js made its base class window.Pusher',
  );
}

// ---------------------------------------------------------------------------
// 10 private and presence channels in one request; a forbidden channel in a batch.

for (const client of CLIENTS) {
  scenario(`${client.name}: 10 private and presence channels, one request, all subscribed`, async ({ open, note }) => {
    const { page, requests } = await open('batch10', client.path);
    if (client.bundled) await assertBundled(page);
    const sub = `user-${uniq()}`;
    const token = await mintToken(cfg, { sub, name: 'Batch Person' });
    await connect(page, 'c', socketOptions(), client.setup, { endpoint: fn.authEndpoint, transport: client.transport, token });
    const channels = tenChannels();
    const since = fn.child.logSize();
    await assertAllSubscribed(await subscribeAll(page, 'c', channels), sub);

    // One request from the browser to the function, carrying all 10 channels.
    assert.equal(requests.length, 1, `one request to the function: ${JSON.stringify(requests.map((r) => r.method))}`);
    assert.equal(requests[0].method, client.transport === 'jsonp' ? 'GET' : 'POST');
    if (client.transport === 'jsonp') {
      const url = new URL(requests[0].url);
      assert.match(url.searchParams.get('callback'), /^Pusher\.auth_callbacks\['\d+'\]$/);
      assert.deepEqual(channels.map((_, i) => url.searchParams.get(`channel_name[${i}]`)), channels);
      assert.deepEqual(await page.evaluate(() => window.E2E_BATCH_REQUESTS), [channels], 'the helper sent one batch');
    }
    // One log line for it: a batch naming all 10, each allowed.
    await channelAuthLogged(since, 1);
    await sleep(200); // a second request, had there been one, would have been logged by now too
    const lines = channelAuthLines(since);
    assert.equal(lines.length, 1, `one channel-auth line: ${JSON.stringify(lines)}`);
    assert.equal(lines[0].transport, client.transport);
    assert.equal(lines[0].decision, 'allowed');
    assert.deepEqual(batchDecisions(lines[0]), Object.fromEntries(channels.map((c) => [c, 'ok'])));
    note(`1 request for ${channels.length} channels; logged duration_us=${lines[0].duration_us}`);
  });

  scenario(`${client.name}: a forbidden channel in a batch is refused, the others subscribe`, async ({ open }) => {
    const { page, requests } = await open('forbidden', client.path);
    if (client.bundled) await assertBundled(page);
    const sub = `user-${uniq()}`;
    const token = await mintToken(cfg, { sub, name: 'Batch Person' });
    await connect(page, 'c', socketOptions(), client.setup, { endpoint: fn.authEndpoint, transport: client.transport, token });
    const u = uniq();
    const allowed = [`private-allowed-${u}-a`, `presence-room-${u}-b`, `private-allowed-${u}-c`];
    const forbidden = `private-forbidden-${u}`;
    const since = fn.child.logSize();
    const results = await subscribeAll(page, 'c', [allowed[0], forbidden, ...allowed.slice(1)]);
    assert.equal(results[forbidden].outcome, 'subscription_error', `${forbidden}: ${JSON.stringify(results[forbidden])}`);
    assert.equal(results[forbidden].subscribed, false);
    assert.equal(results[forbidden].detail.type, 'AuthError');
    if (client.setup === HELPER_SETUP) {
      // The helper's refusal reaches the page as plain pusher-js's over JSONP: the code and status.
      assert.deepEqual(results[forbidden].detail, { type: 'AuthError', error: 'forbidden', status: 403 }, JSON.stringify(results[forbidden]));
    }
    delete results[forbidden];
    await assertAllSubscribed(results, sub);
    assert.equal(await channelOccupied(forbidden), false, 'sockudo has no subscriber on the forbidden channel');
    assert.equal(requests.length, 1, 'one request to the function');
    const [line] = await channelAuthLogged(since, 1);
    assert.deepEqual(batchDecisions(line), {
      [allowed[0]]: 'ok',
      [forbidden]: 'channel_not_allowed',
      [allowed[1]]: 'ok',
      [allowed[2]]: 'ok',
    });
  });
}

// ---------------------------------------------------------------------------
// Signin through the helper (userAuthentication.customHandler), bundled: signed over JSONP
// and AJAX, and a refused signin is pusher:signin_error with the endpoint's code, over JSONP
// too (the endpoint's signin denial calls the helper's callback, marked acceptsErrors).

const SIGNIN_SETUP = `
  const batch = PusherBatchAuth({ endpoint: arg.endpoint, transport: arg.transport, params: { token: arg.token } });
  options.channelAuthorization = { customHandler: batch.handler };
  options.userAuthentication = { customHandler: batch.userHandler };
`;

for (const transport of ['jsonp', 'ajax']) {
  scenario(`pusher-batch-auth bundled, ${transport.toUpperCase()}: signin through userHandler, and a refused signin is signin_error with the code`, async ({ open }) => {
    const { page, requests } = await open('signin', '/v8-bundled.html');
    const sub = `signer-${uniq()}`;
    const arg = { endpoint: fn.authEndpoint, transport };
    await connect(page, 'ok', socketOptions(), SIGNIN_SETUP, { ...arg, token: await mintToken(cfg, { sub, name: 'Signer' }) });
    let r = await page.evaluate(([i, t]) => window.E2E.signin(i, t), ['ok', WAIT_MS]);
    assert.equal(r.outcome, 'signin_success', JSON.stringify(r));
    assert.equal(r.userData.id, sub);
    const userAuth = requests.filter((q) => q.url.includes('/pusher/user-auth'));
    assert.equal(userAuth.length, 1, 'the helper asked /pusher/user-auth');
    assert.equal(userAuth[0].method, transport === 'jsonp' ? 'GET' : 'POST');

    const expired = await mintToken(cfg, { sub, name: 'Signer', expiresInSeconds: -600 });
    await connect(page, 'late', socketOptions(), SIGNIN_SETUP, { ...arg, token: expired });
    r = await page.evaluate(([i, t]) => window.E2E.signin(i, t), ['late', 5000]);
    assert.equal(r.outcome, 'signin_error', `the page sees the refused signin: ${JSON.stringify(r)}`);
    assert.deepEqual(r.detail, { type: 'AuthError', error: 'token_expired', status: 401 }, JSON.stringify(r));
    assert.ok(r.elapsedMs < 2000, `within 2 s (${r.elapsedMs} ms)`);
    assert.equal(r.userData, null, 'not signed in');
    assert.equal((await page.evaluate((i) => window.E2E.state(i), 'late')).state, 'connected', 'still connected');
  });
}

// ---------------------------------------------------------------------------
// Whatever an endpoint answers, the client package settles every channel and the signin: each
// gets pusher-js's AuthError with a string code and a numeric status, at once. The answers come
// from a stand-in endpoint on the page's origin (Playwright answers its requests: the function
// never gives these), over JSONP (the callback called with the answer) and AJAX (the body).

/** Hostile answers to a batch of `channels` (private, presence, encrypted, private) and to the signin. */
const HOSTILE_ANSWERS = [
  ['an error whose status is an object', () => '{"error":"forbidden","status":{"toString":1}}'],
  ['an error whose code is an object', () => '{"error":{"toString":1},"status":401}'],
  ['an error with a huge status', () => '{"error":"forbidden","status":1e400}'],
  ['null', () => 'null'],
  ['a number', () => '42'],
  ['a string', () => '"signed"'],
  ['an array', () => '[{"status":200,"data":{"auth":"k:s"}}]'],
  ['no channel answered', () => '{}'],
  // Served as it is: over JSONP a script that runs without calling back.
  ['a script that never calls back', () => ({ raw: 'void 0;' })],
  ['each channel answered wrongly', (channels) => JSON.stringify({
    [channels[0]]: { status: { toString: 1 } },
    [channels[1]]: { status: 200, data: { auth: 'k:s', channel_data: '{not json' } },
    [channels[2]]: { status: 200, data: { auth: 'k:s', shared_secret: '!!not base64!!' } },
    [channels[3]]: { status: 200, data: { auth: 5 } },
    auth: 'k:s',
    user_data: { id: 'not a string' },
  })],
];

const HOSTILE_SETUP = `
  const batch = PusherBatchAuth({ endpoint: arg.endpoint, transport: arg.transport, params: { case: arg.case } });
  options.channelAuthorization = { customHandler: batch.handler };
  options.userAuthentication = { customHandler: batch.userHandler };
`;

for (const transport of ['jsonp', 'ajax']) {
  scenario(`pusher-batch-auth over ${transport.toUpperCase()}: any answer, however shaped, settles every channel and the signin`, async ({ open, note }) => {
    const { page } = await open(`hostile-${transport}`, '/v8-batch-helper.html');
    const endpoint = `${pageServer.origin}/hostile/pusher/auth`;
    const answers = {}; // case number -> the answer's body
    await page.route(`${pageServer.origin}/hostile/**`, (route) => {
      const req = route.request();
      const params = new URLSearchParams(req.method() === 'GET' ? new URL(req.url()).search : req.postData() || '');
      const body = answers[params.get('case')];
      if (body.raw) return route.fulfill({ status: 200, contentType: transport === 'jsonp' ? 'application/javascript' : 'application/json', body: body.raw });
      if (transport === 'jsonp') {
        return route.fulfill({ status: 200, contentType: 'application/javascript', body: `${params.get('callback')}(${body});` });
      }
      return route.fulfill({ status: 200, contentType: 'application/json', body });
    });
    for (const [n, [name, answer]] of HOSTILE_ANSWERS.entries()) {
      const u = uniq();
      const channels = [`private-allowed-${u}`, `presence-room-${u}`, `private-encrypted-room-${u}`, `private-allowed-${u}-b`];
      answers[n] = answer(channels);
      const id = `hostile-${n}`;
      await connect(page, id, socketOptions(), HOSTILE_SETUP, { endpoint, transport, case: String(n) });
      const outcomes = await page.evaluate(([i, cs, t]) => Promise.all(cs.map((c) => window.E2E.subscribe(i, c, t))), [id, channels, 5000]);
      const results = Object.fromEntries(channels.map((c, k) => [c, outcomes[k]]));
      const signin = await page.evaluate(([i, t]) => window.E2E.signin(i, t), [id, 5000]);
      for (const [what, r] of [...Object.entries(results), ['signin', signin]]) {
        const expected = what === 'signin' ? 'signin_error' : 'subscription_error';
        assert.equal(r.outcome, expected, `${name}: ${what}: ${JSON.stringify(r)}`);
        assert.equal(r.detail.type, 'AuthError', `${name}: ${what}: ${JSON.stringify(r)}`);
        assert.equal(typeof r.detail.error, 'string', `${name}: ${what}: a string code: ${JSON.stringify(r)}`);
        assert.ok(Number.isInteger(r.detail.status), `${name}: ${what}: a numeric status: ${JSON.stringify(r)}`);
        assert.ok(r.elapsedMs < 2000, `${name}: ${what}: at once (${r.elapsedMs} ms)`);
      }
      note(`${name}: ${[...Object.values(results), signin].map((r) => `${r.detail.error} (${r.detail.status})`).join(', ')}`);
      assert.equal((await page.evaluate((i) => window.E2E.state(i), id)).state, 'connected', `${name}: still connected`);
    }
  });
}

// ---------------------------------------------------------------------------
// Watchlists: WATCHLIST_CLAIM copied into signin user_data; sockudo's online/offline events.

scenario('watchlist: the watcher sees the watched user come online and go offline', async ({ open, note }) => {
  const { page } = await open('watchlist', '/v8.html');
  const alice = `alice-${uniq()}`;
  const bob = `bob-${uniq()}`;
  // sockudo 5.2.0 tracks a signed-in user for watchers only when that user's own user_data
  // carries a watchlist (sockudo-adapter handle_signin_watchlist / handle_disconnect_watchlist_events),
  // so Bob's token carries an empty one.
  const aliceToken = await mintToken(cfg, { sub: alice, name: 'Alice', claims: { [WATCHLIST_CLAIM]: [bob] } });
  const bobToken = await mintToken(cfg, { sub: bob, name: 'Bob', claims: { [WATCHLIST_CLAIM]: [] } });
  const opts = (token) => ({
    ...socketOptions(),
    userAuthentication: { endpoint: fn.userAuthEndpoint, transport: 'jsonp', params: { token } },
  });
  // Both the pusher-js 8 API (pusher.user.watchlist) and the plain events are recorded.
  const WATCH = `
    const record = (kind) => (data) => window.E2E.log.push({ client: 'alice', kind, detail: JSON.parse(JSON.stringify(data)) });
    window.E2E_WATCH = () => {
      const p = window.E2E.client('alice');
      p.user.watchlist.bind('online', record('watchlist:online'));
      p.user.watchlist.bind('offline', record('watchlist:offline'));
    };
  `;
  await connect(page, 'alice', opts(aliceToken), WATCH);
  await page.evaluate(() => window.E2E_WATCH());
  const signin = async (id, sub, list) => {
    const r = await page.evaluate(([i, t]) => window.E2E.signin(i, t), [id, WAIT_MS]);
    assert.equal(r.outcome, 'signin_success', `${id} signs in: ${JSON.stringify(r)}`);
    assert.deepEqual(r.userData, { id: sub, user_info: { name: id === 'alice' ? 'Alice' : 'Bob' }, watchlist: list });
  };
  await signin('alice', alice, [bob]);

  // The events for Bob that reached Alice's pusher-js, in order: from sockudo 5.2.0 they arrive
  // as top-level `online`/`offline` events with {user_ids}.
  const bobEvents = async () =>
    (await page.evaluate(() => window.E2E.log))
      .filter((e) => e.client === 'alice')
      .flatMap((e) => {
        if (e.kind === 'global' && ['online', 'offline'].includes(e.detail.event)) {
          return (e.detail.data.user_ids || []).includes(bob) ? [`${e.detail.event}`] : [];
        }
        if (e.kind.startsWith('watchlist:')) return (e.detail.user_ids || []).includes(bob) ? [e.kind] : [];
        return [];
      });
  const seen = (kind, after) => async () => {
    const events = await bobEvents();
    return events.lastIndexOf(kind) > after ? events : undefined;
  };

  const before = (await bobEvents()).length - 1;
  await connect(page, 'bob', opts(bobToken));
  await signin('bob', bob, []);
  const online = await waitUntil('Alice to hear that Bob is online', WAIT_MS, seen('online', before), 50);
  const onlineAt = online.lastIndexOf('online');
  await page.evaluate(() => window.E2E.disconnect('bob'));
  const all = await waitUntil('Alice to hear that Bob went offline', WAIT_MS, seen('offline', onlineAt), 50);
  // pusher.user.watchlist listens for pusher_internal:watchlist_events, which sockudo 5.2.0 does not send.
  note(`events about Bob at Alice, in order: ${all.join(', ')} (through pusher.user.watchlist: ${all.filter((k) => k.startsWith('watchlist:')).length})`);
  assert.ok(all.indexOf('offline', onlineAt) > onlineAt, 'online, then offline');
});

// ---------------------------------------------------------------------------
// token_expired: the two recipes of docs/users.md, read from the page and run verbatim.

/** The ```js block that follows `<!-- e2e: <name> -->` in docs/users.md. */
function readmeBlock(name) {
  const readme = readFileSync(join(REPO_ROOT, 'docs', 'users.md'), 'utf8');
  const m = readme.match(new RegExp(`<!-- e2e: ${name} -->\\n\`\`\`js\\n([\\s\\S]*?)\\n\`\`\`\\n`));
  assert.ok(m, `docs/users.md has the block ${name}`);
  return m[1];
}

for (const [recipe, transport] of [['token-expired-jsonp', 'jsonp'], ['token-expired-ajax', 'ajax']]) {
  scenario(`token_expired over ${transport.toUpperCase()}: the docs' recipe refreshes the token and the channels subscribe`, async ({ open, note }) => {
    const { page, requests } = await open(recipe, '/v8-batch-helper.html');
    const sub = `user-${uniq()}`;
    // The page's first token expires 2 s after it is minted; later ones are fresh.
    const expiring = await mintToken(cfg, { sub, name: 'Refresher', expiresInSeconds: 2 });
    const expiresAt = JSON.parse(Buffer.from(expiring.split('.')[1], 'base64url').toString()).exp;
    const issued = [];
    await page.exposeFunction('e2eFetchToken', async () => {
      issued.push(issued.length === 0 ? 'expiring' : 'fresh');
      return issued.length === 1 ? expiring : mintToken(cfg, { sub, name: 'Refresher' });
    });
    // Past exp by the wall clock (the function runs on this machine, JWT_LEEWAY_SECONDS=0).
    await sleep(Math.max(0, (expiresAt + 1) * 1000 - Date.now()));

    const since = fn.child.logSize();
    const socketId = await page.evaluate(
      async ([code, key, base, extra, id, t]) => {
        // The docs' block as written: `key`, `cluster`, `base`, `fetchToken` are the page's;
        // `Pusher` adds only where sockudo is (wsHost, …) and registers the client with E2E.
        let connected;
        function Pusher(k, options) {
          connected = window.E2E.connect(id, k, Object.assign({}, options, extra), t);
          return window.E2E.client(id);
        }
        const fetchToken = () => window.e2eFetchToken();
        const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
        const run = new AsyncFunction('key', 'cluster', 'base', 'fetchToken', 'Pusher', 'PusherBatchAuth', `${code}\nreturn pusher;`);
        await run(key, 'mt1', base, fetchToken, Pusher, window.PusherBatchAuth);
        const r = await connected;
        return r.outcome === 'connected' ? r.detail.socketId : JSON.stringify(r);
      },
      [readmeBlock(recipe), cfg.key, fn.base, socketOptions(), 'c', WAIT_MS],
    );
    assert.match(socketId, /^\d+\.\d+$/, 'connected');
    const channels = [`private-allowed-${uniq()}`, `presence-room-${uniq()}`];
    await assertAllSubscribed(await subscribeAll(page, 'c', channels), sub);
    assert.deepEqual(issued, ['expiring', 'fresh'], 'the page fetched a token once, then refreshed it once');

    // The function refused the expired token with its own reason, then signed with the fresh one.
    const lines = channelAuthLines(since).filter((e) => e.transport === transport);
    const expired = lines.filter((e) => e.reason === 'token_expired');
    const ok = lines.filter((e) => e.decision === 'allowed');
    if (transport === 'jsonp') {
      // One batch refused as a whole, one batch signed: one refresh for both channels.
      assert.equal(expired.length, 1, JSON.stringify(lines));
      assert.equal(ok.length, 1, JSON.stringify(lines));
      assert.deepEqual(batchDecisions(ok[0]), Object.fromEntries(channels.map((c) => [c, 'ok'])));
      assert.deepEqual(requests.map((r) => r.method), ['GET', 'GET']);
    } else {
      // One request per channel and attempt: each channel refused once, then signed.
      assert.deepEqual(expired.map((e) => e.channel).sort(), [...channels].sort(), JSON.stringify(lines));
      assert.deepEqual(ok.map((e) => e.channel).sort(), [...channels].sort(), JSON.stringify(lines));
      assert.equal(expired[0].status, 401);
    }
    note(`function lines: ${lines.map((e) => `${e.channel || 'batch'}:${e.reason}`).join(' ')}`);
  });
}

// The Amplify recipe of docs/users.md, run verbatim (its `import` line left out) with pusher-js 8
// over JSONP and a stand-in for Amplify v6's `fetchAuthSession` that hands out tokens the function
// accepts, shaped as Amplify's ({tokens: {idToken: {toString(), payload}}}). The first token
// expires 62 s after it is minted, so the recipe refreshes it after about 2 s.
scenario('Amplify recipe: a cached token for paramsProvider, refreshed before it expires', async ({ open, note }) => {
  const { page, requests } = await open('amplify', '/v8.html');
  const sub = `amplify-${uniq()}`;
  const issued = []; // [{ token, forceRefresh }]
  await page.exposeFunction('e2eFetchAuthSession', async (forceRefresh) => {
    const token = await mintToken(cfg, { sub, name: 'Amplify User', expiresInSeconds: issued.length === 0 ? 62 : 600 });
    issued.push({ token, forceRefresh });
    return token;
  });
  const code = readmeBlock('amplify').replace(/^import .*\n/m, '');
  const socketId = await page.evaluate(
    async ([block, key, base, extra, id, t]) => {
      let connected;
      function Pusher(k, options) {
        connected = window.E2E.connect(id, k, Object.assign({}, options, extra), t);
        return window.E2E.client(id);
      }
      async function fetchAuthSession({ forceRefresh } = {}) {
        const jwt = await window.e2eFetchAuthSession(Boolean(forceRefresh));
        const payload = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
        return { tokens: { idToken: { toString: () => jwt, payload } } };
      }
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
      await new AsyncFunction('key', 'cluster', 'base', 'fetchAuthSession', 'Pusher', block)(key, 'mt1', base, fetchAuthSession, Pusher);
      const r = await connected;
      return r.outcome === 'connected' ? r.detail.socketId : JSON.stringify(r);
    },
    [code, cfg.key, fn.base, socketOptions(), 'c', WAIT_MS],
  );
  assert.match(socketId, /^\d+\.\d+$/, 'connected');
  const tokenOf = (channel) => {
    const asked = requests.map((r) => new URL(r.url).searchParams).find((q) => q.get('channel_name') === channel);
    return asked && asked.get('token');
  };
  const first = `private-allowed-${uniq()}`;
  await assertAllSubscribed(await subscribeAll(page, 'c', [first]), sub);
  assert.ok(tokenOf(first) === issued[0].token, 'the first channel was asked with the first token');
  await waitUntil('the recipe to refresh the token before it expires', 10_000, async () => issued.length >= 2);
  assert.deepEqual(issued.map((i) => i.forceRefresh), [false, true], 'fetched once, then refreshed with forceRefresh');
  const second = `presence-room-${uniq()}`;
  await assertAllSubscribed(await subscribeAll(page, 'c', [second]), sub);
  assert.ok(tokenOf(second) === issued[1].token, 'a channel subscribed after the refresh is asked with the new token');
  note(`tokens handed out: ${issued.length}; requests: ${requests.length}`);
});
