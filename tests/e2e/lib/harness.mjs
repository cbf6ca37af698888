// Infrastructure for the end-to-end suite: free ports, child processes in their
// own process groups, sockudo, the function under `cargo lambda watch`, the
// static page servers, headless Chromium and token minting. Everything binds
// to 127.0.0.1 on ports chosen at run time and every wait is bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { build as esbuild } from 'esbuild';
import { SignJWT } from 'jose';
import { chromium } from 'playwright-core';
import PusherServer from 'pusher';

import { writeSockudoConfig } from './sockudo-config.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = resolve(HERE, '..');
export const REPO_ROOT = resolve(E2E_DIR, '../..');

export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
export const SOCKUDO = process.env.E2E_SOCKUDO || join(process.env.CARGO_HOME || join(process.env.HOME, '.cargo'), 'bin', 'sockudo');
// Bound for things that should happen (connect, subscribe, deliver). Generous: a request can
// wait for cargo lambda watch to rebuild when something in the checkout changed.
export const WAIT_MS = 60_000;
const FUNCTION_READY_TIMEOUT_MS = Number(process.env.E2E_FUNCTION_READY_TIMEOUT_S || 300) * 1000;

/** A scratch directory outside the repository (cargo lambda watch rebuilds on changes in the tree). */
export const WORK_DIR = mkdtempSync(join(tmpdir(), 'pusher-auth-e2e-'));

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** A short random suffix: names (channels, users) no other scenario uses. */
export const uniq = () => randomBytes(4).toString('hex');

/** An error that stops `waitUntil` at once (e.g. the process it waits for has exited). */
export function fatal(message) {
  return Object.assign(new Error(message), { fatal: true });
}

/** Poll `probe` (async, returns a truthy value when ready) until it answers or the deadline passes. */
export async function waitUntil(what, timeoutMs, probe, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      if (err.fatal) throw err;
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
}

// ---------------------------------------------------------------------------
// Child processes: each in its own process group, logs to a file in WORK_DIR.

const children = new Set();

