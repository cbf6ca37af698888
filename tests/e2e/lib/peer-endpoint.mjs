// A peer of the function for the smoke check (tests/e2e/smoke.test.mjs): a Pusher channel auth
// endpoint written independently with the official npm `pusher` library
// (`pusher.authorizeChannel`), answering JSONP and AJAX the way README.md ("What it answers")
// documents, so scripts/smoke.sh is shown to work on an endpoint it was not written with.
//
//   GET  …/pusher/auth?callback=Pusher.auth_callbacks['N']&socket_id&channel_name[&token]
//        JSONP: `Pusher.auth_callbacks['N']({...});` (text/javascript, without the function's
//        `/**/typeof … &&` guard). A missing or malformed callback: 400 JSON, never echoed. A
//        refusal with a sound callback: 200 and the callback called on the error object.
//   POST …/pusher/auth (form socket_id, channel_name[, token]; or Authorization: Bearer)
//        AJAX: JSON; refusals with their status.
//   OPTIONS …/pusher/auth  preflight: 204 for an allowed origin, else 403.
// Checks, in order: socket id (digits.digits), channel name (prefix and characters), the token
// (one fixed bearer token), the channel rule (exact names or `prefix*`), then signs; presence
// channels carry a fixed user. CORS: an `Origin` in `origins` gets Access-Control-Allow-Origin
// and Vary: Origin on every answer; any other `Origin` gets 403 origin_not_allowed, no CORS.
//
// `broken` makes deliberately wrong variants: `wrongSignature` (signs with another secret),
// `echoCallback` (writes the callback into the script unchecked), `anyOrigin`
// (Access-Control-Allow-Origin: * for everyone), `noTokenCheck` (signs without a token).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Pusher from 'pusher';

const CALLBACK_RE = /^Pusher\.auth_callbacks\['[0-9]{1,9}'\]$/;
const SOCKET_ID_RE = /^[0-9]{1,20}\.[0-9]{1,20}$/;
const CHANNEL_RE = /^(private-|presence-)[A-Za-z0-9_\-=@,.;]{1,156}$/;

export async function startPeer({ key, secret, token, channels, origins = [], broken = {} }) {
  const opts = { appId: '1', key, cluster: 'mt1', useTLS: true };
  const signer = new Pusher({
    ...opts,
    secret: broken.wrongSignature ? randomBytes(16).toString('hex') : secret,
    encryptionMasterKeyBase64: randomBytes(32).toString('base64'),
  });
  const allowed = (channel) =>
    channels.some((rule) => (rule.endsWith('*') ? channel.startsWith(rule.slice(0, -1)) : channel === rule));

  // The decision for one request: { status, body } with body an object.
  const decide = (params, bearer) => {
    const socketId = params.get('socket_id');
    const channel = params.get('channel_name');
    const refuse = (status, error) => ({ status, body: { error, status } });
    if (!socketId || !SOCKET_ID_RE.test(socketId)) return refuse(400, socketId ? 'invalid_socket_id' : 'missing_socket_id');
    if (!channel || !CHANNEL_RE.test(channel)) return refuse(400, channel ? 'invalid_channel_name' : 'missing_channel_name');
    const presented = params.get('token') || bearer;
    if (!broken.noTokenCheck && token && presented !== token) return refuse(401, 'unauthenticated');
    if (!allowed(channel)) return refuse(403, 'forbidden');
    const answer = channel.startsWith('presence-')
      ? signer.authorizeChannel(socketId, channel, { user_id: 'smoke-user', user_info: { name: 'Smoke' } })
      : signer.authorizeChannel(socketId, channel);
    return { status: 200, body: answer };
  };

  const scriptJson = (value) =>
    JSON.stringify(value)
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026')
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029');

  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://peer');
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store', ...headers });
      res.end(body);
    };
    const json = (status, value, headers) => send(status, 'application/json', JSON.stringify(value), headers);
    if (!url.pathname.endsWith('/pusher/auth')) return json(404, { error: 'not_found', status: 404 });

    const origin = req.headers.origin;
    let cors = {};
    if (broken.anyOrigin) cors = { 'Access-Control-Allow-Origin': '*' };
    else if (origin && origins.includes(origin)) cors = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };

    if (req.method === 'GET') {
      const callback = url.searchParams.get('callback');
      if (broken.echoCallback) {
        const { body } = decide(url.searchParams, undefined);
        return send(200, 'text/javascript', `${callback}(${scriptJson(body)});`);
      }
      if (!callback || !CALLBACK_RE.test(callback)) {
        const error = callback ? 'invalid_callback' : 'missing_callback';
        return json(400, { error, status: 400 });
      }
      const { body } = decide(url.searchParams, undefined);
      return send(200, 'text/javascript', `${callback}(${scriptJson(body)});`);
    }
    if (req.method === 'OPTIONS') {
      if (!origin || !origins.includes(origin)) return json(403, { error: 'origin_not_allowed', status: 403 });
      res.writeHead(204, {
        ...cors,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        'Access-Control-Max-Age': '600',
      });
      return res.end();
    }
    if (req.method !== 'POST') return json(405, { error: 'method_not_allowed', status: 405 }, { Allow: 'GET, POST, OPTIONS' });
    if (origin && !origins.includes(origin) && !broken.anyOrigin) {
      return json(403, { error: 'origin_not_allowed', status: 403 });
    }
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', () => {
      const auth = req.headers.authorization || '';
      const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const { status, body } = decide(new URLSearchParams(raw), bearer);
      json(status, body, cors);
    });
    return undefined;
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const base = `http://127.0.0.1:${server.address().port}/peer`;
  return { base, close: () => new Promise((ok) => server.close(ok)) };
}
