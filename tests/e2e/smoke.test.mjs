// scripts/smoke.sh, scripts/deploy.sh and `cargo lambda watch --env-file scripts/demo.env`
// (issue 24, items 4 and 5). No browser and no sockudo: the smoke check is an HTTP client.
//
//   - the smoke check passes against a peer endpoint written here with the official npm
//     `pusher` library (lib/peer-endpoint.mjs), so it is known to work on an endpoint it was
//     not written with, and fails, naming the reason, against deliberately broken variants of
//     it (a wrong signature, a callback echoed raw, CORS for everyone, no token check);
//   - it passes against the local run (scripts/run-local.sh, the demo configuration, PAGE_PORT=off,
//     CHANNEL_RULES naming the channels it signs) for a private, a presence and an encrypted
//     channel, with the demo key and secret; with the demo's own rules (`private-*` signs every
//     private channel) it reports exactly the two foreign-channel checks;
//   - scripts/deploy.sh with a stand-in `sam` first on PATH (AWS is not reachable here): usage
//     errors exit 2, the stand-in sees `build` then `deploy --config-env staging`, the smoke
//     check runs against the stack output's URL (the local run), and its failure fails the deploy;
//   - `cargo lambda watch --env-file scripts/demo.env` starts and signs a JSONP request.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { cleanupWorkDir, fatal, freePort, readLog, REPO_ROOT, startFunction, waitUntil, WORK_DIR } from './lib/harness.mjs';
import { startPeer } from './lib/peer-endpoint.mjs';

const DEMO = { key: 'demo-app-key', secret: 'demo-app-secret' };
const HOSTILE = ['hostile-callback[alert]', 'hostile-callback[breakout]'];
const BASE_CHECKS = [
  'jsonp-answer',
  'ajax-answer',
  'foreign-channel-ajax',
  'foreign-channel-jsonp',
  'bad-socket-id-ajax[1.2.3]',
  'bad-socket-id-jsonp[1.2.3]',
  'bad-socket-id-ajax[abc]',
  'bad-socket-id-jsonp[abc]',
  'cors-foreign-origin',
  ...HOSTILE,
];
const SIGNATURE_CHECKS = ['jsonp-signature', 'ajax-signature'];
const TOKEN_CHECKS = ['no-token-ajax', 'no-token-jsonp'];