class Child {
  constructor(name, command, args, { cwd, env }) {
    this.name = name;
    this.logPath = join(WORK_DIR, `${name}.log`);
    const fd = openSync(this.logPath, 'a');
    this.proc = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.exited = null;
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
    });
    children.add(this);
  }

  log() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  logSize() {
    try {
      return statSync(this.logPath).size;
    } catch {
      return 0;
    }
  }

  logSince(offset) {
    return this.log().slice(offset);
  }

  signalGroup(signal) {
    try {
      process.kill(-this.proc.pid, signal);
    } catch {
      // the group is already gone
    }
  }

  groupAlive() {
    try {
      process.kill(-this.proc.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM the whole process group, then SIGKILL what is left after the grace period. */
  async stop(graceMs = 5000) {
    this.signalGroup('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.groupAlive() && Date.now() < deadline) await sleep(50);
    if (this.groupAlive()) this.signalGroup('SIGKILL');
    children.delete(this);
  }
}

// Last resort if the runner dies between start and `after`: no orphans left behind.
process.on('exit', () => {
  for (const child of children) child.signalGroup('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const child of children) child.signalGroup('SIGKILL');
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------
// Configuration shared by sockudo and the function.

export function makeConfig() {
  return {
    appId: String(100000 + Math.floor(Math.random() * 800000)),
    key: `e2e-key-${randomBytes(6).toString('hex')}`,
    secret: randomBytes(24).toString('hex'),
    // A different secret for the user tokens (the function refuses an equal one).
    jwtSecret: randomBytes(32).toString('hex'),
    masterKeyBase64: randomBytes(32).toString('base64'),
  };
}

// The policy the function runs with. Everything the scenarios join matches a rule;
// the `*-forbidden-*` channels match none and are refused.
export const CHANNEL_RULES = [
  'private-allowed-*',
  'presence-room-*',
  'private-encrypted-room-*',
  'private-user-{sub}',
].join(' ');

// ---------------------------------------------------------------------------
// sockudo

// `watchlistEvents`: turn on sockudo's watchlist events for the app (lib/sockudo-config.mjs).
export async function startSockudo(cfg, { watchlistEvents = false } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(WORK_DIR, 'sockudo-'));
  const configPath = join(dir, 'sockudo.toml');
  writeSockudoConfig(configPath, { port, app: { id: cfg.appId, key: cfg.key, secret: cfg.secret }, watchlistEvents });
  // sockudo reads many settings from the environment (PORT, HOST, APP_MANAGER_DRIVER, …):
  // give it a bare one so only the file above configures it.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, RUST_LOG: 'info', LOG_COLORS_ENABLED: 'false' };
  const child = new Child('sockudo', SOCKUDO, ['--config', configPath], { cwd: dir, env });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('sockudo to answer /up on its configured port', 30_000, async () => {
      if (child.exited) throw fatal(`sockudo exited ${JSON.stringify(child.exited)}`);
      const res = await fetch(`${base}/up/${cfg.appId}`, { signal: AbortSignal.timeout(2000) });
      return res.ok;
    });
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { child, port, base };
}

// ---------------------------------------------------------------------------
// The function: the project's own bootstrap under `cargo lambda watch`, started
// exactly as a user would (scripts/run-local.sh with environment variables).

const FUNCTION_ENV_PREFIXES = ['PUSHER_', 'JWT_', 'AUTH_', 'AWS_'];
const FUNCTION_ENV_NAMES = [
  'CHANNEL_RULES', 'ALLOWED_ORIGINS', 'USER_INFO_CLAIMS', 'USER_ID_CLAIM', 'WATCHLIST_CLAIM', 'DEPLOYMENT_ENVIRONMENT',
  'LOG_LEVEL', 'PORT', 'PAGE_PORT',
];

/** The environment scripts/run-local.sh gets: this run's settings, `overrides` applied. */
function functionEnv(cfg, { port, allowedOrigins, overrides = {}, pagePort }) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (FUNCTION_ENV_NAMES.includes(name) || FUNCTION_ENV_PREFIXES.some((p) => name.startsWith(p))) continue;
    env[name] = value;
  }
  Object.assign(env, {
    PORT: String(port),
    AUTH_MODE: 'jwt',
    JWT_ALGORITHMS: 'HS256',
    JWT_SECRET: cfg.jwtSecret,
    PUSHER_APP_ID: cfg.appId,
    PUSHER_KEY: cfg.key,
    PUSHER_SECRET: cfg.secret,
    PUSHER_CLUSTER: 'mt1',
    PUSHER_ENCRYPTION_MASTER_KEY_BASE64: cfg.masterKeyBase64,
    ALLOWED_ORIGINS: allowedOrigins.join(','),
    CHANNEL_RULES,
    USER_INFO_CLAIMS: 'name',
    PAGE_PORT: pagePort ? String(pagePort) : 'off',
  });
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

// `env`: settings that replace functionEnv's (undefined removes one: run-local.sh's default
// applies). `pagePort`: serve run-local.sh's live page there (off otherwise). `probeToken`
// (async, returns a token) and `probeChannel` replace the HS256 readiness probe for other
// identity configurations.
export async function startFunction(cfg, { allowedOrigins, env: overrides = {}, pagePort, probeToken, probeChannel = 'private-allowed-probe' } = {}) {
  const port = await freePort();
  const env = functionEnv(cfg, { port, allowedOrigins, overrides, pagePort });
  const child = new Child('function', 'bash', ['scripts/run-local.sh'], { cwd: REPO_ROOT, env });
  const base = `http://127.0.0.1:${port}/lambda-url/pusher-auth`;
  const fn = { child, port, base, authEndpoint: `${base}/pusher/auth`, userAuthEndpoint: `${base}/pusher/user-auth` };
  // The first request waits for cargo's build: poll a JSONP request until it answers 200 with a signature.
  const token = probeToken ? await probeToken() : await mintToken(cfg, { sub: 'readiness-probe', name: 'Probe' });
  const probeUrl = `${fn.authEndpoint}?callback=${encodeURIComponent("Pusher.auth_callbacks['0']")}&socket_id=1.1&channel_name=${encodeURIComponent(probeChannel)}&token=${token}`;
  // Also used before timed scenarios: cargo lambda watch rebuilds and restarts the function when
  // files in the tree change (other work in the same checkout), and the next request waits for it.
  fn.probe = async (timeoutMs = FUNCTION_READY_TIMEOUT_MS) => {
    const started = Date.now();
    await waitUntil('the function (cargo lambda watch) to answer a JSONP request with 200', timeoutMs, async () => {
      if (child.exited) throw fatal(`scripts/run-local.sh exited ${JSON.stringify(child.exited)}`);
      const left = timeoutMs - (Date.now() - started);
      const res = await fetch(probeUrl, { signal: AbortSignal.timeout(Math.max(1000, left)) });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`status ${res.status}: ${body.slice(0, 200)}`);
      if (!body.includes(`"auth":"${cfg.key}:`)) throw new Error(`unexpected body: ${body.slice(0, 200)}`);
      return true;
    }, 500);
    return Date.now() - started;
  };
  try {
    fn.readyAfterMs = await fn.probe();
  } catch (err) {
    await child.stop();
    throw err;
  }
  return fn;
}

/**
 * A second function whose configuration is refused (`env`: the settings that break it), under
 * `cargo lambda watch` exactly as scripts/run-local.sh ends (same flags, cargo-lambda from
 * scripts/setup.sh) but without run-local.sh's `--check-config`, which would stop it first.
 * src/main.rs then answers every request with a 500 whose body is the configuration error
 * (`answer_every_request_with`); ready once a request gets that answer. Log: `<name>.log`.
 */
export async function startMisconfiguredFunction(cfg, { allowedOrigins, env: overrides, name = 'function-misconfigured' }) {
  const port = await freePort();
  const env = functionEnv(cfg, { port, allowedOrigins, overrides });
  const script = 'PATH="$(bash scripts/setup.sh):$PATH"; exec cargo lambda watch --quiet --disable-cors --invoke-address 127.0.0.1 --invoke-port "$PORT"';
  const child = new Child(name, 'bash', ['-c', script], { cwd: REPO_ROOT, env });
  const base = `http://127.0.0.1:${port}/lambda-url/pusher-auth`;
  const fn = { child, port, base, authEndpoint: `${base}/pusher/auth`, userAuthEndpoint: `${base}/pusher/user-auth` };
  const probeUrl = `${fn.authEndpoint}?callback=${encodeURIComponent("Pusher.auth_callbacks['0']")}&socket_id=1.1&channel_name=private-allowed-probe`;
  try {
    const started = Date.now();
    fn.answer = await waitUntil('the misconfigured function to answer 500 with its configuration error', FUNCTION_READY_TIMEOUT_MS, async () => {
      if (child.exited) throw fatal(`cargo lambda watch exited ${JSON.stringify(child.exited)}`);
      const res = await fetch(probeUrl, { signal: AbortSignal.timeout(FUNCTION_READY_TIMEOUT_MS) });
      const body = await res.text();
      if (res.status !== 500 || !body.startsWith('configuration error')) throw new Error(`status ${res.status}: ${body.slice(0, 200)}`);
      return { status: res.status, contentType: res.headers.get('content-type'), cors: res.headers.get('access-control-allow-origin'), body };
    }, 500);
    fn.readyAfterMs = Date.now() - started;
  } catch (err) {
    await child.stop();
    throw err;
  }
  return fn;
}

// ---------------------------------------------------------------------------
// An API Gateway REST API stage in front of the same function process: lib/apigw_stage.py
// (built on tests/deploy/apigw.py) serves the mapping-template routes of template.yaml
// (GET /<stage>/pusher/auth, GET /<stage>/pusher/user-auth): request.vtl rendered with AWS's
// $util.escapeJavaScript, the event sent to cargo lambda watch's Lambda Invoke API, the
// integration response selected and rendered. Runs in the venv of
// tests/deploy/requirements-vtl.txt (scripts/venv.sh; scripts/e2e.sh passes E2E_VTL_PYTHON).

export const VTL_PYTHON =
  process.env.E2E_VTL_PYTHON ||
  join(
    process.env.PUSHER_AUTH_CACHE || join(process.env.XDG_CACHE_HOME || join(process.env.HOME, '.cache'), 'pusher-auth-lambda'),
    'venv-deploy-vtl',
    'bin',
    'python',
  );

export async function startGateway(fn, { stage = 'staging', stageVariables = {}, integrationTimeoutMs } = {}) {
  const args = [
    join(HERE, 'apigw_stage.py'),
    '--template', join(REPO_ROOT, 'template.yaml'),
    '--stage', stage,
    '--stage-variables', JSON.stringify(stageVariables),
    '--invoke-url', `http://127.0.0.1:${fn.port}/2015-03-31/functions/pusher-auth/invocations`,
  ];
  if (integrationTimeoutMs) args.push('--integration-timeout-ms', String(integrationTimeoutMs));
  // No .pyc next to tests/deploy/apigw.py: cargo lambda watch rebuilds on changes in the tree.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  const child = new Child('gateway', VTL_PYTHON, args, { cwd: REPO_ROOT, env });
  let base;
  try {
    base = await waitUntil('the API Gateway stage (lib/apigw_stage.py) to listen', 30_000, async () => {
      if (child.exited) throw fatal(`apigw_stage.py exited ${JSON.stringify(child.exited)}`);
      const first = child.log().split('\n')[0];
      return first.startsWith('{') && first.endsWith('}') ? JSON.parse(first).listening : undefined;
    });
  } catch (err) {
    await child.stop();
    throw err;
  }
  const stageBase = `${base}/${stage}`;
  return {
    child,
    base: stageBase,
    authEndpoint: `${stageBase}/pusher/auth`,
    userAuthEndpoint: `${stageBase}/pusher/user-auth`,
    /** The stage's access-log lines (one JSON object per request) written after `offset`. */
    accessLog(offset = 0) {
      return child
        .logSince(offset)
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line))
        .filter((e) => e.requestId);
    },
  };
}

// ---------------------------------------------------------------------------
// Tokens (HS256, minted here with jose; the function checks them with JWT_SECRET).

// `claims`: more claims (e.g. a watchlist list claim).
export async function mintToken(cfg, { sub, name, expiresInSeconds = 600, claims: extra = {} }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = name === undefined ? { ...extra } : { name, ...extra };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInSeconds)
    .sign(new TextEncoder().encode(cfg.jwtSecret));
}

