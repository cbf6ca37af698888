// A page's own code as an app would write it, bundled by esbuild (the npm package) from npm
// packages: pusher-js 8 and pusher-batch-auth (this repository's client/ package, through its
// package.json `exports`), both imported as ES modules. (pusher-js's web build still makes
// itself window.Pusher when it loads.)
import Pusher from 'pusher-js/dist/web/pusher-with-encryption.js';
import PusherBatchAuth from 'pusher-batch-auth';

// The suite's in-page recorder (page.js) drives pusher-js under this name, and the scenario's
// setup code finds the helper here.
window.E2E_PUSHER = Pusher;
window.PusherBatchAuth = PusherBatchAuth;
