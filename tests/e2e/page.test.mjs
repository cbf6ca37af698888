// The live page of the run command (demo/, served by scripts/run-local.sh) in headless
// Chromium against sockudo: what a user sees. scripts/run-local.sh runs with its demo
// settings (AUTH_MODE=demo, its CHANNEL_RULES) except the app's key and secret, which are
// sockudo's app, and PUSHER_WS_HOST/PUSHER_WS_PORT pointing at sockudo, as the README tells a
// user to run it. The checks read the page's text, not pusher-js's state; sockudo and the
// official npm `pusher` library confirm what the page claims.
//
// E2E_SCREENSHOT=<path>: also write the screenshot of the JSONP run there (the README's
// docs/page.png); it is always written to the work dir.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  WAIT_MS,
  WORK_DIR,
  freePort,
  loadPage,
  makeConfig,
  mintToken,
  readLog,
  startFunction,
  startStack,
  stopStack,
  uniq,
  waitUntil,
} from './lib/harness.mjs';

const SHOT_VIEWPORT = { width: 1000, height: 700 };

const cfg = makeConfig();
let stack; // startStack's handles
let sockudo;
let fn;
let pageOrigin;
let browserHandle;
let api;
const consoleLines = [];

// run-local.sh's demo settings, except what this test must set (the ones set to undefined
// are removed, so run-local.sh's defaults apply).
const DEMO = {
  AUTH_MODE: undefined,
  JWT_ALGORITHMS: undefined,
  JWT_SECRET: undefined,
  CHANNEL_RULES: undefined,
  USER_INFO_CLAIMS: undefined,
};

