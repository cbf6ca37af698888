// Infrastructure for the end-to-end suite: free ports, child processes in their
// own process groups, sockudo, the function under `cargo lambda watch`, the
// static page servers, headless Chromium and token minting. Everything binds
// to 127.0.0.1 on ports chosen at run time and every wait is bounded.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { SignJWT } from 'jose';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = resolve(HERE, '..');
export const REPO_ROOT = resolve(E2E_DIR, '../..');

export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
export const SOCKUDO = process.env.E2E_SOCKUDO || join(process.env.CARGO_HOME || join(process.env.HOME, '.cargo'), 'bin', 'sockudo');
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

// sockudo 5.2.0 sends watchlist `offline` events only from its synchronous disconnect cleanup
// (handler/core.rs handle_disconnect_sync); the asynchronous one, its default, skips them.
const WATCHLIST_CLEANUP = `[cleanup]
async_enabled = false

`;

// `watchlistEvents`: turn on sockudo's watchlist events for the app (online/offline of the ids in
// a signed-in user's `user_data.watchlist`; off by default in sockudo).
export async function startSockudo(cfg, { watchlistEvents = false } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(WORK_DIR, 'sockudo-'));
  const configPath = join(dir, 'sockudo.toml');
  writeFileSync(
    configPath,
    `# written by tests/e2e for one run
host = "127.0.0.1"
port = ${port}
debug = false
# stop at once when the test ends (the default waits 10 s for connections to drain)
shutdown_grace_period = 0

[adapter]
driver = "local"

[cache]
driver = "memory"

[queue]
driver = "memory"

[rate_limiter]
enabled = false

[metrics]
enabled = false

${watchlistEvents ? WATCHLIST_CLEANUP : ''}[app_manager]
driver = "memory"

[[app_manager.array.apps]]
id = "${cfg.appId}"
key = "${cfg.key}"
secret = "${cfg.secret}"
enabled = true
enable_client_messages = false
# pusher.signin(): accept pusher:signin (sockudo refuses it unless enabled)
enable_user_authentication = true
${watchlistEvents ? 'enable_watchlist_events = true\n' : ''}`,
  );
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

// `env`: settings that replace the ones below (undefined removes one: run-local.sh's default
// applies). `pagePort`: serve run-local.sh's live page there (off otherwise). `probeToken`
// (async, returns a token) and `probeChannel` replace the HS256 readiness probe for other
// identity configurations.
export async function startFunction(cfg, { allowedOrigins, env: overrides = {}, pagePort, probeToken, probeChannel = 'private-allowed-probe' } = {}) {
  const port = await freePort();
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

// ---------------------------------------------------------------------------
// An API Gateway REST API stage in front of the same function process: lib/apigw_stage.py
// (built on tests/deploy/apigw.py) serves the mapping-template routes of template.yaml
// (GET /<stage>/pusher/auth, GET /<stage>/pusher/user-auth): request.vtl rendered with AWS's
// $util.escapeJavaScript, the event sent to cargo lambda watch's Lambda Invoke API, the
// integration response selected and rendered. Runs in the venv of
// tests/deploy/requirements-vtl.txt (scripts/vtl-venv.sh; scripts/e2e.sh passes E2E_VTL_PYTHON).

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
// Page servers: static pages loading pusher-js 8 or 7 and the in-page helper.

const LIB_PACKAGES = { 8: 'pusher-js', 7: 'pusher-js-7' };
const libFile = (major) => join(E2E_DIR, 'node_modules', LIB_PACKAGES[major], 'dist/web/pusher-with-encryption.js');
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