// ---------------------------------------------------------------------------
// Page servers: static pages loading pusher-js 8, 7 or 4 and the in-page helper.

const LIB_PACKAGES = { 8: 'pusher-js', 7: 'pusher-js-7', 4: 'pusher-js-4' };
// pusher-js 4's one web build includes encryption (tweetnacl); 5 and later have a separate one.
const libFile = (major) =>
  join(E2E_DIR, 'node_modules', LIB_PACKAGES[major], major === 4 ? 'dist/web/pusher.js' : 'dist/web/pusher-with-encryption.js');
const libVersion = (major) =>
  JSON.parse(readFileSync(join(E2E_DIR, 'node_modules', LIB_PACKAGES[major], 'package.json'), 'utf8')).version;

// `extras`: scripts loaded after pusher-js (a batch-authorization client reads `window.Pusher`).
function pageHtml(major, extras = []) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>pusher-js ${major} e2e</title>
<script>window.E2E_PUSHER_JS_VERSION = ${JSON.stringify(libVersion(major))};</script>
<script src="/lib/pusher-${major}.js"></script>
${extras.map((src) => `<script src="${src}"></script>\n`).join('')}<script src="/page.js"></script>
</head><body><p>pusher-js ${major} end-to-end page</p></body></html>
`;
}

// The bundled page: page/bundled-entry.mjs (pusher-js 8 and the client/ package imported as ES
// modules) bundled by esbuild from npm, once per run, as an ES module.
let bundle;
export function bundledPage() {
  bundle = bundle || esbuild({
    entryPoints: [join(E2E_DIR, 'page/bundled-entry.mjs')],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    logLevel: 'warning',
  }).then((r) => ({ code: r.outputFiles[0].text, inputs: Object.keys(r.metafile.inputs) }));
  return bundle;
}

function bundledHtml() {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>pusher-js 8 bundled by esbuild, e2e</title>
<script>window.E2E_PUSHER_JS_VERSION = ${JSON.stringify(libVersion(8))};</script>
<script type="module" src="/lib/bundle-8.mjs"></script>
<script src="/page.js"></script>
</head><body><p>pusher-js 8 and pusher-batch-auth bundled by esbuild</p></body></html>
`;
}