/** Runs a command to completion: { code, stdout, stderr }. */
function run(command, args, { env = process.env, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const smoke = (args, opts) => run('bash', ['scripts/smoke.sh', ...args], opts);

/** The smoke check's result lines: { ok: [check…], fail: {check: reason} }; no other stdout line. */
function parseSmoke({ stdout }) {
  const ok = [];
  const fail = {};
  for (const line of stdout.split('\n').filter(Boolean)) {
    let m;
    if ((m = /^ok (\S+)$/.exec(line))) ok.push(m[1]);
    else if ((m = /^FAIL (\S+): (.+)$/.exec(line))) fail[m[1]] = m[2];
    else assert.fail(`unexpected smoke.sh output line: ${line}`);
  }
  return { ok, fail };
}

/** Nothing secret in what the smoke check printed: the secret, the token, any 64-hex signature. */
function assertNothingSecret(result, ...secrets) {
  const out = result.stdout + result.stderr;
  for (const s of secrets.filter(Boolean)) assert.ok(!out.includes(s), 'smoke.sh printed a secret or a token');
  assert.ok(!/[0-9a-f]{64}/i.test(out), `smoke.sh printed a signature:\n${out}`);
}

function assertPassed(result, expected, what) {
  const { ok, fail } = parseSmoke(result);
  assert.deepEqual(fail, {}, `${what}: failures\n${result.stdout}${result.stderr}`);
  assert.equal(result.code, 0, `${what}: exit ${result.code}\n${result.stdout}${result.stderr}`);
  assert.deepEqual([...ok].sort(), [...expected].sort(), `${what}: the checks run`);
}

after(() => cleanupWorkDir());

test('smoke.sh: usage errors exit 2', async () => {
  for (const args of [[], ['--token', 't'], ['http://127.0.0.1:1', '--key', 'k'], ['http://127.0.0.1:1', '--bogus', 'x'],
    ['ftp://example.com'], ['http://127.0.0.1:1/pusher/auth'], ['http://127.0.0.1:1', '--channel']]) {
    const result = await smoke(args);
    assert.equal(result.code, 2, `${JSON.stringify(args)}: ${result.stderr}`);
    assert.match(result.stderr, /usage: bash scripts\/smoke\.sh BASE_URL/);
    assert.equal(result.stdout, '');
  }
});

// ---------------------------------------------------------------------------------------------
// The peer: the npm `pusher` library behind a server written here.

const PEER = {
  key: `peer-key-${randomBytes(4).toString('hex')}`,
  secret: randomBytes(20).toString('hex'),
  token: `peer-token-${randomBytes(12).toString('hex')}`,
  channels: ['private-smoke', 'presence-smoke'],
  origins: ['https://app.smoke.test'],
};
const peerArgs = (peer, extra = []) => [
  peer.base,
  '--token', PEER.token,
  '--origin', PEER.origins[0],
  '--key', PEER.key,
  '--secret', PEER.secret,
  ...extra,
];

async function withPeer(broken, body) {
  const peer = await startPeer({ ...PEER, broken });
  try {
    await body(peer);
  } finally {
    await peer.close();
  }
}

test('smoke.sh passes against a peer written with the npm pusher library', async () => {
  await withPeer({}, async (peer) => {
    const full = await smoke(peerArgs(peer));
    assertPassed(full, [...BASE_CHECKS, ...SIGNATURE_CHECKS, ...TOKEN_CHECKS, 'cors-origin'], 'private channel, every option');
    assertNothingSecret(full, PEER.secret, PEER.token);

    const presence = await smoke(peerArgs(peer, ['--channel', 'presence-smoke']));
    assertPassed(presence, [...BASE_CHECKS, ...SIGNATURE_CHECKS, ...TOKEN_CHECKS, 'cors-origin'], 'presence channel');
    assertNothingSecret(presence, PEER.secret, PEER.token);

    // Only what needs no option: no token, origin, key or secret checks.
    const bare = await run('bash', ['scripts/smoke.sh', peer.base]);
    // Without the token the peer refuses to sign: the answers fail, naming the refusal.
    const { fail } = parseSmoke(bare);
    assert.notEqual(bare.code, 0);
    assert.match(fail['jsonp-answer'], /refused with error 'unauthenticated'/);
    assert.match(fail['ajax-answer'], /status 401, expected 200/);

    // A channel the peer does not sign: the answers fail with the channel refusal.
    const refused = await smoke(peerArgs(peer, ['--channel', 'private-other']));
    assert.equal(refused.code, 1);
    assert.match(parseSmoke(refused).fail['jsonp-answer'], /refused with error 'forbidden'/);

    // An origin the peer does not allow.
    const origin = await smoke([peer.base, '--token', PEER.token, '--origin', 'https://elsewhere.smoke.test']);
    assert.equal(origin.code, 1);
    assert.deepEqual(Object.keys(parseSmoke(origin).fail), ['cors-origin']);
    assert.match(parseSmoke(origin).fail['cors-origin'], /Access-Control-Allow-Origin missing/);
  });
});

test('smoke.sh fails, naming the reason, against broken endpoints', async () => {
  const expectFailures = async (broken, expected) => {
    await withPeer(broken, async (peer) => {
      const result = await smoke(peerArgs(peer));
      const { ok, fail } = parseSmoke(result);
      assert.equal(result.code, 1, `${JSON.stringify(broken)}: exit ${result.code}\n${result.stdout}`);
      assert.deepEqual(Object.keys(fail).sort(), Object.keys(expected).sort(), `${JSON.stringify(broken)}:\n${result.stdout}`);
      for (const [check, reason] of Object.entries(expected)) assert.match(fail[check], reason, check);
      // Every other check still runs and passes.
      assert.equal(ok.length + Object.keys(fail).length, BASE_CHECKS.length + SIGNATURE_CHECKS.length + TOKEN_CHECKS.length + 1);
      assertNothingSecret(result, PEER.secret, PEER.token);
    });
  };
  await expectFailures({ wrongSignature: true }, {
    'jsonp-signature': /^auth does not verify with this secret over socket_id:channel$/,
    'ajax-signature': /^auth does not verify with this secret over socket_id:channel$/,
  });
  await expectFailures({ echoCallback: true }, {
    'hostile-callback[alert]': /^the callback is echoed raw into the body \(status 200\)$/,
    'hostile-callback[breakout]': /^the callback is echoed raw into the body \(status 200\)$/,
  });
  await expectFailures({ anyOrigin: true }, {
    'cors-origin': /^Access-Control-Allow-Origin \['\*'\], expected \['https:\/\/app\.smoke\.test'\]/,
    'cors-foreign-origin': /Access-Control-Allow-Origin \['\*'\] lets https:\/\/smoke-check\.invalid read the answer/,
  });
  await expectFailures({ noTokenCheck: true }, {
    'no-token-ajax': /^signed \(status 200\), expected a refusal with 401$/,
    'no-token-jsonp': /^signed \(status 200\), expected a refusal$/,
  });
  // Nothing listening: every check fails with the connection error, nothing passes.
  const port = await freePort();
  const down = await smoke([`http://127.0.0.1:${port}`]);
  const parsed = parseSmoke(down);
  assert.equal(down.code, 1);
  assert.deepEqual(parsed.ok, []);
  assert.match(parsed.fail['jsonp-answer'], /^request failed: ConnectionRefusedError/);
});

// ---------------------------------------------------------------------------------------------
// The local run: scripts/run-local.sh with the demo configuration. Its own CHANNEL_RULES sign
// every private- channel, so the "foreign channel" would be signed: the first run names the
// channels it signs instead (the rest of the configuration is the demo's); the second, with the
// demo's rules, shows the smoke check reporting exactly that.

test('smoke.sh passes against the local run; deploy.sh drives sam, then the smoke check', { timeout: 900_000 }, async (t) => {
  const demoOverrides = {};
  for (const name of ['AUTH_MODE', 'JWT_ALGORITHMS', 'JWT_SECRET', 'PUSHER_APP_ID', 'PUSHER_KEY', 'PUSHER_SECRET',
    'PUSHER_CLUSTER', 'PUSHER_ENCRYPTION_MASTER_KEY_BASE64', 'ALLOWED_ORIGINS', 'USER_INFO_CLAIMS']) {
    demoOverrides[name] = undefined; // scripts/demo.env's value (ALLOWED_ORIGINS: run-local.sh's default)
  }
  const fn = await startFunction({ key: DEMO.key, jwtSecret: randomBytes(32).toString('hex') }, {
    allowedOrigins: [],
    env: { ...demoOverrides, CHANNEL_RULES: 'private-smoke presence-smoke private-encrypted-smoke', PAGE_PORT: 'off' },
    probeChannel: 'private-smoke',
  }).catch((err) => {
    process.stderr.write(`----- function log -----\n${readLog('function').slice(-20_000)}\n`);
    throw err;
  });
  try {
    // run-local.sh's default ALLOWED_ORIGINS with PAGE_PORT=off: the live page's origins on 8080.
    for (const channel of ['private-smoke', 'presence-smoke', 'private-encrypted-smoke']) {
      const result = await smoke([fn.base, '--channel', channel, '--origin', 'http://localhost:8080', '--key', DEMO.key, '--secret', DEMO.secret]);
      assertPassed(result, [...BASE_CHECKS, ...SIGNATURE_CHECKS, 'cors-origin'], `local run, ${channel}`);
      assertNothingSecret(result, DEMO.secret);
    }
    const other = await smoke([fn.base, '--origin', 'http://127.0.0.1:8080']);
    assertPassed(other, [...BASE_CHECKS, 'cors-origin'], 'local run, the other page origin');

    await t.test('deploy.sh', () => deployScenarios(fn));
  } finally {
    await fn.child.stop();
  }

  // The demo configuration exactly as it is: its `private-*` rule signs the "foreign" channel
  // too, which the smoke check reports (and nothing else).
  const demo = await startFunction({ key: DEMO.key, jwtSecret: randomBytes(32).toString('hex') }, {
    allowedOrigins: [],
    env: { ...demoOverrides, CHANNEL_RULES: undefined, PAGE_PORT: 'off' },
    probeChannel: 'private-smoke',
  });
  try {
    const result = await smoke([demo.base, '--origin', 'http://localhost:8080', '--key', DEMO.key, '--secret', DEMO.secret]);
    const { ok, fail } = parseSmoke(result);
    assert.equal(result.code, 1);
    assert.deepEqual(fail, {
      'foreign-channel-ajax': 'signed (status 200), expected a refusal with 403',
      'foreign-channel-jsonp': 'signed (status 200), expected a refusal',
    });
    assert.equal(ok.length, BASE_CHECKS.length + SIGNATURE_CHECKS.length + 1 - 2);
  } finally {
    await demo.child.stop();
  }
});

// A stand-in for the SAM CLI: records each call's arguments, answers `list stack-outputs` with
// the outputs template.yaml defines, pointing at STANDIN_BASE.
const STANDIN_SAM = `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$STANDIN_LOG"
case "$1 \${2:-}" in
  "build "*|"deploy "*) echo "stand-in sam: $1 done" ;;
  "list stack-outputs")
    cat <<JSON
[{"OutputKey": "FrontDoor", "OutputValue": "rest-api", "Description": "The way in this stack deploys."},
 {"OutputKey": "ChannelAuthEndpoint", "OutputValue": "$STANDIN_BASE/pusher/auth", "Description": "pusher-js channelAuthorization.endpoint"},
 {"OutputKey": "UserAuthEndpoint", "OutputValue": "$STANDIN_BASE/pusher/user-auth", "Description": "pusher-js userAuthentication.endpoint"}]
JSON
    ;;
  *) echo "stand-in sam: unexpected $*" >&2; exit 64 ;;
esac
`;

async function deployScenarios(fn) {
  const dir = mkdtempSync(join(WORK_DIR, 'standin-sam-'));
  const sam = join(dir, 'sam');
  writeFileSync(sam, STANDIN_SAM);
  chmodSync(sam, 0o755);
  const log = join(dir, 'calls.log');
  const env = (extra) => {
    const e = { ...process.env, PATH: `${dir}:${process.env.PATH}`, STANDIN_LOG: log, STANDIN_BASE: fn.base, ...extra };
    for (const name of ['SMOKE_TOKEN', 'SMOKE_CHANNEL', 'SMOKE_ORIGIN']) if (!(name in extra)) delete e[name];
    return e;
  };
  const calls = () => {
    try {
      return readFileSync(log, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };

  for (const args of [[], ['prod'], ['Staging'], ['--config-env']]) {
    writeFileSync(log, '');
    const result = await run('bash', ['scripts/deploy.sh', ...args], { env: env({}) });
    assert.equal(result.code, 2, `deploy.sh ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /usage: bash scripts\/deploy\.sh staging\|production/);
    assert.deepEqual(calls(), [], 'no sam call after a usage error');
  }

  writeFileSync(log, '');
  const good = await run('bash', ['scripts/deploy.sh', 'staging'], {
    env: env({ SMOKE_CHANNEL: 'presence-smoke', SMOKE_ORIGIN: 'http://localhost:8080' }),
    timeoutMs: 600_000,
  });
  assert.equal(good.code, 0, `deploy.sh staging: exit ${good.code}\n${good.stdout}\n${good.stderr}`);
  assert.deepEqual(calls(), [
    'build --config-env staging',
    'deploy --config-env staging',
    'list stack-outputs --stack-name pusher-auth-staging --region eu-west-1 --output json',
  ]);
  assert.ok(good.stdout.includes(`ChannelAuthEndpoint: ${fn.base}/pusher/auth`), good.stdout);
  const { ok, fail } = parseSmoke({ stdout: good.stdout.split('\n').filter((l) => /^(ok|FAIL) /.test(l)).join('\n') });
  assert.deepEqual(fail, {});
  assert.ok(ok.includes('cors-origin') && ok.includes('jsonp-answer'), good.stdout);
  assert.match(good.stderr, /staging deployed and smoke-checked/);

  // The smoke check fails (a channel the stage does not sign): the deploy fails.
  writeFileSync(log, '');
  const bad = await run('bash', ['scripts/deploy.sh', 'production', '--no-confirm-changeset'], {
    env: env({ SMOKE_CHANNEL: 'private-not-signed-here' }),
    timeoutMs: 600_000,
  });
  assert.notEqual(bad.code, 0, bad.stdout);
  assert.deepEqual(calls(), [
    'build --config-env production',
    'deploy --config-env production --no-confirm-changeset',
    'list stack-outputs --stack-name pusher-auth-production --region eu-west-1 --output json',
  ]);
  assert.match(bad.stdout, /^FAIL jsonp-answer: refused with error 'forbidden'/m);
  assert.match(bad.stderr, /production is deployed \(stack pusher-auth-production\) but the smoke check failed/);

  // A policy test that does not hold: built, never deployed, the failing case named.
  writeFileSync(log, '');
  const tests = join(dir, 'policy-tests.toml');
  writeFileSync(tests, '[[case]]\nclaims = { sub = "u" }\nchannel = "private-user-v"\nallowed = true\n');
  const refused = await run('bash', ['scripts/deploy.sh', 'staging'], { env: env({ POLICY_TESTS: tests }), timeoutMs: 600_000 });
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.deepEqual(calls(), ['build --config-env staging'], 'no deploy after a failing policy test');
  assert.match(refused.stdout, /^FAIL staging case 1 \(private-user-v\): expected allowed, got refused/m);
  assert.match(refused.stderr, /a policy test does not hold \(above\); nothing is deployed/);
}

// ---------------------------------------------------------------------------------------------
// Item 5: cargo-lambda reads scripts/demo.env itself.

test('cargo lambda watch --env-file scripts/demo.env signs a JSONP request', { timeout: 900_000 }, async () => {
  const binDir = (await run('bash', ['scripts/setup.sh'])).stdout.trim();
  assert.ok(binDir, 'scripts/setup.sh printed the cargo-lambda bin dir');
  const port = await freePort();
  const env = { PATH: `${binDir}:${process.env.PATH}`, HOME: process.env.HOME };
  for (const name of ['CARGO_HOME', 'RUSTUP_HOME', 'CARGO_TARGET_DIR']) if (process.env[name]) env[name] = process.env[name];
  const watch = spawn('cargo', ['lambda', 'watch', '--quiet', '--env-file', 'scripts/demo.env', '--invoke-address', '127.0.0.1',
    '--invoke-port', String(port)], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  watch.stdout.on('data', (d) => {
    output += d;
  });
  watch.stderr.on('data', (d) => {
    output += d;
  });
  let exited = null;
  watch.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  try {
    const socketId = '123.456';
    const channel = 'private-encrypted-demo';
    const url = `http://127.0.0.1:${port}/lambda-url/pusher-auth/pusher/auth?callback=${encodeURIComponent("Pusher.auth_callbacks['1']")}`
      + `&socket_id=${socketId}&channel_name=${channel}`;
    const { status, type, body } = await waitUntil('cargo lambda watch --env-file to answer', 600_000, async () => {
      if (exited) throw fatal(`cargo lambda watch exited ${JSON.stringify(exited)}:\n${output.slice(-4000)}`);
      const res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
      return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
    }, 500);
    assert.equal(status, 200, body);
    assert.equal(type, 'application/javascript; charset=utf-8');
    const m = /Pusher\.auth_callbacks\['1'\]\((\{.*\})\);$/.exec(body);
    assert.ok(m, body);
    const answer = JSON.parse(m[1]);
    const expected = createHmac('sha256', DEMO.secret).update(`${socketId}:${channel}`).digest('hex');
    assert.equal(answer.auth, `${DEMO.key}:${expected}`, 'signed with the demo key and secret');
    // The quoted master key was read without its quotes: base64 SHA-256(channel ‖ master key).
    const line = readFileSync(join(REPO_ROOT, 'scripts/demo.env'), 'utf8').split('\n')
      .find((l) => l.startsWith('PUSHER_ENCRYPTION_MASTER_KEY_BASE64='));
    const masterKey = Buffer.from(line.split('=').slice(1).join('=').replace(/^'(.*)'$/, '$1'), 'base64');
    assert.equal(masterKey.length, 32);
    const shared = createHash('sha256').update(Buffer.concat([Buffer.from(channel), masterKey])).digest('base64');
    assert.equal(answer.shared_secret, shared, 'the shared secret comes from the demo master key');
    assert.ok(!output.includes('ParseError'), output);
  } finally {
    try {
      process.kill(-watch.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await waitUntil('cargo lambda watch to stop', 10_000, async () => exited !== null).catch(() => {
      try {
        process.kill(-watch.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  }
});