async function pageConfig(origin) {
  return waitUntil(`the page's /config.json at ${origin}`, 30_000, async () => {
    const res = await fetch(`${origin}/config.json`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? { text: await res.text(), type: res.headers.get('content-type') } : undefined;
  });
}

function dumpLogs(what) {
  process.stderr.write(`\n===== ${what} =====\n----- browser console -----\n${consoleLines.join('\n')}\n`);
  for (const name of ['sockudo', 'function']) {
    process.stderr.write(`----- ${name} log -----\n${readLog(name).slice(-20_000)}\n`);
  }
}

before(
  async () => {
    stack = await startStack(cfg, {
      fn: async (started) => {
        const pagePort = await freePort();
        pageOrigin = `http://127.0.0.1:${pagePort}`;
        return {
          allowedOrigins: [pageOrigin],
          pagePort,
          env: { ...DEMO, PUSHER_WS_HOST: '127.0.0.1', PUSHER_WS_PORT: String(started.sockudo.port) },
        };
      },
      ready: () => pageConfig(pageOrigin),
      onFailure: (err) => dumpLogs(`start-up failed: ${err.message}`),
    });
    ({ sockudo, fn, browserHandle, api } = stack);
    console.log(`# page at ${pageOrigin}, function ready after ${fn.readyAfterMs} ms; work dir ${WORK_DIR}`);
  },
  { timeout: 420_000 },
);

after(() => stopStack(stack));

async function openPage(label, url) {
  const context = await browserHandle.browser.newContext({ viewport: SHOT_VIEWPORT });
  const page = await loadPage(context, consoleLines, label, url);
  return { page, context };
}

/** For assertion messages: a signature that reached the page is never printed. */
const redact = (text) => text.replace(/[0-9a-f]{64}/g, '<64 hex digits>').replace(/("shared_secret":")[^"]+/g, '$1<redacted>');

/** The page's list of steps as the user reads it: [{ kind, source, text }] (source: its app/page tag). */
function steps(page) {
  return page.$$eval('#steps li', (lis) => lis.map((li) => ({
    kind: li.dataset.kind,
    source: li.querySelector('.src').textContent,
    text: li.querySelector('.what').textContent,
  })));
}

async function cardState(page, id) {
  return page.$eval(`#card-${id}`, (c) => ({ state: c.dataset.state || 'waiting', text: c.innerText }));
}

async function waitForCard(page, id, state) {
  return waitUntil(`the ${id} card to show ${state}`, WAIT_MS, async () => {
    const c = await cardState(page, id);
    if (c.state !== 'waiting' && c.state !== state) throw Object.assign(new Error(`${id}: ${c.text}`), { fatal: true });
    return c.state === state ? c : undefined;
  }, 100);
}

function wrap(name, body) {
  test(name, { timeout: 240_000 }, async () => {
    const mark = consoleLines.length;
    try {
      await body();
    } catch (err) {
      consoleLines.splice(0, mark);
      dumpLogs(`${name}: FAILED`);
      process.exitCode = 1;
      throw err;
    }
  });
}

wrap('the page and its configuration are served; the configuration holds no secret', async () => {
  const { text, type } = await pageConfig(pageOrigin);
  assert.equal(type, 'application/json');
  const config = JSON.parse(text);
  assert.equal(config.key, cfg.key);
  assert.equal(config.wsHost, '127.0.0.1');
  assert.equal(config.wsPort, sockudo.port);
  assert.equal(config.authEndpoint, fn.authEndpoint);
  assert.equal(config.userAuthEndpoint, fn.userAuthEndpoint);
  assert.equal(config.authMode, 'demo');
  assert.equal(config.demoKey, false);
  assert.ok(!text.includes(cfg.secret), 'no Pusher secret in the page configuration');
  assert.ok(!text.includes(cfg.masterKeyBase64), 'no encryption master key in the page configuration');
  assert.ok(!/secret|master/i.test(text), 'no secret-named setting in the page configuration');
  const html = await fetch(`${pageOrigin}/`);
  assert.equal(html.status, 200);
  assert.match(await html.text(), /<script src="\/pusher\.js"><\/script>/);
  const lib = await fetch(`${pageOrigin}/pusher.js`);
  assert.equal(lib.status, 200);
  assert.ok((await lib.text()).includes('VERSION: "8.6.0"'), 'the pinned pusher-js');
});

for (const transport of ['jsonp', 'ajax']) {
  wrap(`${transport}: the page shows a signed private channel, the presence member, the encrypted channel, signin and a refusal`, async () => {
    const { page, context } = await openPage(transport, `${pageOrigin}/?transport=${transport}`);
    try {
      assert.equal(await page.$eval('input[name=transport]:checked', (r) => r.value), transport, 'the chosen transport is selected');
      assert.equal(await page.$eval('#missing', (m) => m.hidden), true, 'nothing reported missing');

      const priv = await waitForCard(page, 'private', 'ok');
      assert.match(priv.text, /subscribed/);
      const presence = await waitForCard(page, 'presence', 'ok');
      assert.match(presence.text, /demo-user \(Demo User\) — you/, 'the demo user is listed as a member');
      const encrypted = await waitForCard(page, 'encrypted', 'ok');
      assert.match(encrypted.text, /subscribed/);
      const signin = await waitForCard(page, 'signin', 'ok');
      assert.match(signin.text, /signed in\s+as demo-user \(Demo User\)/);
      assert.equal(await page.$eval('#connection', (c) => c.textContent), 'connected');

      // The steps: each request to the function and its answer, signatures shortened.
      const list = await steps(page);
      const req = (channel) =>
        list.find((s) => s.kind === 'req' && s.text.includes(`channel_name=${channel}`));
      for (const channel of ['private-demo', 'presence-demo', 'private-encrypted-demo']) {
        const r = req(channel);
        assert.ok(r, `the request for ${channel} is shown: ${redact(JSON.stringify(list))}`);
        if (transport === 'jsonp') assert.ok(r.text.startsWith(`GET ${fn.authEndpoint}?callback=Pusher.auth_callbacks`), r.text);
        else assert.ok(r.text.startsWith(`POST ${fn.authEndpoint}  body: socket_id=`), r.text);
        const answer = list.find((s) => s.kind === 'ans' && s.text.startsWith(`answer for ${channel}`));
        assert.ok(answer, `the answer for ${channel} is shown`);
        // assert.ok, not assert.match: a failure must not print the (unshortened) signature.
        assert.ok(new RegExp(`"auth":"${cfg.key}:[0-9a-f]{8}…"`).test(answer.text), `shortened signature: ${redact(answer.text)}`);
        assert.ok(list.some((s) => s.kind === 'good' && s.text.startsWith(`subscribed to ${channel}`)), `${channel} subscribed`);
      }
      const presenceAnswer = list.find((s) => s.text.startsWith('answer for presence-demo'));
      assert.ok(/"channel_data":"\{.*\\"demo-user\\"/.test(presenceAnswer.text), redact(presenceAnswer.text));
      const encryptedAnswer = list.find((s) => s.text.startsWith('answer for private-encrypted-demo'));
      assert.ok(/"shared_secret":"[A-Za-z0-9+/]{6}…"/.test(encryptedAnswer.text), `shortened shared secret: ${redact(encryptedAnswer.text)}`);
      assert.ok(list.some((s) => s.kind === 'req' && s.text.includes('/pusher/user-auth')), 'the signin request is shown');
      assert.ok(list.some((s) => s.kind === 'good' && s.text === 'signed in as demo-user (Demo User)'));
      const pageText = await page.innerText('body');
      assert.ok(!/[0-9a-f]{64}/.test(pageText), 'no full signature on the page');

      // sockudo agrees with the page.
      const channel = await api.get({ path: '/channels/private-demo' });
      assert.equal((await channel.json()).occupied, true, 'sockudo has the private subscriber');
      const users = await (await api.get({ path: '/channels/presence-demo/users' })).json();
      assert.ok(users.users.some((u) => u.id === 'demo-user'), `sockudo lists demo-user: ${JSON.stringify(users)}`);

      // An event sent encrypted by the npm pusher library shows decrypted on the encrypted card.
      const text = `hello over ${transport}`;
      assert.equal((await api.trigger('private-encrypted-demo', 'demo-event', { text })).status, 200);
      await waitUntil('the decrypted event on the page', WAIT_MS, async () =>
        (await cardState(page, 'encrypted')).text.includes(`demo-event: {"text":"${text}"}`));

      // A refusal and its reason: a channel name the function refuses.
      await page.fill('#extra-channel', 'private-not valid');
      await page.click('#extra button');
      const refused = await waitForCard(page, 'extra-4', 'bad');
      assert.match(refused.text, /refused\s+by the function: invalid_channel_name \(400\)/, refused.text);
      assert.match(refused.text, /read by this page's instrumentation/, `the card says where the reason comes from: ${refused.text}`);
      const after = await steps(page);
      assert.ok(after.some((s) => s.kind === 'refused' && s.source === 'page' && s.text.startsWith('answer for private-not valid') &&
        s.text.includes('"error":"invalid_channel_name"')), redact(JSON.stringify(after.slice(-4))));

      // Which details a real app also gets: every line is tagged, the legend explains the tags.
      const legend = await page.innerText('#legend');
      assert.match(legend, /app\s+what a real app also gets: pusher-js's events/, legend);
      assert.match(legend, /page\s+what only this page sees through its instrumentation/, legend);
      assert.match(legend, /patches XMLHttpRequest and wraps Pusher\.auth_callbacks/, legend);
      for (const s of after) {
        const expected = s.kind === 'req' || s.text.startsWith('answer for ') ? 'page' : 'app';
        assert.equal(s.source, expected, `${s.kind} line tagged ${expected}: ${redact(s.text)}`);
      }
      assert.ok(after.some((s) => s.source === 'app' && s.text.startsWith('subscribed to private-demo')), 'subscriptions are app lines');

      // The README's screenshot: the page as a user sees it (before the held request below).
      if (transport === 'jsonp') {
        const shot = join(WORK_DIR, 'page.png');
        await page.screenshot({ path: shot, fullPage: true });
        if (process.env.E2E_SCREENSHOT) {
          copyFileSync(shot, process.env.E2E_SCREENSHOT);
          console.log(`# screenshot written to ${process.env.E2E_SCREENSHOT}`);
        }
      }

      // A request the function never answers (held by the browser here): after 5 s the page says so.
      const slow = `private-slow-${transport}`;
      await page.route(`${fn.authEndpoint}*`, (route) => {
        const req = route.request();
        if ((req.url() + (req.postData() || '')).includes(slow)) return; // never answered
        route.continue();
      });
      const asked = Date.now();
      await page.fill('#extra-channel', slow);
      await page.click('#extra button');
      const silent = await waitForCard(page, 'extra-5', 'bad');
      const waited = Date.now() - asked;
      assert.match(silent.text, /no answer from the function — see the terminal/, silent.text);
      assert.ok(waited >= 4500 && waited < 9000, `after about 5 s (${waited} ms)`);
      const last = await steps(page);
      assert.ok(last.some((s) => s.kind === 'refused' && s.source === 'page' &&
        s.text.startsWith(`no answer from the function — see the terminal (${slow}, 5 s)`)), redact(JSON.stringify(last.slice(-3))));

    } finally {
      await context.close().catch(() => {});
    }
  });
}

wrap('with the demo defaults and no local server, the page says what is missing', async () => {
  // run-local.sh with all its defaults (demo key and secret, no PUSHER_WS_HOST), its page on
  // another port.
  const pagePort = await freePort();
  const origin = `http://127.0.0.1:${pagePort}`;
  const demo = await startFunction({ ...cfg, key: 'demo-app-key' }, {
    allowedOrigins: [origin],
    pagePort,
    env: { ...DEMO, PUSHER_APP_ID: undefined, PUSHER_KEY: undefined, PUSHER_SECRET: undefined, PUSHER_ENCRYPTION_MASTER_KEY_BASE64: undefined },
  });
  try {
    const config = JSON.parse((await pageConfig(origin)).text);
    assert.equal(config.demoKey, true);
    assert.equal(config.wsHost, null);
    const { page, context } = await openPage('missing', `${origin}/`);
    try {
      await page.waitForSelector('#missing:not([hidden])', { timeout: WAIT_MS });
      const text = await page.innerText('#missing');
      assert.match(text, /Nothing to connect to yet/);
      assert.match(text, /"demo-app-key" is the built-in demo key, not a Pusher app/);
      assert.match(text, /PUSHER_KEY=… PUSHER_SECRET=… PUSHER_CLUSTER=…/);
      assert.match(text, /PUSHER_WS_HOST=127\.0\.0\.1 PUSHER_WS_PORT=6001/);
      assert.equal(await page.$eval('#cards', (c) => c.hidden), true, 'no connection attempted');
    } finally {
      await context.close().catch(() => {});
    }
  } finally {
    await demo.child.stop();
  }
});

/** Waits until the card `id` shows the refusal code `code` (its data-code and its text). */
async function waitForCode(page, id, code) {
  return waitUntil(`the ${id} card to show the code ${code}`, WAIT_MS, async () => {
    const c = await page.$eval(`#card-${id}`, (el) => ({ code: el.dataset.code, state: el.dataset.state, text: el.innerText }));
    if (c.state === 'ok') throw Object.assign(new Error(`${id}: ${c.text}`), { fatal: true });
    return c.code === code ? c : undefined;
  }, 100);
}

const CARDS = ['private', 'presence', 'encrypted', 'signin'];

wrap('AUTH_MODE=jwt: without a token the page says it needs one and shows each code; a token from the field or ?token= signs', async () => {
  // run-local.sh with the suite's jwt settings (HS256, its secret) and the demo's channel rules,
  // its page on another port, the same sockudo.
  const pagePort = await freePort();
  const origin = `http://127.0.0.1:${pagePort}`;
  const jwt = await startFunction(cfg, {
    allowedOrigins: [origin],
    pagePort,
    env: { CHANNEL_RULES: undefined, PUSHER_WS_HOST: '127.0.0.1', PUSHER_WS_PORT: String(sockudo.port) },
  });
  try {
    assert.equal(JSON.parse((await pageConfig(origin)).text).authMode, 'jwt');
    for (const transport of ['jsonp', 'ajax']) {
      const { page, context } = await openPage(`jwt-${transport}`, `${origin}/?transport=${transport}`);
      try {
        // No token: the page says so, and every card shows the function's code.
        await page.waitForSelector('#token-needed:not([hidden])', { timeout: WAIT_MS });
        const notice = await page.innerText('#token-needed');
        assert.match(notice, /AUTH_MODE=jwt: the function signs only for a user with a token it accepts, and this page has none/, notice);
        assert.match(notice, /code unauthenticated, 401; the function logs token_missing/, notice);
        assert.match(notice, /token field below, or open this page with \?token=<token>/, notice);
        for (const id of CARDS) {
          const c = await waitForCode(page, id, 'unauthenticated (401)');
          assert.match(c.text, /refused/, `${transport}: ${id}: ${c.text}`);
          assert.match(c.text, /code: unauthenticated \(401\)/, `${transport}: ${id}: ${c.text}`);
        }

        // A token typed into the field: the page reloads with it (the transport kept) and signs.
        const sub = `page-user-${uniq()}`;
        const token = await mintToken(cfg, { sub, name: 'Page User' });
        await Promise.all([page.waitForNavigation({ timeout: WAIT_MS }), (async () => {
          await page.fill('#token', token);
          await page.click('#token-form button');
        })()]);
        const address = new URL(page.url()).searchParams;
        assert.ok(address.get('token') === token, 'the token is in the address');
        assert.equal(address.get('transport'), transport);
        for (const id of ['private', 'encrypted']) assert.match((await waitForCard(page, id, 'ok')).text, /subscribed/);
        const presence = await waitForCard(page, 'presence', 'ok');
        assert.ok(presence.text.includes(`${sub} (Page User) — you`), presence.text);
        const signin = await waitForCard(page, 'signin', 'ok');
        assert.ok(/signed in\s+as /.test(signin.text) && signin.text.includes(`as ${sub} (Page User)`), signin.text);
        const notice2 = await page.innerText('#token-needed');
        assert.match(notice2, /signs for the user of the token this page sends/, notice2);
        const text = await page.innerText('body');
        assert.ok(!text.includes(token), 'the token is never shown whole');
        assert.ok(text.includes(`token=${token.slice(0, 8)}…`), 'the requests show it shortened');
      } finally {
        await context.close().catch(() => {});
      }
    }

    // An expired token in ?token=: each card shows token_expired.
    const expired = await mintToken(cfg, { sub: `late-${uniq()}`, name: 'Late', expiresInSeconds: -600 });
    for (const transport of ['jsonp', 'ajax']) {
      const { page, context } = await openPage(`jwt-expired-${transport}`, `${origin}/?transport=${transport}&token=${expired}`);
      try {
        for (const id of CARDS) await waitForCode(page, id, 'token_expired (401)');
      } finally {
        await context.close().catch(() => {});
      }
    }
  } finally {
    await jwt.child.stop();
  }
});
