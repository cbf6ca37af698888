// The page's static server, started by scripts/run-local.sh (no dependencies, no build step).
//
//   node demo/serve.mjs <port> <pusher-js dist file>
//
// Serves index.html and app.js from this directory, pusher-js from the pinned npm package
// (installed by run-local.sh outside the repository), and /config.json: the page's
// configuration, which run-local.sh builds from an explicit list of public settings and
// hands over in PAGE_CONFIG (this process is started with a bare environment: it never holds
// the Pusher secret or the encryption master key).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const [portArg, libFile] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !libFile) {
  console.error('page: usage: node demo/serve.mjs <port> <pusher-js dist file>');
  process.exit(2);
}
let config;
try {
  config = JSON.parse(process.env.PAGE_CONFIG || '');
} catch {
  console.error('page: PAGE_CONFIG is not JSON');
  process.exit(2);
}
// The version of the pusher-js package the page loads (…/pusher-js/dist/web/<file>).
try {
  config.pusherJs = JSON.parse(readFileSync(join(dirname(libFile), '../../package.json'), 'utf8')).version;
} catch {
  config.pusherJs = null;
}
const configJson = `${JSON.stringify(config, null, 2)}\n`;

const FILES = {
  '/': ['text/html; charset=utf-8', join(HERE, 'index.html')],
  '/index.html': ['text/html; charset=utf-8', join(HERE, 'index.html')],
  '/app.js': ['application/javascript; charset=utf-8', join(HERE, 'app.js')],
  '/pusher.js': ['application/javascript; charset=utf-8', libFile],
};

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://page').pathname;
  const send = (status, type, body) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
  if (path === '/favicon.ico') return send(204, 'image/x-icon', '');
  if (path === '/config.json') return send(200, 'application/json', configJson);
  const file = FILES[path];
  if (!file) return send(404, 'text/plain', 'not found\n');
  try {
    // Read on every request: edits to the page show on reload.
    return send(200, file[0], readFileSync(file[1]));
  } catch {
    return send(500, 'text/plain', 'cannot read the file\n');
  }
});
server.on('error', (err) => {
  const why = err.code === 'EADDRINUSE' ? `port ${port} is in use (choose another with PAGE_PORT=…)` : err.message;
  console.error(`page: not served: ${why}`);
  process.exit(1);
});
// run-local.sh execs `cargo lambda watch`, this server's parent: stop when it is gone.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();

// Loopback only; browsers reach it as http://localhost:<port> (the origin in ALLOWED_ORIGINS).
server.listen(port, '127.0.0.1', () => {
  console.error(`page: serving http://localhost:${server.address().port}/`);
});
