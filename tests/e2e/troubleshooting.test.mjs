// End-to-end: the rows of docs/troubleshooting.md the function cannot see, made on purpose with
// the real pusher-js 8 in headless Chromium against sockudo and the function under
// `cargo lambda watch`. The function signs with the key and secret it is given; only the server
// can tell that they are not the app's. See README.md next to this file.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CHANNEL_RULES,
  WAIT_MS,
  WORK_DIR,
  browserScenario,
  channelInfo,
  jsonLines,
  loadPage,
  makeConfig,
  mintToken,
  pageLog,
  recordSentFrames,
  socketOptions,
  startFunction,
  startStack,
  stopStack,
  subscribe,
  uniq,
  waitUntil,
} from './lib/harness.mjs';

const cfg = makeConfig(); // the sockudo app: id, key, secret
let stack; // startStack's handles; stack.fn is replaced for each mistake
const consoleLines = [];

// What sockudo 5.2.0 answers a `pusher:subscribe` whose signature it cannot verify with the app's key
// and secret (sockudo-adapter channel_manager.rs; its Error::Auth is code 4009).
const SOCKUDO_BAD_SIGNATURE = 'Authentication error: Channel requires authentication';

// How long a subscription that never gets an answer is watched before it counts as unanswered.
const QUIET_MS = 3000;

before(
  async () => {
    // The function first runs with the app's own key and secret (the cluster row), then is
    // restarted with each mistake (the describe blocks below).
    stack = await startStack(cfg, { pageServers: 1, fn: ({ pages }) => ({ allowedOrigins: [pages[0].origin] }) });
    console.log(`# function ready after ${stack.fn.readyAfterMs} ms; work dir ${WORK_DIR}`);
    console.log(`# CHANNEL_RULES="${CHANNEL_RULES}"; sockudo app key ${cfg.key}`);
  },
  { timeout: 420_000 },
);

after(() => stopStack(stack));

/** Restarts the function with the app's settings changed by `mistake` (e.g. another key). */
async function restartFunction(mistake) {
  await stack.fn.child.stop();
  stack.fn = undefined;
  stack.fn = await startFunction({ ...cfg, ...mistake }, { allowedOrigins: [stack.pages[0].origin] });
  console.log(`# function restarted with ${Object.keys(mistake).join(', ')} not the app's; ready after ${stack.fn.readyAfterMs} ms`);
}

// ---------------------------------------------------------------------------
// helpers

/**
 * A scenario: a page of pusher-js 8 from the page server (its origin is in ALLOWED_ORIGINS),
 * every browser request to the function recorded; on failure the browser console, the
 * function's log and sockudo's log from this scenario are printed.
 */
function scenario(name, body) {
  browserScenario(name, { stack: () => stack, consoleLines }, async ({ newContext, note }) => {
    const context = await newContext();
    const requests = [];
    const frames = []; // every WebSocket frame the page sends
    const sockets = []; // every WebSocket the page opens: frames received, closed or not
    const page = await loadPage(context, consoleLines, name, `${stack.pages[0].origin}/v8.html`, {
      version: 8,
      beforeGoto: (p) => {
        recordSentFrames(p, frames);
        p.on('websocket', (ws) => {
          const socket = { url: ws.url(), received: [], closed: false };
          sockets.push(socket);
          ws.on('framereceived', (f) => socket.received.push(String(f.payload)));
          ws.on('close', () => {
            socket.closed = true;
          });
        });
        p.on('request', (r) => {
          if (r.url().startsWith(`${stack.fn.base}/`)) requests.push(r.url());
        });
      },
    });
    return body({ page, requests, frames, sockets, note });
  });
}

/** pusher-js 8 options: the function as channel authorization endpoint, the token in `params` (JSONP) or a header (AJAX). */
function options(transport, token) {
  const channelAuthorization = { endpoint: stack.fn.authEndpoint, transport };
  if (transport === 'jsonp') channelAuthorization.params = { token };
  else channelAuthorization.headers = { Authorization: `Bearer ${token}` };
  return { ...socketOptions(stack.sockudo), channelAuthorization };
}

function connect(page, id, key, opts, timeoutMs = WAIT_MS) {
  return page.evaluate(([i, k, o, t]) => window.E2E.connect(i, k, o, t), [id, key, opts, timeoutMs]);
}

/** The function's channel-auth log lines for `channel` written since `offset`. */
function channelAuthLines(offset, channel) {
  return jsonLines(stack.fn.child.logSince(offset)).filter((e) => e.route === 'channel-auth' && e.channel === channel);
}

