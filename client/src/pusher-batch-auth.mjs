/*
 * pusher-batch-auth: batched channel authorization for pusher-js 8, over
 * JSONP (no CORS) or AJAX, against pusher-auth-lambda's `/pusher/auth` route.
 *
 * The one source of the package (client/package.json): an ES module, `import
 * PusherBatchAuth from 'pusher-batch-auth'` with a bundler or a browser's
 * import map. `node client/build.mjs` writes the script-tag build from it,
 * client/pusher-batch-auth.js (a global `PusherBatchAuth`, or CommonJS).
 *
 * Plain JavaScript, no dependency: import it (or load the script-tag build
 * after pusher-js) and pass its handler as pusher-js 8's
 * `channelAuthorization.customHandler`:
 *
 *   import Pusher from 'pusher-js';
 *   import PusherBatchAuth from 'pusher-batch-auth';
 *   // or: <script src="pusher.min.js"></script> <script src="pusher-batch-auth.js"></script>
 *   const batch = PusherBatchAuth({
 *     endpoint: 'https://<api>/<stage>/pusher/auth',
 *     transport: 'jsonp',                        // or 'ajax'
 *     paramsProvider: () => ({ token: currentIdToken() }),
 *   });
 *   const pusher = new Pusher(key, { cluster, channelAuthorization: { customHandler: batch.handler },
 *                                    userAuthentication: { customHandler: batch.userHandler } });
 *
 * `userHandler` signs in (`pusher.signin()`) through `/pusher/user-auth` over
 * the same transport; a refused signin is an Error with the endpoint's `code`
 * and `status`, which pusher-js 8 reports as `pusher:signin_error` on
 * `pusher.user`, over JSONP too (the endpoint's signin denial calls only a
 * callback marked `acceptsErrors`, as this helper's are).
 *
 * Subscriptions made within `delayMs` (default 20 ms) of the first one are
 * sent as one request: `socket_id`, `channel_name[0]`, `channel_name[1]`, …
 * plus your params (the format of the npm `pusher-js-auth` plugin). The
 * answer is one object keyed by channel name, each `{"status":200,"data":{…}}`
 * or `{"status":403}`; every channel gets its own result, so one refused
 * channel refuses only itself (pusher-js then reports `pusher:subscription_error`
 * for it). At most `maxBatch` (default 25, the endpoint's limit) channels go in
 * one request; more are split.
 *
 * A whole-batch refusal (no valid token, say) is the endpoint's error object
 * `{"error":"<code>","status":<status>}`: every channel of the batch fails
 * with an Error whose `code` and `status` are those (e.g. `token_expired`:
 * refresh the token and subscribe again). Each refusal is shaped as pusher-js's
 * own (its message is the code, its class pusher-js's HTTPAuthError), so
 * pusher-js reports `{type: 'AuthError', error: '<code>', status: <status>}`,
 * as plain pusher-js over JSONP does. Any answer settles every channel and
 * the signin (`invalid_answer`, status 0, for one that is not the endpoint's
 * format). Over JSONP a request that never answers (network error, a script
 * answered 4xx/5xx, which browsers do not run) fails its channels after
 * `timeoutMs` (default 10 s) or on the script's `error` event.
 *
 * JSONP callbacks are registered as `Pusher.auth_callbacks['N']`, the only
 * callback form the endpoint accepts, with N from a range pusher-js's own
 * counter never reaches in practice (from 900000000 up), on the global
 * `Pusher` (where there is none, `options.Pusher` or a stub
 * `{ auth_callbacks: {} }` is made that global).
 */

var nextCallback = 900000000;

/**
 * The object the endpoint's JSONP answers reach: they call the global
 * `Pusher.auth_callbacks['N']`. `window.Pusher` (pusher-js 8's web build sets
 * it when it loads, from a script tag or bundled); when there is none,
 * `options.Pusher` or else a stub `{ auth_callbacks: {} }` becomes `window.Pusher`.
 */
function jsonpGlobal(options) {
  var global = typeof window !== 'undefined' ? window : self;
  return global.Pusher || (global.Pusher = options.Pusher || { auth_callbacks: {} });
}

function query(socketId, channels, params) {
  var parts = ['socket_id=' + encodeURIComponent(socketId)];
  channels.forEach(function (channel, i) {
    parts.push('channel_name%5B' + i + '%5D=' + encodeURIComponent(channel));
  });
  Object.keys(params || {}).forEach(function (name) {
    parts.push(encodeURIComponent(name) + '=' + encodeURIComponent(params[name]));
  });
  return parts.join('&');
}

/**
 * The prototype of pusher-js 8's own refusal (its HTTPAuthError, which it does not export):
 * pusher-js puts an error's `status` into `pusher:subscription_error` / `pusher:signin_error`
 * only for an instance of it. Found once by letting pusher-js's AJAX authorizer fail on a
 * stand-in request that is never sent; `Error.prototype` without pusher-js 8 to ask.
 */
