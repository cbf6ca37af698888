// sockudo's configuration file, in one place: the end-to-end harness (lib/harness.mjs) and
// scripts/run-sockudo.sh (the local server for run-local.sh's live page) both write it with
// this. No dependencies, so the script can use it before `npm ci` ran in tests/e2e:
//   node tests/e2e/lib/sockudo-config.mjs <path> <port> <app id> <key> <secret> [header]
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// sockudo 5.2.0 sends watchlist `offline` events only from its synchronous disconnect cleanup
// (handler/core.rs handle_disconnect_sync); the asynchronous one, its default, skips them.
const WATCHLIST_CLEANUP = `[cleanup]
async_enabled = false

`;

// `app`: { id, key, secret }. `watchlistEvents`: turn on sockudo's watchlist events for the app
// (online/offline of the ids in a signed-in user's `user_data.watchlist`; off by default in sockudo).
export function sockudoToml({ port, app, watchlistEvents = false, header = 'written by tests/e2e for one run' }) {
  return `# ${header}
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
id = "${app.id}"
key = "${app.key}"
secret = "${app.secret}"
enabled = true
enable_client_messages = false
# pusher.signin(): accept pusher:signin (sockudo refuses it unless enabled)
enable_user_authentication = true
${watchlistEvents ? 'enable_watchlist_events = true\n' : ''}`;
}

export function writeSockudoConfig(path, options) {
  writeFileSync(path, sockudoToml(options));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [path, port, id, key, secret, header] = process.argv.slice(2);
  if (!path || !/^\d{1,5}$/.test(port || '') || !id || !key || !secret) {
    process.stderr.write('usage: node sockudo-config.mjs <path> <port> <app id> <key> <secret> [header]\n');
    process.exit(2);
  }
  writeSockudoConfig(path, { port: Number(port), app: { id, key, secret }, header });
}