/** Everything the page recorded for client `id` (page/page.js: states, errors, events). */
async function clientLog(page, id) {
  return (await pageLog(page)).filter((e) => e.client === id);
}

// ---------------------------------------------------------------------------
// A cluster (and so an app key) the server does not know: pusher-js never connects and the
// function is never asked. sockudo has no clusters; the mistake as the server sees it is a
// key it has no app for (the Pusher service answers that as "App key … not in this cluster").

// Runs first, with the function configured with the app's own key and secret.
describe('cluster-mismatch', () => {
  scenario('troubleshooting: cluster-mismatch (a key sockudo has no app for): no connection, the function never asked', async ({ page, requests, frames, sockets, note }) => {
    const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Trouble Shooter' });
    const unknownKey = `not-this-cluster-${uniq()}`;
    const fnMark = stack.fn.child.logSize();
    const sockudoMark = stack.sockudo.child.logSize();
    const channel = `private-allowed-${uniq()}`;
    // The cluster is not the app's; wsHost still points at sockudo, which knows no such key.
    const opts = { ...options('ajax', token), cluster: 'ap1' };
    const connected = await connect(page, 'x', unknownKey, opts, 10_000);
    note(`connect: ${JSON.stringify(connected)}`);
    assert.equal(connected.outcome, 'timeout', `never connected within 10 s: ${JSON.stringify(connected)}`);
    const r = await subscribe(page, 'x', channel, QUIET_MS);
    note(`subscribe: ${JSON.stringify(r)}`);
    const log = await clientLog(page, 'x');

    // What the page sees: sockudo 5.2.0 accepts the WebSocket upgrade, finds no app for the key
    // and drops the socket without a pusher:error or a close frame; pusher-js reports 1006 and
    // keeps retrying, never `connected`.
    const WS_1006 = { type: 'WebSocketError', error: { type: 'PusherError', data: { code: 1006 } } };
    const errors = log.filter((e) => e.kind === 'connection-error');
    note(`${errors.length} connection errors`);
    assert.ok(errors.length >= 2, `pusher-js retried: ${JSON.stringify(errors)}`);
    for (const e of errors) assert.deepEqual(e.detail, WS_1006, JSON.stringify(e));
    assert.ok(log.every((e) => e.kind !== 'state' || e.detail.current !== 'connected'), `never connected: ${JSON.stringify(log)}`);
    const state = await page.evaluate(() => window.E2E.state('x'));
    note(`state after ${10_000 + QUIET_MS} ms: ${JSON.stringify(state)}`);
    assert.ok(['connecting', 'unavailable'].includes(state.state), `still trying: ${JSON.stringify(state)}`);
    assert.ok(!state.socketId, `no socket id: ${JSON.stringify(state)}`);
    assert.ok(!log.some((e) => e.kind === 'global' && e.detail.event === 'pusher:error'), 'no pusher:error event');
    assert.ok(sockets.length >= 2, `the page opened WebSockets: ${JSON.stringify(sockets)}`);
    for (const s of sockets) {
      assert.ok(s.url.includes(`/app/${unknownKey}?`), s.url);
      assert.deepEqual(s.received, [], `nothing received from sockudo on ${s.url}`);
    }
    assert.equal(r.outcome, 'connection_error', JSON.stringify(r));
    assert.deepEqual(r.detail, WS_1006, JSON.stringify(r));
    assert.equal(r.subscribed, false);
    assert.deepEqual(frames, [], 'the page sent nothing (no pusher:subscribe)');
    // sockudo says why in its own log.
    assert.match(stack.sockudo.child.logSince(sockudoMark), /socket handling failed error=Application does not exist/);

    // The function was never asked: no browser request, no log line.
    await sleep(500);
    assert.deepEqual(requests, [], 'no browser request to the function');
    assert.deepEqual(channelAuthLines(fnMark, channel), [], 'no log line from the function for the channel');
    assert.deepEqual(jsonLines(stack.fn.child.logSince(fnMark)).filter((e) => e.route), [], 'the function got no request at all');
  });
});

// ---------------------------------------------------------------------------
// A key or a secret that is not the app's: the function signs (`"reason":"ok"`), sockudo checks
// the signature with the app's key and secret and refuses the subscription.

