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
//     private channel) it passes, the two foreign-channel checks a SKIP line saying why, and
//     --foreign-channel names the channel to check instead;
//   - the token and secret never travel over plain http:// to a host that is not loopback, and
//     come from SMOKE_TOKEN / SMOKE_SECRET or a file as well as arguments;
//   - scripts/deploy.sh with a stand-in `sam` first on PATH (AWS is not reachable here) and a
//     samconfig file with its placeholders filled (SAMCONFIG): usage errors exit 2, the stand-in
//     sees `build` then `deploy --config-env staging`, the smoke check runs against the stack
//     output's URL (the local run) with SMOKE_TOKEN and SMOKE_SECRET from the environment, and its
//     failure fails the deploy; a failing policy test stops it before the build;
//   - `cargo lambda watch --env-file scripts/demo.env` starts and signs a JSONP request.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { filledSamconfig, noAwsEnv, run, standinSam } from './lib/deploy_sh.mjs';
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

const smoke = (args, { env = {}, ...opts } = {}) => run('bash', ['scripts/smoke.sh', ...args], { env: { ...noAwsEnv(), ...env }, ...opts });

/** The smoke check's result lines: { ok: [check…], fail: {check: reason}, skip: {check: reason} }; no other stdout line. */
function parseSmoke({ stdout }) {
  const ok = [];
  const fail = {};
  const skip = {};
  for (const line of stdout.split('\n').filter(Boolean)) {
    let m;
    if ((m = /^ok (\S+)$/.exec(line))) ok.push(m[1]);
    else if ((m = /^FAIL (\S+): (.+)$/.exec(line))) fail[m[1]] = m[2];
    else if ((m = /^SKIP (\S+): (.+)$/.exec(line))) skip[m[1]] = m[2];
    else assert.fail(`unexpected smoke.sh output line: ${line}`);
  }
  return { ok, fail, skip };
}

/** Nothing secret in what the smoke check printed: the secret, the token, any 64-hex signature. */
function assertNothingSecret(result, ...secrets) {
  const out = result.stdout + result.stderr;
  for (const s of secrets.filter(Boolean)) assert.ok(!out.includes(s), 'smoke.sh printed a secret or a token');
  assert.ok(!/[0-9a-f]{64}/i.test(out), `smoke.sh printed a signature:\n${out}`);
}