var authErrorPrototype = null;
function authError(options) {
  if (authErrorPrototype) return authErrorPrototype;
  var global = typeof window !== 'undefined' ? window : self;
  var runtime = (options.Pusher || global.Pusher || {}).Runtime;
  var found = Error.prototype;
  try {
    var own = Object.prototype.hasOwnProperty.call(runtime, 'createXHR');
    var createXHR = runtime.createXHR;
    runtime.createXHR = function () {
      return {
        open: function () {},
        setRequestHeader: function () {},
        send: function () { this.readyState = 4; this.status = 0; this.onreadystatechange(); },
      };
    };
    try {
      runtime.getAuthorizers().ajax(runtime, '', { endpoint: '', headers: {} }, '', function (error) {
        if (error instanceof Error) found = Object.getPrototypeOf(error);
      });
    } finally {
      if (own) runtime.createXHR = createXHR;
      else delete runtime.createXHR;
    }
  } catch (e) { /* no pusher-js 8 runtime: a plain Error */ }
  if (found !== Error.prototype) authErrorPrototype = found;
  return found;
}

/**
 * A refusal as pusher-js's own: an Error whose message is the code (pusher-js reports it as
 * `error`) with `code` and `status` (reported as `status`), whatever the answer held.
 */
function failure(options, code, status) {
  code = typeof code === 'string' && code ? code : 'invalid_answer';
  status = typeof status === 'number' && status % 1 === 0 && status >= 0 && status < 1000 ? status : 0;
  var error = new Error(code);
  Object.setPrototypeOf(error, authError(options));
  error.code = code;
  error.status = status;
  return error;
}

/** The failure an answer that is not a signature stands for: its `{error, status}`, or invalid_answer. */
function refusal(options, answer) {
  try {
    if (answer && typeof answer.error === 'string') return failure(options, answer.error, answer.status);
  } catch (e) { /* an answer that throws when read */ }
  return failure(options, 'invalid_answer', 0);
}

/** What pusher-js 8 accepts as a channel's signature without throwing or stalling. */
function signed(data) {
  if (!data || typeof data.auth !== 'string') return false;
  if (data.shared_secret !== undefined && typeof data.shared_secret !== 'string') return false;
  if (data.channel_data === undefined) return true;
  try {
    return typeof data.channel_data === 'string' && !!JSON.parse(data.channel_data);
  } catch (e) {
    return false;
  }
}

/**
 * Calls a pusher-js callback; a throw does not stop the other channels of the batch. When
 * pusher-js throws on a signature (an encrypted channel's `shared_secret` that is not base64),
 * the channel is refused instead; the throw is reported afterwards, as uncaught.
 */
function deliver(options, callback, error, data) {
  try {
    callback(error, data);
  } catch (thrown) {
    if (!error) {
      try { callback(failure(options, 'invalid_answer', 0), null); } catch (e) { /* reported below */ }
    }
    setTimeout(function () { throw thrown; }, 0);
  }
}

/** Hands each waiting channel its result from the batch answer, whatever its shape. */
function settle(options, waiting, answer) {
  var results;
  try {
    var batch = answer && typeof answer === 'object' && !Array.isArray(answer) && typeof answer.error !== 'string';
    results = waiting.map(function (w) {
      if (!batch) return [refusal(options, answer), null];
      var entry = Object.prototype.hasOwnProperty.call(answer, w.channel) ? answer[w.channel] : null;
      if (!entry || typeof entry !== 'object') return [failure(options, 'not_answered', 404), null];
      if (entry.status === 200) return signed(entry.data) ? [null, entry.data] : [failure(options, 'invalid_answer', 0), null];
      return [failure(options, entry.status === 404 ? 'not_answered' : 'forbidden', entry.status), null];
    });
  } catch (e) {
    results = waiting.map(function () { return [failure(options, 'invalid_answer', 0), null]; });
  }
  waiting.forEach(function (w, i) { deliver(options, w.callback, results[i][0], results[i][1]); });
}

/**
 * One JSONP request: `onAnswer` gets what the answer passes to the callback,
 * or `{error, status: 0}` when it never comes. The callback is marked
 * `acceptsErrors`: the endpoint's signin denial calls only such a callback
 * (pusher-js's own would send an unsigned `pusher:signin`).
 */