const SIGNED_BUT_REFUSED = [
  {
    row: 'key-typo',
    title: 'troubleshooting: key-typo', // the docs row's id, spelled out: tests/it/troubleshooting.rs looks for it
    what: "PUSHER_KEY one character off the app's key",
    // Last character changed: a typo, not another app.
    mistake: () => ({ key: `${cfg.key.slice(0, -1)}${cfg.key.endsWith('0') ? '1' : '0'}` }),
  },
  {
    row: 'wrong-secret',
    title: 'troubleshooting: wrong-secret',
    what: "PUSHER_SECRET another app's secret",
    mistake: () => ({ secret: makeConfig().secret }),
  },
];

for (const { row, title, what, mistake } of SIGNED_BUT_REFUSED) {
  describe(row, () => {
    let signingKey;
    before(async () => {
      const changed = mistake();
      signingKey = changed.key || cfg.key;
      await restartFunction(changed);
    }, { timeout: 420_000 });

    for (const transport of ['ajax', 'jsonp']) {
      scenario(`${title} (${what}; ${transport}): the function signs, sockudo refuses with 4009`, async ({ page, requests, frames, note }) => {
        const token = await mintToken(cfg, { sub: `user-${uniq()}`, name: 'Trouble Shooter' });
        const connected = await connect(page, 'c', cfg.key, options(transport, token));
        assert.equal(connected.outcome, 'connected', `connects with the app's key: ${JSON.stringify(connected)}`);
        for (const channel of [`private-allowed-${uniq()}`, `presence-room-${uniq()}`]) {
          const mark = stack.fn.child.logSize();
          const sockudoMark = stack.sockudo.child.logSize();
          const requestsBefore = requests.length;
          const r = await subscribe(page, 'c', channel);
          note(`${channel}: ${JSON.stringify(r)}`);

          // The function was asked once and signed: its log line says so.
          const lines = await waitUntil(`the function's log line for ${channel}`, 5000, async () => {
            const found = channelAuthLines(mark, channel);
            return found.length ? found : undefined;
          });
          assert.equal(lines.length, 1, `one log line for ${channel}: ${JSON.stringify(lines)}`);
          assert.equal(lines[0].reason, 'ok', `the function signed ${channel}: ${JSON.stringify(lines[0])}`);
          assert.equal(lines[0].decision, 'allowed', JSON.stringify(lines[0]));
          assert.equal(lines[0].status, 200, JSON.stringify(lines[0]));
          assert.equal(lines[0].transport, transport, JSON.stringify(lines[0]));
          assert.equal(requests.length - requestsBefore, 1, `one browser request to the function for ${channel}`);

          // What the page sees: sockudo's pusher:error 4009, reported by pusher-js as a
          // connection `error` event (no channel field); the channel is never subscribed.
          assert.equal(r.outcome, 'connection_error', `${channel}: ${JSON.stringify(r)}`);
          assert.deepEqual(r.detail, { type: 'PusherError', data: { code: 4009, message: SOCKUDO_BAD_SIGNATURE } }, `${channel}: ${JSON.stringify(r)}`);
          assert.equal(r.subscribed, false, channel);
          const state = await page.evaluate(([c]) => window.E2E.channelState('c', c), [channel]);
          assert.equal(state.subscribed, false, `${channel} not subscribed: ${JSON.stringify(state)}`);
          assert.equal((await channelInfo(stack.api, channel)).occupied, false, `sockudo has no subscriber on ${channel}`);
          assert.ok(
            stack.sockudo.child.logSince(sockudoMark).includes(`rejected by authentication socket_id=${connected.detail.socketId} error=${SOCKUDO_BAD_SIGNATURE}`),
            "sockudo's log says why",
          );
        }
        // The connection stays up: sockudo refuses the subscription, not the connection.
        assert.equal((await page.evaluate(() => window.E2E.state('c'))).state, 'connected');
        const errors = (await clientLog(page, 'c')).filter((e) => e.kind === 'connection-error');
        assert.equal(errors.length, 2, `one pusher:error per channel: ${JSON.stringify(errors)}`);
        // What pusher-js sent sockudo: the function's signature, under the key the function has.
        const subscribes = frames.filter((f) => f.event === 'pusher:subscribe');
        assert.equal(subscribes.length, 2, `one pusher:subscribe per channel: ${JSON.stringify(subscribes)}`);
        for (const f of subscribes) assert.match(f.data.auth, new RegExp(`^${signingKey}:[0-9a-f]{64}$`), JSON.stringify(f));
      });
    }
  });
}