function assertPassed(result, expected, what, skipped = []) {
  const { ok, fail, skip } = parseSmoke(result);
  assert.deepEqual(fail, {}, `${what}: failures\n${result.stdout}${result.stderr}`);
  assert.deepEqual(Object.keys(skip).sort(), [...skipped].sort(), `${what}: the checks skipped`);
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

test('smoke.sh never sends a token over plain http:// to a host that is not loopback', async () => {
  const tokenFile = join(WORK_DIR, 'smoke-token');
  writeFileSync(tokenFile, 'a-user-token\n');
  for (const [args, env, what] of [
    [['http://example.com/staging', '--token', 'a-user-token'], {}, 'token'],
    [['http://example.com/staging'], { SMOKE_TOKEN: 'a-user-token' }, 'token'],
    [['http://example.com/staging', '--token-file', tokenFile], {}, 'token'],
    [['http://10.1.2.3:9000', '--key', 'k'], { SMOKE_SECRET: 'the-app-secret' }, 'secret'],
    [['http://[fe80::1]:9000', '--key', 'k', '--secret', 'the-app-secret'], {}, 'secret'],
    [['http://localhost.example.com/'], { SMOKE_TOKEN: 'a-user-token' }, 'token'],
  ]) {
    const result = await smoke(args, { env });
    const label = `${JSON.stringify(args)} ${JSON.stringify(env)}`;
    assert.equal(result.code, 2, `${label}: ${result.stderr}`);
    assert.equal(result.stdout, '', label);
    assert.match(result.stderr, new RegExp(`^smoke: refusing plain http:// to \\S+, which is not loopback, when a ${what} is given: .*use https://`, 'm'), label);
    assertNothingSecret(result, 'a-user-token', 'the-app-secret');
  }
  // Loopback hosts are fine (nothing listens: each check fails with the connection error).
  const port = await freePort();
  for (const host of ['127.0.0.1', '127.8.9.10', '[::1]', 'localhost']) {
    const result = await smoke([`http://${host}:${port}`, '--channel', 'private-x'], { env: { SMOKE_TOKEN: 'a-user-token' } });
    assert.equal(result.code, 1, `${host}: ${result.stderr}`);
    assert.match(parseSmoke(result).fail['jsonp-answer'], /^request failed: /, host);
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

    // The token and the secret from the environment, then from files: the same checks pass.
    const fromEnv = await smoke([peer.base, '--origin', PEER.origins[0], '--key', PEER.key],
      { env: { SMOKE_TOKEN: PEER.token, SMOKE_SECRET: PEER.secret } });
    assertPassed(fromEnv, [...BASE_CHECKS, ...SIGNATURE_CHECKS, ...TOKEN_CHECKS, 'cors-origin'], 'SMOKE_TOKEN, SMOKE_SECRET');
    assertNothingSecret(fromEnv, PEER.secret, PEER.token);
    const tokenFile = join(WORK_DIR, 'peer-token');
    const secretFile = join(WORK_DIR, 'peer-secret');
    writeFileSync(tokenFile, `${PEER.token}\n`);
    writeFileSync(secretFile, PEER.secret);
    const fromFiles = await smoke([peer.base, '--key', PEER.key, '--token-file', tokenFile, '--secret-file', secretFile]);
    assertPassed(fromFiles, [...BASE_CHECKS, ...SIGNATURE_CHECKS, ...TOKEN_CHECKS], '--token-file, --secret-file');

    // Only what needs no option: no token, origin, key or secret checks.
    const bare = await run('bash', ['scripts/smoke.sh', peer.base]);
    // Without the token the peer refuses to sign: the answers fail, naming the refusal.
    const { fail } = parseSmoke(bare);
    assert.notEqual(bare.code, 0);
    assert.match(fail['jsonp-answer'], /refused with error 'unauthenticated'/);
    assert.match(fail['ajax-answer'], /status 401, expected 200/);
    assert.match(bare.stderr, /^smoke: the endpoint wants a user token \(401 unauthenticated\): pass one it accepts with --token-file FILE or SMOKE_TOKEN/m);

    // A channel the peer does not sign: the answers fail with the channel refusal.
    const refused = await smoke(peerArgs(peer, ['--channel', 'private-other']));
    assert.equal(refused.code, 1);
    assert.match(parseSmoke(refused).fail['jsonp-answer'], /refused with error 'forbidden'/);
    assert.doesNotMatch(refused.stderr, /wants a user token/, 'a token was given: no hint');

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
// every private- channel, so the default "foreign channel" is signed: the first run names the
// channels it signs instead (the rest of the configuration is the demo's); the second, the
// README's local run exactly, passes with the foreign-channel checks skipped, saying why.

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

  // The demo configuration exactly as it is: its `private-*` rule signs the default "foreign"
  // channel too; without a token on a loopback endpoint that is a SKIP saying why, not a FAIL.
  const demo = await startFunction({ key: DEMO.key, jwtSecret: randomBytes(32).toString('hex') }, {
    allowedOrigins: [],
    env: { ...demoOverrides, CHANNEL_RULES: undefined, PAGE_PORT: 'off' },
    probeChannel: 'private-smoke',
  });
  try {
    const result = await smoke([demo.base, '--origin', 'http://localhost:8080', '--key', DEMO.key, '--secret', DEMO.secret]);
    const foreignChecks = ['foreign-channel-ajax', 'foreign-channel-jsonp'];
    assertPassed(result, [...BASE_CHECKS, ...SIGNATURE_CHECKS, 'cors-origin'].filter((c) => !foreignChecks.includes(c)),
      'the README\'s local run', foreignChecks);
    for (const reason of Object.values(parseSmoke(result).skip)) {
      assert.match(reason, /^private-smoke-not-allowed-[0-9a-f]{8} was signed without a token by a local endpoint: a demo configuration \(AUTH_MODE=demo\) whose CHANNEL_RULES sign every private- channel .*--foreign-channel NAME/);
    }
    // A foreign channel named with --foreign-channel is checked, and fails when signed.
    const named = await smoke([demo.base, '--foreign-channel', 'private-smoke-someone-else']);
    assert.equal(named.code, 1);
    assert.deepEqual(parseSmoke(named).fail, {
      'foreign-channel-ajax': 'signed (status 200), expected a refusal with 403',
      'foreign-channel-jsonp': 'signed (status 200), expected a refusal',
    });
  } finally {
    await demo.child.stop();
  }
});

async function deployScenarios(fn) {
  const sam = standinSam(fn.base);
  const samconfig = filledSamconfig();
  const env = (extra) => sam.env({ SAMCONFIG: samconfig, ...extra });
  const calls = sam.calls;
  const log = join(sam.dir, 'calls.log');

  for (const args of [[], ['prod'], ['Staging'], ['--config-env']]) {
    writeFileSync(log, '');
    const result = await run('bash', ['scripts/deploy.sh', ...args], { env: env({}) });
    assert.equal(result.code, 2, `deploy.sh ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /usage: bash scripts\/deploy\.sh staging\|production/);
    assert.deepEqual(calls(), [], 'no sam call after a usage error');
  }

  writeFileSync(log, '');
  const good = await run('bash', ['scripts/deploy.sh', 'staging'], {
    env: env({ SMOKE_CHANNEL: 'presence-smoke', SMOKE_ORIGIN: 'http://localhost:8080', SMOKE_KEY: DEMO.key, SMOKE_SECRET: DEMO.secret }),
    timeoutMs: 600_000,
  });
  assert.equal(good.code, 0, `deploy.sh staging: exit ${good.code}\n${good.stdout}\n${good.stderr}`);
  assert.deepEqual(calls(), [
    `build --config-env staging --config-file ${samconfig}`,
    `deploy --config-env staging --config-file ${samconfig}`,
    'list stack-outputs --stack-name pusher-auth-staging --region eu-west-1 --output json',
  ]);
  assert.match(good.stderr, /Cognito attribute check skipped: no AWS credentials/);
  assertNothingSecret(good, DEMO.secret);
  assert.ok(good.stdout.includes(`ChannelAuthEndpoint: ${fn.base}/pusher/auth`), good.stdout);
  const { ok, fail } = parseSmoke({ stdout: good.stdout.split('\n').filter((l) => /^(ok|FAIL) /.test(l)).join('\n') });
  assert.deepEqual(fail, {});
  assert.ok(ok.includes('cors-origin') && ok.includes('jsonp-answer'), good.stdout);
  assert.ok(ok.includes('jsonp-signature') && ok.includes('ajax-signature'), 'SMOKE_SECRET reached the smoke check');
  assert.match(good.stderr, /staging deployed and smoke-checked/);

  // The smoke check fails (a channel the stage does not sign): the deploy fails.
  writeFileSync(log, '');
  const bad = await run('bash', ['scripts/deploy.sh', 'production', '--no-confirm-changeset'], {
    env: env({ SMOKE_CHANNEL: 'private-not-signed-here' }),
    timeoutMs: 600_000,
  });
  assert.notEqual(bad.code, 0, bad.stdout);
  assert.deepEqual(calls(), [
    `build --config-env production --config-file ${samconfig}`,
    `deploy --config-env production --config-file ${samconfig} --no-confirm-changeset`,
    'list stack-outputs --stack-name pusher-auth-production --region eu-west-1 --output json',
  ]);
  assert.match(bad.stdout, /^FAIL jsonp-answer: refused with error 'forbidden'/m);
  assert.match(bad.stderr, /production is deployed \(stack pusher-auth-production\) but the smoke check failed/);

  // SMOKE_TOKEN reaches the smoke check through the environment, never as an argument: its
  // no-token checks run (and fail here: the demo configuration signs without a token), and the
  // token is printed nowhere.
  writeFileSync(log, '');
  const token = `smoke-token-${randomBytes(8).toString('hex')}`;
  const withToken = await run('bash', ['scripts/deploy.sh', 'staging'], { env: env({ SMOKE_TOKEN: token }), timeoutMs: 600_000 });
  assert.notEqual(withToken.code, 0);
  assert.match(withToken.stdout, /^FAIL no-token-ajax: signed \(status 200\), expected a refusal with 401$/m);
  assertNothingSecret(withToken, token);
  assert.doesNotMatch(readFileSync(join(REPO_ROOT, 'scripts/deploy.sh'), 'utf8'), /--(token|secret)\b/, 'deploy.sh passes no token or secret argument');

  // A policy test that does not hold: built, never deployed, the failing case named.
  writeFileSync(log, '');
  const tests = join(sam.dir, 'policy-tests.toml');
  writeFileSync(tests, '[[case]]\nclaims = { sub = "u" }\nchannel = "private-user-v"\nallowed = true\n');
  const refused = await run('bash', ['scripts/deploy.sh', 'staging'], { env: env({ POLICY_TESTS: tests }), timeoutMs: 600_000 });
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.deepEqual(calls(), [], 'no build after a failing policy test');
  assert.match(refused.stdout, /^FAIL staging case 1 \(private-user-v\): expected allowed, got refused/m);
  assert.match(refused.stderr, /a policy test does not hold \(above\); nothing is built or deployed/);
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