function jsonpRequest(options, endpoint, queryText, onAnswer) {
  var Pusher = jsonpGlobal(options);
  var callbacks = Pusher.auth_callbacks || (Pusher.auth_callbacks = {});
  var id;
  do { id = String(nextCallback++); } while (callbacks[id]);
  var script = document.createElement('script');
  var done = false;
  var timer;
  function finish(answer) {
    if (done) return;
    done = true;
    clearTimeout(timer);
    delete callbacks[id];
    if (script.parentNode) script.parentNode.removeChild(script);
    onAnswer(answer);
  }
  finish.acceptsErrors = true;
  callbacks[id] = finish;
  var callback = "Pusher.auth_callbacks['" + id + "']";
  script.src = endpoint + (endpoint.indexOf('?') < 0 ? '?' : '&') +
    'callback=' + encodeURIComponent(callback) + '&' + queryText;
  script.onerror = function () { finish({ error: 'network_error', status: 0 }); };
  // A script that ran without calling back (not the endpoint's answer) settles at once too.
  script.onload = function () { finish({ error: 'invalid_answer', status: 0 }); };
  timer = setTimeout(function () { finish({ error: 'timeout', status: 0 }); }, options.timeoutMs || 10000);
  (document.head || document.getElementsByTagName('head')[0]).appendChild(script);
}

/** One AJAX request (a form POST): `onAnswer` gets the JSON answer, or `{error, status}`. */
function ajaxRequest(options, endpoint, queryText, onAnswer) {
  var headers = options.headersProvider ? options.headersProvider() : options.headers || {};
  var xhr = new XMLHttpRequest();
  xhr.open('POST', endpoint, true);
  xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
  Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
  xhr.onreadystatechange = function () {
    if (xhr.readyState !== 4) return;
    var answer;
    try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
    if (xhr.status !== 200 && !(answer && typeof answer.error === 'string')) {
      answer = { error: 'http_error', status: xhr.status };
    }
    onAnswer(answer);
  };
  xhr.send(queryText);
}

/** One request; `onAnswer` is called once, also when sending throws (e.g. a paramsProvider). */
function request(options, endpoint, socketId, channels, onAnswer) {
  var answered = false;
  function once(answer) {
    if (answered) return;
    answered = true;
    onAnswer(answer);
  }
  try {
    var queryText = query(socketId, channels, currentParams(options));
    (options.transport === 'ajax' ? ajaxRequest : jsonpRequest)(options, endpoint, queryText, once);
  } catch (e) {
    once({ error: 'request_failed', status: 0 });
  }
}

function currentParams(options) {
  return options.paramsProvider ? options.paramsProvider() : options.params;
}

/** The user-authentication route: `options.userEndpoint`, else `endpoint` with `/pusher/user-auth`. */
function userEndpoint(options) {
  return options.userEndpoint || options.endpoint.replace(/\/pusher\/auth(\?|$)/, '/pusher/user-auth$1');
}

/**
 * options: endpoint (required: `…/pusher/auth`), userEndpoint (default: endpoint
 * with `/pusher/user-auth`), transport ('jsonp' default, or 'ajax'),
 * params or paramsProvider, headers or headersProvider (AJAX only),
 * delayMs (20), maxBatch (25), timeoutMs (10000, JSONP), onRequest(channels)
 * (called once per request sent, e.g. to count them), Pusher (JSONP, when
 * `window.Pusher` is not set: the object made `window.Pusher`, default a stub).
 */
export default function PusherBatchAuth(options) {
  if (!options || !options.endpoint) throw new Error('PusherBatchAuth: endpoint is required');
  var pending = {}; // socket id -> [{channel, callback}]
  var timers = {};
  function flush(socketId) {
    var waiting = pending[socketId] || [];
    delete pending[socketId];
    delete timers[socketId];
    var max = options.maxBatch || 25;
    for (var i = 0; i < waiting.length; i += max) {
      sendBatch(socketId, waiting.slice(i, i + max));
    }
  }
  function sendBatch(socketId, part) {
    var channels = part.map(function (w) { return w.channel; });
    if (options.onRequest) options.onRequest(channels);
    request(options, options.endpoint, socketId, channels, function (answer) {
      settle(options, part, answer);
    });
  }
  return {
    /** pusher-js 8 `channelAuthorization.customHandler`. */
    handler: function (params, callback) {
      var socketId = params.socketId;
      (pending[socketId] = pending[socketId] || []).push({ channel: params.channelName, callback: callback });
      if (!timers[socketId]) {
        timers[socketId] = setTimeout(function () { flush(socketId); }, options.delayMs === undefined ? 20 : options.delayMs);
      }
    },
    /**
     * pusher-js 8 `userAuthentication.customHandler` (`pusher.signin()`): a refusal is an
     * Error with the endpoint's `code` and `status` (pusher-js then emits
     * `pusher:signin_error` on `pusher.user`), over JSONP too.
     */
    userHandler: function (params, callback) {
      request(options, userEndpoint(options), params.socketId, [], function (answer) {
        var ok = false;
        try { ok = typeof answer.auth === 'string' && typeof answer.user_data === 'string'; } catch (e) { /* refused below */ }
        if (ok) deliver(options, callback, null, answer);
        else deliver(options, callback, refusal(options, answer), null);
      });
    },
    /** Sends what is waiting now. */
    flush: function () { Object.keys(pending).forEach(flush); },
  };
}

export { PusherBatchAuth };