export async function startPageServer() {
  const port = await freePort();
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const send = (status, type, body) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (path === '/v8.html') return send(200, 'text/html; charset=utf-8', pageHtml(8));
    if (path === '/v7.html') return send(200, 'text/html; charset=utf-8', pageHtml(7));
    if (path === '/v4.html') return send(200, 'text/html; charset=utf-8', pageHtml(4));
    if (path === '/v8-bundled.html') return send(200, 'text/html; charset=utf-8', bundledHtml());
    if (path === '/lib/bundle-8.mjs') {
      return void bundledPage().then((b) => send(200, 'application/javascript', b.code), (e) => send(500, 'text/plain', String(e)));
    }
    // Batched authorization: the repository's client helper (pusher-js 8's customHandler) and the
    // npm pusher-js-auth plugin (it takes `window.Pusher` when it loads: one pusher-js per page).
    if (path === '/v8-batch-helper.html') return send(200, 'text/html; charset=utf-8', pageHtml(8, ['/client/pusher-batch-auth.js']));
    if (path === '/v8-pusher-js-auth.html') return send(200, 'text/html; charset=utf-8', pageHtml(8, ['/lib/pusher-js-auth.js']));
    if (path === '/v7-pusher-js-auth.html') return send(200, 'text/html; charset=utf-8', pageHtml(7, ['/lib/pusher-js-auth.js']));
    if (path === '/client/pusher-batch-auth.js') {
      return send(200, 'application/javascript', readFileSync(join(REPO_ROOT, 'client/pusher-batch-auth.js')));
    }
    if (path === '/lib/pusher-js-auth.js') {
      return send(200, 'application/javascript', readFileSync(join(E2E_DIR, 'node_modules/pusher-js-auth/lib/pusher-auth.js')));
    }
    if (path === '/lib/pusher-8.js') return send(200, 'application/javascript', readFileSync(libFile(8)));
    if (path === '/lib/pusher-7.js') return send(200, 'application/javascript', readFileSync(libFile(7)));
    if (path === '/lib/pusher-4.js') return send(200, 'application/javascript', readFileSync(libFile(4)));
    if (path === '/page.js') return send(200, 'application/javascript', readFileSync(join(E2E_DIR, 'page/page.js')));
    return send(404, 'text/plain', 'not found');
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  return { server, port, origin: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}

// ---------------------------------------------------------------------------
// Headless Debian Chromium through playwright-core (never a downloaded browser).

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchBrowser() {
  const userDataDir = mkdtempSync(join(WORK_DIR, 'chromium-profile-'));
  const persistent = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  const browser = persistent.browser();
  return { browser, persistent, userDataDir };
}

/** The log of a child started by this run ('sockudo', 'function', 'gateway'), even if it failed to start. */
export function readLog(name) {
  try {
    return readFileSync(join(WORK_DIR, `${name}.log`), 'utf8');
  } catch {
    return '';
  }
}

export function cleanupWorkDir() {
  if (process.env.E2E_KEEP_LOGS) return;
  rmSync(WORK_DIR, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// The stack of a browser suite: page servers, sockudo, the function (and optionally the API
// Gateway stage), headless Chromium and the npm `pusher` server library against sockudo.

/** The official npm `pusher` server library, talking to sockudo's HTTP API. */
export function serverApi(cfg, sockudo, { encryption = true } = {}) {
  return new PusherServer({
    appId: cfg.appId,
    key: cfg.key,
    secret: cfg.secret,
    host: '127.0.0.1',
    port: String(sockudo.port),
    useTLS: false,
    ...(encryption ? { encryptionMasterKeyBase64: cfg.masterKeyBase64 } : {}),
  });
}

/** The start-up failure report: the logs of the children (those that started, empty otherwise). */
function reportStartFailure(err, names) {
  process.stderr.write(`\n===== start-up failed: ${err.message} =====\n`);
  for (const name of names) process.stderr.write(`----- ${name} log -----\n${readLog(name).slice(-20_000)}\n`);
}

/**
 * Starts, in order: `pageServers` static page servers, `prepare(stack)` (more peers, e.g. a
 * user pool; `stack.closers` takes their stop functions), sockudo (`sockudo`: its options),
 * the function (`fn(stack)`: its options, may be async), the API Gateway stage when
 * `gateway(stack)` gives its options, `ready(stack)`; a failure there prints the logs
 * (`onFailure(err)` instead, if given) and fails the run. Then the browser and the server
 * library (`api`: serverApi's options). Returns the handles { pages, sockudo, fn, gw,
 * browserHandle, api, closers }; what started is stopped again if a step fails.
 */
export async function startStack(cfg, { pageServers = 0, prepare, sockudo: sockudoOptions, fn: fnOptions, gateway, ready, api: apiOptions, onFailure } = {}) {
  const stack = { pages: [], closers: [] };
  try {
    for (let i = 0; i < pageServers; i += 1) stack.pages.push(await startPageServer());
    try {
      if (prepare) await prepare(stack);
      stack.sockudo = await startSockudo(cfg, sockudoOptions);
      stack.fn = await startFunction(cfg, await fnOptions(stack));
      if (gateway) stack.gw = await startGateway(stack.fn, gateway(stack));
      if (ready) await ready(stack);
    } catch (err) {
      if (onFailure) onFailure(err);
      else reportStartFailure(err, gateway ? ['sockudo', 'function', 'gateway'] : ['sockudo', 'function']);
      process.exitCode = 1;
      throw err;
    }
    stack.browserHandle = await launchBrowser();
    stack.api = serverApi(cfg, stack.sockudo, apiOptions);
    return stack;
  } catch (err) {
    await stopStack(stack, { cleanup: false });
    throw err;
  }
}

/** Stops everything `startStack` started (for `after`: even when a scenario failed); keeps the logs of a failed run. */
export async function stopStack(stack, { cleanup = true } = {}) {
  const stops = [];
  if (stack) {
    if (stack.browserHandle) stops.push(stack.browserHandle.persistent.close().catch(() => {}));
    for (const started of [stack.gw, stack.fn, stack.sockudo]) if (started) stops.push(started.child.stop());
    for (const close of stack.closers) stops.push(close());
    for (const page of stack.pages) stops.push(page.close());
  }
  await Promise.all(stops);
  if (cleanup && !process.exitCode) cleanupWorkDir();
}

// ---------------------------------------------------------------------------
// Scenarios in the browser, and helpers that read the page's helper (page/page.js).

const SCENARIO_LOGS = [
  ['fn', 'function log (scripts/run-local.sh, cargo lambda watch)'],
  ['sockudo', 'sockudo log'],
  ['gw', 'API Gateway stage log (lib/apigw_stage.py)'],
];

/**
 * A scenario: `body({ newContext, note })` gets browser contexts that are closed afterwards;
 * on failure it prints the browser console (`consoleLines`) and the logs of the stack's
 * children from this scenario. `stack`: a function that returns startStack's handles.
 */
export function browserScenario(name, { stack: getStack, consoleLines, timeout = 240_000 }, body) {
  test(name, { timeout }, async (t) => {
    const stack = getStack();
    const children = SCENARIO_LOGS.filter(([key]) => stack[key]).map(([key, label]) => ({ child: stack[key].child, label }));
    const marks = { console: consoleLines.length, logs: children.map(({ child }) => child.logSize()) };
    const contexts = [];
    const newContext = async (options) => {
      const context = await stack.browserHandle.browser.newContext(options);
      contexts.push(context);
      return context;
    };
    try {
      await body({ newContext, note: (msg) => t.diagnostic(msg) });
    } catch (err) {
      const dump = [`\n===== ${name}: FAILED =====`, '----- browser console -----', ...consoleLines.slice(marks.console)];
      children.forEach(({ child, label }, i) => dump.push(`----- ${label} -----`, child.logSince(marks.logs[i]).slice(-20_000)));
      dump.push(`===== end of ${name} (all logs kept in ${WORK_DIR}) =====`);
      process.stderr.write(`${dump.join('\n')}\n`);
      process.exitCode = 1;
      throw err;
    } finally {
      await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    }
  });
}

/**
 * A new page in `context` at `url`, its console kept in `consoleLines` under `label`.
 * `version`: check that pusher-js of that major version loaded. `beforeGoto(page)`: e.g. to
 * record its requests.
 */
export async function loadPage(context, consoleLines, label, url, { version, beforeGoto } = {}) {
  const page = await context.newPage();
  if (beforeGoto) beforeGoto(page);
  page.on('console', (m) => consoleLines.push(`[${label}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[${label}] pageerror: ${e.message}`));
  await page.goto(url, { timeout: WAIT_MS });
  if (version !== undefined) {
    const loaded = await page.evaluate(() => window.E2E && window.E2E.version);
    assert.ok(loaded && loaded.startsWith(`${version}.`), `pusher-js ${version}.x loaded (got ${loaded})`);
  }
  return page;
}

/** Options every pusher-js client needs to reach sockudo. */
export function socketOptions(sockudo) {
  return { cluster: 'mt1', wsHost: '127.0.0.1', wsPort: sockudo.port, forceTLS: false, enabledTransports: ['ws'], disableStats: true };
}

/**
 * Connects client `id` of the page to sockudo with app key `key`, after running `setup` (the
 * body of a function of (options, arg) that may add to the options, e.g. a customHandler) in
 * the page; returns the socket id.
 */
export async function connectWithSetup(page, key, id, options, setup = null, arg = null) {
  const r = await page.evaluate(
    ([i, k, o, s, a, t]) => {
      // eslint-disable-next-line no-new-func
      if (s) new Function('options', 'arg', s)(o, a);
      return window.E2E.connect(i, k, o, t);
    },
    [id, key, options, setup, arg, WAIT_MS],
  );
  assert.equal(r.outcome, 'connected', `${id} connects to sockudo: ${JSON.stringify(r)}`);
  return r.detail.socketId;
}

export function subscribe(page, id, channel, timeoutMs = WAIT_MS) {
  return page.evaluate(([i, c, t]) => window.E2E.subscribe(i, c, t), [id, channel, timeoutMs]);
}

export function pageLog(page) {
  return page.evaluate(() => window.E2E.log);
}

export async function waitForLog(page, what, predicate, timeoutMs = WAIT_MS) {
  return waitUntil(what, timeoutMs, async () => (await pageLog(page)).find(predicate), 50);
}

export function assertSubscribed(result, what) {
  assert.equal(result.outcome, 'subscription_succeeded', `${what}: ${JSON.stringify(result)}`);
  assert.equal(result.subscribed, true, what);
}

/** sockudo's HTTP API (through the server library `api`): a channel's info. */
export async function channelInfo(api, channel) {
  const res = await api.get({ path: `/channels/${channel}` });
  assert.equal(res.status, 200);
  return res.json();
}

/** sockudo's HTTP API: the sorted user ids of a presence channel. */
export async function presenceUsers(api, channel) {
  const res = await api.get({ path: `/channels/${channel}/users` });
  assert.equal(res.status, 200);
  return (await res.json()).users.map((u) => u.id).sort();
}

/** The JSON lines of a log text (other lines skipped, unparsable ones as {}). */
export function jsonLines(text) {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return {};
      }
    });
}

