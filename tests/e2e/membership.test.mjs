// End-to-end: `?member` rules (docs/channel-policy.md), with the real pusher-js 8 in headless
// Chromium against sockudo and the function under `cargo lambda watch`, reading its membership
// table from moto's DynamoDB server (tests/tools/moto_membership.py makes the table and items with
// boto3): a member joins a presence channel with the item's user_info; a non-member gets
// `pusher:subscription_error` (forbidden, 403; the log says channel_not_a_member) over JSONP and
// AJAX; a member removed from the table is refused once the cache's bound has passed; with the
// table gone an uncached channel is refused with service_unavailable (503). See README.md.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CHANNEL_RULES,
  REPO_ROOT,
  WAIT_MS,
  WORK_DIR,
  assertJsonpRefused,
  assertSubscribed,
  browserScenario,
  connectWithSetup,
  jsonLines,
  loadPage,
  makeConfig,
  mintToken,
  socketOptions,
  startStack,
  stopStack,
  subscribe,
  uniq,
  waitUntil,
} from './lib/harness.mjs';

const cfg = makeConfig();
const TTL_SECONDS = 2;
let stack;
let moto; // { child, url, bin }
const consoleLines = [];
const alice = { sub: `alice-${uniq()}`, name: 'Alice' };
const room = `presence-chat-${uniq()}`;
const kept = `private-chat-${uniq()}`; // alice's until she is removed
const other = `private-chat-${uniq()}`; // never alice's

async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** tests/tools/moto_membership.py with `args` (moto's venv, as tests/it/membership.rs runs it). */
function motoMembership(...args) {
  return execFileSync(`${moto.bin}/python`, [`${REPO_ROOT}/tests/tools/moto_membership.py`, ...args], { encoding: 'utf8' });
}

async function startMoto() {
  const bin = execFileSync('bash', ['scripts/venv.sh', 'moto', 'tests/tools/requirements-moto.txt'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const port = await freePort();
  const child = spawn(`${bin}/moto_server`, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  moto = { child, bin, url: `http://127.0.0.1:${port}` };
  await waitUntil('moto_server to answer', WAIT_MS, async () => (await fetch(`${moto.url}/moto-api/`)).ok);
  motoMembership('setup', moto.url, '--no-iam');
  const put = (channel, info) => motoMembership('put', moto.url, 'testing', 'testing', channel, alice.sub, ...(info ? [JSON.stringify(info)] : []));
  put(room, { role: 'moderator', name: 'not the token' });
  put(kept);
}

before(
  async () => {
    stack = await startStack(cfg, {
      pageServers: 1,
      prepare: async (s) => {
        await startMoto();
        s.closers.push(async () => moto.child.kill());
      },
      fn: ({ pages }) => ({
        allowedOrigins: [pages[0].origin],
        env: {
          CHANNEL_RULES: `${CHANNEL_RULES} presence-chat-*?member private-chat-*?member`,
          MEMBERSHIP_TABLE: 'chat-members',
          MEMBERSHIP_TTL_SECONDS: String(TTL_SECONDS),
          MEMBERSHIP_NEGATIVE_TTL_SECONDS: '1',
          AWS_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_ENDPOINT_URL: moto.url,
        },
      }),
    });
    console.log(`# function ready after ${stack.fn.readyAfterMs} ms; moto at ${moto.url}; work dir ${WORK_DIR}`);
  },
  { timeout: 600_000 },
);

after(() => stopStack(stack));

/** pusher-js 8's own transports: the token in `params` (JSONP) or a bearer header (AJAX). */
function options(transport, token) {
  const channelAuthorization = { endpoint: stack.fn.authEndpoint, transport };
  if (transport === 'jsonp') channelAuthorization.params = { token };
  else channelAuthorization.headers = { Authorization: `Bearer ${token}` };
  return { ...socketOptions(stack.sockudo), channelAuthorization };
}

/** The function's log lines for `channel` written since `offset`. */
function logFor(offset, channel) {
  return jsonLines(stack.fn.child.logSince(offset)).filter((l) => l.channel === channel);
}

// docs/deploy.md: with MemberChannelRules, SMOKE_CHANNEL names a ?member channel whose item the
// test user has. The smoke check passes for it; for a channel without the item it fails and says so.
test('smoke.sh --channel a ?member channel: passes for a member, and a non-member is told about the item', async () => {
  const env = { ...process.env, SMOKE_TOKEN: await mintToken(cfg, alice) };
  const smoke = (channel) =>
    spawnSync('bash', ['scripts/smoke.sh', stack.fn.base, '--channel', channel], { cwd: REPO_ROOT, env, encoding: 'utf8' });
  let r = smoke(kept);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^ok jsonp-answer$/m);
  r = smoke(other);
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^FAIL ajax-answer: status 403/m);
  assert.match(r.stderr, /403 forbidden.*for a \?member channel, put the user's item \(channel, user_id\) in the membership table/);
});

browserScenario('?member: a member joins with the item\'s user_info, a non-member and a removed member are refused, an outage is a 503', { stack: () => stack, consoleLines, timeout: 240_000 }, async ({ newContext }) => {
  const page = await loadPage(await newContext(), consoleLines, 'alice', `${stack.pages[0].origin}/v8.html`, { version: 8 });
  const token = await mintToken(cfg, alice);
  await connectWithSetup(page, cfg.key, 'jsonp', options('jsonp', token));
  await connectWithSetup(page, cfg.key, 'ajax', options('ajax', token));
  const mark = stack.fn.child.logSize();

  // A member: presence user_info is the claims' (name) plus the item's (role); the claims win.
  let r = await subscribe(page, 'jsonp', room);
  assertSubscribed(r, `alice joins ${room}`);
  assert.deepEqual(r.detail.members.me, { id: alice.sub, info: { name: alice.name, role: 'moderator' } });
  assertSubscribed(await subscribe(page, 'jsonp', kept), kept);

  // A non-member: pusher:subscription_error with the refusal, over JSONP and AJAX; the log says why.
  assertJsonpRefused(await subscribe(page, 'jsonp', other), { code: 'forbidden', status: 403, what: `JSONP ${other}` });
  r = await subscribe(page, 'ajax', other);
  assert.equal(r.outcome, 'subscription_error', JSON.stringify(r));
  assert.equal(r.detail.status, 403, JSON.stringify(r));
  const reasons = logFor(mark, other).map((l) => l.reason);
  assert.deepEqual(reasons, ['channel_not_a_member', 'channel_not_a_member'], JSON.stringify(reasons));

  // Removed from the table: refused once the found item's lifetime has passed, never later.
  const removed = Date.now();
  motoMembership('delete', moto.url, 'testing', 'testing', kept, alice.sub);
  await sleep(TTL_SECONDS * 1000 + 200 - (Date.now() - removed));
  await connectWithSetup(page, cfg.key, 'again', options('jsonp', token));
  assertJsonpRefused(await subscribe(page, 'again', kept), { code: 'forbidden', status: 403, what: `${kept} after removal` });

  // The table goes away: an uncached member channel is refused with 503, as every refusal reaches the page.
  moto.child.kill();
  await waitUntil('moto to stop', WAIT_MS, async () => moto.child.exitCode !== null || moto.child.signalCode !== null);
  const gone = `private-chat-${uniq()}`;
  assertJsonpRefused(await subscribe(page, 'jsonp', gone), { code: 'service_unavailable', status: 503, what: `${gone} without the table` });
  assert.deepEqual(logFor(mark, gone).map((l) => l.reason), ['membership_unavailable']);
});