// ---------------------------------------------------------------------------
// JSONP refusals of one channel (README, "Answers to refusals"): a fixed script whose
// arguments are the socket id, the channel, the callback's number and the error object.

const JSONP_DENIAL = /^\/\*\*\/\(function\(s,n,k,e\)\{[^"<]*\}\)\((.*)\);$/s;

/** The arguments of the function's JSONP channel denial, or null for any other body. */
export function jsonpDenial(body) {
  const m = JSONP_DENIAL.exec(body);
  if (!m) return null;
  const args = JSON.parse(`[${m[1]}]`);
  assert.equal(args.length, 4, `a denial has four arguments: ${body}`);
  const [socketId, channel, number, error] = args;
  return { socketId, channel, callback: `Pusher.auth_callbacks['${number}']`, error };
}

/** Records into `frames` every WebSocket frame `page` sends (parsed); pass as loadPage's beforeGoto. */
export function recordSentFrames(page, frames) {
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      try {
        frames.push(JSON.parse(String(f.payload)));
      } catch {
        frames.push({ raw: String(f.payload) });
      }
    }));
}

/** The `pusher:subscribe` frames sent for `channel`. */
export function subscribesFor(frames, channel) {
  return frames.filter((f) => f.event === 'pusher:subscribe' && f.data && f.data.channel === channel);
}

/**
 * A JSONP refusal as pusher-js itself reports an AJAX one: `pusher:subscription_error`
 * on the channel with {type: 'AuthError', error: <code>, status} within 2 s, not subscribed.
 */
export function assertJsonpRefused(r, { code, status, what }) {
  assert.equal(r.outcome, 'subscription_error', `${what}: ${JSON.stringify(r)}`);
  assert.deepEqual(r.detail, { type: 'AuthError', error: code, status }, `${what}: ${JSON.stringify(r)}`);
  assert.ok(r.elapsedMs < 2000, `${what}: within 2 s (took ${r.elapsedMs} ms)`);
  assert.equal(r.subscribed, false, what);
}

/** The server's 4009 ("Authentication signature required") errors client `id` got. */
export async function errors4009(page, id) {
  return (await pageLog(page)).filter((e) =>
    e.client === id && e.kind === 'connection-error' && e.detail && e.detail.data && e.detail.data.code === 4009);
}
