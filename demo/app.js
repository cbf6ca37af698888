// The live page of scripts/run-local.sh: pusher-js (the real library, loaded before this
// file) asks the local function to sign a private, a presence and an encrypted channel and
// the user signin, over JSONP or AJAX; every step is shown as it happens. pusher-js does all
// the requests itself; this file only watches them (the <script> tags JSONP inserts, the
// XMLHttpRequests AJAX sends, the JSONP callbacks the answers call) and shows what it reports.
// Each line says where it comes from: "app" for what pusher-js reports to any app (its
// events), "page" for what only this page's instrumentation sees (requests and answers).
(function () {
  'use strict';

  var started = performance.now();
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  // Signatures, shared secrets and the user's token are shortened on the page (and never
  // logged in full).
  function shorten(text) {
    return String(text)
      .replace(/\b(token=)([^&\s]{8})[^&\s]*/g, '$1$2…')
      .replace(/("auth"\s*:\s*"[^":]*:)([0-9a-f]{8})[0-9a-f]{56}/g, '$1$2…')
      .replace(/("shared_secret"\s*:\s*")([A-Za-z0-9+/]{6})[A-Za-z0-9+/=]+/g, '$1$2…')
      .replace(/\b(auth|signature)=([0-9a-f]{8})[0-9a-f]{56}/g, '$1=$2…');
  }

  // One line in the list of steps. kind: req (→ to the function), ans (← its answer),
  // good (✓), refused (✗), info (·). source: 'app' (pusher-js's events: any app gets them)
  // or 'page' (this page's instrumentation only).
  var ARROWS = { req: '→', ans: '←', good: '✓', refused: '✗', info: '·' };
  var SOURCES = { app: 'app', page: 'page' };
  function step(kind, text, source) {
    source = SOURCES[source] || 'app';
    var t = ((performance.now() - started) / 1000).toFixed(2) + ' s';
    var li = el('li', { class: kind, 'data-kind': kind, 'data-source': source }, [
      el('span', { class: 't', text: t }),
      el('span', { class: 'arrow', text: ARROWS[kind] }),
      el('span', { class: 'src ' + source, text: source, title: source === 'app' ? 'pusher-js reports this to any app' : "seen only by this page's instrumentation" }),
      el('span', { class: 'what mono', text: shorten(text) }),
    ]);
    $('steps').appendChild(li);
  }

  // A request without an answer after 5 s: the function is probably stuck or failing (its
  // terminal shows why). Cleared when the answer arrives.
  var NO_ANSWER_MS = 5000;
  var waiting = {};
  var nextWait = 0;
  function awaitAnswer(subject) {
    var key = 'w' + nextWait++;
    waiting[key] = setTimeout(function () {
      delete waiting[key];
      step('refused', 'no answer from the function — see the terminal (' + subject + ', ' + NO_ANSWER_MS / 1000 + ' s)', 'page');
      var c = cardsBySubject[subject];
      if (c && c.getAttribute('data-state') !== 'ok') setCard(c, 'bad', 'no answer', 'no answer from the function — see the terminal');
    }, NO_ANSWER_MS);
    return function answered() {
      if (waiting[key] === undefined) return;
      clearTimeout(waiting[key]);
      delete waiting[key];
    };
  }

  function card(id, title) {
    var c = el('div', { class: 'card', id: 'card-' + id }, [
      el('h2', { text: title }),
      el('span', { class: 'pill wait status', text: 'waiting' }),
      el('div', { class: 'detail' }),
      el('div', { class: 'code mono' }),
    ]);
    $('cards').appendChild(c);
    return c;
  }

  function setCard(c, state, status, detail) {
    var pill = c.querySelector('.status');
    pill.className = 'pill status ' + state;
    pill.textContent = status;
    c.setAttribute('data-state', state);
    var d = c.querySelector('.detail');
    if (typeof detail === 'string') d.textContent = detail;
    else if (detail) {
      d.textContent = '';
      d.appendChild(detail);
    }
  }

  // The refusal's code on its card: the function's own (read from its answer), else the one
  // pusher-js reports (over JSONP the function's code; over AJAX only the HTTP status).
  function showCode(c, code) {
    if (!c || !code) return;
    c.setAttribute('data-code', code);
    c.querySelector('.code').textContent = 'code: ' + code;
  }

  function reportedCode(err) {
    if (!err) return '';
    var status = err.status ? ' (' + err.status + ')' : '';
    if (typeof err.error === 'string' && /^[a-z][a-z_]*$/.test(err.error)) return err.error + status;
    return err.status ? 'HTTP ' + err.status : '';
  }

  function describeError(err) {
    if (!err) return 'refused';
    var parts = [];
    if (err.status) parts.push('HTTP ' + err.status);
    if (err.data && err.data.code) parts.push('code ' + err.data.code);
    if (err.code) parts.push('code ' + err.code);
    var msg = err.error || (err.data && err.data.message) || err.message;
    if (msg) parts.push(msg);
    return parts.join(', ') || JSON.stringify(err);
  }

  function authKindOf(url) {
    if (url.indexOf(CONFIG.userAuthEndpoint) === 0) return 'signin';
    if (url.indexOf(CONFIG.authEndpoint) === 0) return 'channel';
    return null;
  }

  // --- watching pusher-js's requests -------------------------------------------------

  // What the function refused, from its answer: {"error":"…","status":…} (JSONP) or the
  // status and body of an AJAX answer.
  var lastRefusal = {};
  var cardsBySubject = {}; // channel name or 'signin' -> its card
  function noteAnswer(kind, what, body, status) {
    var refusal = null;
    try {
      var parsed = typeof body === 'string' ? JSON.parse(body) : body;
      if (parsed && parsed.error) refusal = parsed.error + (parsed.status ? ' (' + parsed.status + ')' : '');
    } catch (e) { /* not JSON */ }
    if (!refusal && status && status !== 200) refusal = 'HTTP ' + status;
    var text = (typeof body === 'string' ? body : JSON.stringify(body));
    step(refusal ? 'refused' : 'ans', 'answer for ' + what + (status ? ' (HTTP ' + status + ')' : '') + ': ' + text, 'page');
    if (refusal) {
      lastRefusal[what] = refusal;
      // The reason is the function's, read from its answer by this page's instrumentation
      // (pusher-js passes AJAX bodies on to no app; a JSONP error object it takes as a signature).
      if (cardsBySubject[what]) {
        setCard(cardsBySubject[what], 'bad', 'refused', 'by the function: ' + refusal + INSTRUMENTED);
        showCode(cardsBySubject[what], refusal);
      }
    }
  }

  var INSTRUMENTED = " (read by this page's instrumentation)";

  function queryValue(query, name) {
    var m = new RegExp('(?:^|&)' + name + '=([^&]*)').exec(query);
    return m ? decodeURIComponent(m[1].replace(/\+/g, ' ')) : '';
  }

  function subjectOf(kind, query) {
    return kind === 'signin' ? 'signin' : queryValue(query, 'channel_name');
  }

  // JSONP: pusher-js inserts <script src="<endpoint>?callback=Pusher.auth_callbacks['N']&…">
  // and the answer calls that callback: watch the insertions, wrap the callbacks on read.
  var jsonpSubjects = {};
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.tagName !== 'SCRIPT' || !n.src) return;
        var kind = authKindOf(n.src);
        if (!kind) return;
        var query = n.src.slice(n.src.indexOf('?') + 1);
        var id = /auth_callbacks\['(\d+)'\]/.exec(decodeURIComponent(queryValue(query, 'callback')));
        var subject = subjectOf(kind, query);
        if (id) jsonpSubjects[id[1]] = subject;
        step('req', 'GET ' + n.src, 'page');
        var answered = awaitAnswer(subject);
        n.addEventListener('load', function () {
          answered();
          // The script ran without calling pusher-js's callback: a denial. It emits
          // pusher:subscription_error on the channel, or pusher:signin_error on pusher.user
          // (shown as any app gets them).
          if (id && !jsonpCalled[id[1]]) {
            step('refused', 'answer for ' + subject + ': a denial script (it does not call pusher-js\'s callback; it tells ' +
              (kind === 'signin' ? 'pusher.user' : 'the channel') + ' itself)', 'page');
          }
        });
        n.addEventListener('error', function () {
          answered();
          step('refused', 'the ' + subject + ' request failed to load (is the function running?)', 'page');
        });
      });
    });
  }).observe(document.documentElement, { childList: true, subtree: true });

  var jsonpCalled = {};
  var callbacks = Pusher.auth_callbacks;
  Pusher.auth_callbacks = new Proxy(callbacks, {
    get: function (target, name) {
      var f = target[name];
      if (typeof f !== 'function') return f;
      return function (data) {
        jsonpCalled[name] = true;
        noteAnswer('jsonp', jsonpSubjects[name] || 'request ' + String(name), data);
        return f.apply(this, arguments);
      };
    },
  });

  // AJAX: pusher-js POSTs with XMLHttpRequest.
  var open = XMLHttpRequest.prototype.open;
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this._page = { method: method, url: String(url) };
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function (body) {
    var info = this._page;
    var kind = info && authKindOf(info.url);
    if (kind) {
      var xhr = this;
      var subject = subjectOf(kind, String(body || ''));
      step('req', info.method + ' ' + info.url + '  body: ' + body, 'page');
      var answered = awaitAnswer(subject);
      xhr.addEventListener('loadend', function () {
        answered();
        if (xhr.status === 0) step('refused', 'the ' + subject + ' request got no answer (function not running, or CORS refused this origin)', 'page');
        else noteAnswer('ajax', subject, xhr.responseText, xhr.status);
      });
    }
    return send.apply(this, arguments);
  };

  // --- the page -----------------------------------------------------------------------

  var CONFIG;
  var query = new URLSearchParams(location.search);
  var transport = query.get('transport') === 'ajax' ? 'ajax' : 'jsonp';
  // The user's token (AUTH_MODE=jwt): ?token=… or the token field, which reloads with it.
  var token = query.get('token') || '';
  function reloadWith(name, value) {
    if (value) query.set(name, value);
    else query.delete(name);
    location.search = '?' + query.toString();
  }

  // AUTH_MODE=jwt: the function signs only for a valid token; say whether the page has one.
  function showTokenNeeds() {
    $('token-form').hidden = false;
    $('token-form').addEventListener('submit', function (e) {
      e.preventDefault();
      reloadWith('token', $('token').value.trim());
    });
    var box = $('token-needed');
    box.hidden = false;
    if (token) {
      box.className = 'has-token';
      $('token').placeholder = 'a token is set: paste another to replace it';
      box.textContent = 'AUTH_MODE=jwt: the function signs for the user of the token this page sends ' +
        '(from ?token=…); a refusal below shows the function\'s code (e.g. token_expired).';
    } else {
      box.setAttribute('data-missing', 'token');
      box.textContent = 'AUTH_MODE=jwt: the function signs only for a user with a token it accepts, and this page has ' +
        'none: every channel and the signin are refused (code unauthenticated, 401; the function logs token_missing). ' +
        'Paste one into the token field below, or open this page with ?token=<token>.';
    }
  }

  function where() {
    return CONFIG.wsHost
      ? 'the Pusher-protocol server at ws://' + CONFIG.wsHost + ':' + CONFIG.wsPort
      : 'Pusher (cluster ' + CONFIG.cluster + ')';
  }

  function showMissing() {
    var box = $('missing');
    box.hidden = false;
    box.setAttribute('data-missing', 'pusher-app');
    var lines = [
      ['strong', 'Nothing to connect to yet. '],
      ['span', 'The run command serves the function, but "' + CONFIG.key + '" is the built-in demo key, not a Pusher app, and no local Pusher-protocol server is set. Restart the run command with one of:'],
    ];
    lines.forEach(function (l) { box.appendChild(el(l[0], { text: l[1] })); });
    [
      'a Pusher Channels app (its App Keys page):  PUSHER_APP_ID=… PUSHER_KEY=… PUSHER_SECRET=… PUSHER_CLUSTER=… bash scripts/run-local.sh',
      'or a local server (sockudo):  bash scripts/run-sockudo.sh   then   PUSHER_WS_HOST=127.0.0.1 PUSHER_WS_PORT=6001 bash scripts/run-local.sh',
    ].forEach(function (t) { box.appendChild(el('p', {}, [el('code', { text: t })])); });
  }

  function membersList(channel) {
    var ul = el('ul');
    channel.members.each(function (m) {
      var name = m.info && m.info.name ? ' (' + m.info.name + ')' : '';
      ul.appendChild(el('li', { class: 'member', text: m.id + name + (m.id === channel.members.myID ? ' — you' : '') }));
    });
    return ul;
  }

  function watchChannel(pusher, name, c, kind) {
    cardsBySubject[name] = c;
    var channel = pusher.subscribe(name);
    channel.bind('pusher:subscription_succeeded', function () {
      var detail = kind === 'presence' ? membersList(channel)
        : kind === 'encrypted' ? 'signed, and pusher-js holds the shared secret: events arrive decrypted'
        : 'signed by the function, accepted by the server';
      setCard(c, 'ok', 'subscribed', detail);
      step('good', 'subscribed to ' + name + (kind === 'presence' ? ' (' + channel.members.count + ' member' + (channel.members.count === 1 ? '' : 's') + ')' : ''));
    });
    channel.bind('pusher:subscription_error', function (err) {
      // What the app gets: pusher-js's event (JSONP: the function's code and status; AJAX:
      // the status only). The function's code over AJAX only this page's instrumentation reads.
      var reported = describeError(err);
      var reason = lastRefusal[name] && reported.indexOf(lastRefusal[name].replace(/ \(\d+\)$/, '')) < 0
        ? 'by the function: ' + lastRefusal[name] + INSTRUMENTED + '; pusher-js reports: ' + reported
        : 'pusher-js reports: ' + reported;
      setCard(c, 'bad', 'refused', reason);
      showCode(c, lastRefusal[name] || reportedCode(err));
      step('refused', name + ' refused: ' + describeError(err), 'app');
    });
    channel.bind('pusher:error', function (err) {
      var reason = (lastRefusal[name] ? 'by the function: ' + lastRefusal[name] + INSTRUMENTED + '; ' : '') + 'server: ' + describeError(err);
      setCard(c, 'bad', 'refused', reason);
      step('refused', name + ' refused: server: ' + describeError(err), 'app');
    });
    if (kind === 'presence') {
      var update = function (verb) {
        return function (m) {
          setCard(c, 'ok', 'subscribed', membersList(channel));
          step('info', name + ': ' + m.id + ' ' + verb);
        };
      };
      channel.bind('pusher:member_added', update('joined'));
      channel.bind('pusher:member_removed', update('left'));
    }
    channel.bind_global(function (event, data) {
      if (event.indexOf('pusher:') === 0 || event.indexOf('pusher_internal:') === 0) return;
      var text = typeof data === 'string' ? data : JSON.stringify(data);
      step('good', 'event "' + event + '" on ' + name + ': ' + text);
      var d = c.querySelector('.detail');
      d.appendChild(el('div', { class: 'event mono', text: event + ': ' + text }));
    });
  }

  function run() {
    $('controls').hidden = false;
    $('cards').hidden = false;
    $('steps').hidden = false;
    $('legend').hidden = false;
    document.querySelectorAll('input[name=transport]').forEach(function (r) {
      r.checked = r.value === transport;
      r.addEventListener('change', function () { reloadWith('transport', r.value); });
    });
    if (CONFIG.authMode === 'jwt') showTokenNeeds();

    var options = {
      cluster: CONFIG.cluster,
      channelAuthorization: { endpoint: CONFIG.authEndpoint, transport: transport, params: token ? { token: token } : {} },
      userAuthentication: { endpoint: CONFIG.userAuthEndpoint, transport: transport, params: token ? { token: token } : {} },
    };
    if (CONFIG.wsHost) {
      options.wsHost = CONFIG.wsHost;
      options.wsPort = CONFIG.wsPort;
      options.forceTLS = CONFIG.forceTLS;
      options.enabledTransports = ['ws'];
      options.disableStats = true;
    }
    var pusher = new Pusher(CONFIG.key, options);
    window.pagePusher = pusher;

    var cards = {
      private: card('private', CONFIG.channels.private),
      presence: card('presence', CONFIG.channels.presence),
      encrypted: card('encrypted', CONFIG.channels.encrypted),
      signin: card('signin', 'pusher.signin()'),
    };
    cardsBySubject.signin = cards.signin;

    step('info', 'connecting to ' + where() + ' with key ' + CONFIG.key + '; the function signs over ' + transport.toUpperCase());
    var conn = $('connection');
    pusher.connection.bind('state_change', function (s) {
      conn.textContent = s.current;
      conn.className = 'pill ' + (s.current === 'connected' ? 'ok' : s.current === 'connecting' || s.current === 'initialized' ? 'wait' : 'bad');
      if (s.current === 'connected') step('good', 'connected, socket id ' + pusher.connection.socket_id);
      else if (s.current !== 'connecting') step(s.current === 'disconnected' ? 'info' : 'refused', 'connection ' + s.current);
    });
    pusher.connection.bind('error', function (err) {
      step('refused', 'connection error: ' + describeError(err.error || err));
    });

    pusher.bind('pusher:signin_success', function (data) {
      var user = {};
      try { user = JSON.parse(data.user_data); } catch (e) { /* shown as is below */ }
      var name = user.user_info && user.user_info.name ? ' (' + user.user_info.name + ')' : '';
      setCard(cards.signin, 'ok', 'signed in', 'as ' + user.id + name);
      step('good', 'signed in as ' + user.id + name);
    });
    pusher.user.bind('pusher:signin_error', function (err) {
      var reason = lastRefusal.signin ? 'by the function: ' + lastRefusal.signin + INSTRUMENTED + '; pusher-js reports: ' + describeError(err) : describeError(err);
      setCard(cards.signin, 'bad', 'refused', reason);
      showCode(cards.signin, lastRefusal.signin || reportedCode(err));
      step('refused', 'signin refused: ' + reason);
    });

    watchChannel(pusher, CONFIG.channels.private, cards.private, 'private');
    watchChannel(pusher, CONFIG.channels.presence, cards.presence, 'presence');
    watchChannel(pusher, CONFIG.channels.encrypted, cards.encrypted, 'encrypted');
    pusher.signin();

    $('extra').addEventListener('submit', function (e) {
      e.preventDefault();
      var name = $('extra-channel').value.trim();
      if (!name || pusher.channel(name)) return;
      var kind = name.indexOf('presence-') === 0 ? 'presence' : name.indexOf('private-encrypted-') === 0 ? 'encrypted' : 'private';
      watchChannel(pusher, name, card('extra-' + $('cards').children.length, name), kind);
    });
  }

  fetch('/config.json', { cache: 'no-store' })
    .then(function (r) { return r.json(); })
    .then(function (config) {
      CONFIG = config;
      $('summary').textContent = 'pusher-js ' + CONFIG.pusherJs + ' → ' + where() + '; the function at ' +
        CONFIG.authEndpoint.replace(/\/pusher\/auth$/, '') + ' (AUTH_MODE=' + CONFIG.authMode + ').';
      if (CONFIG.demoKey && !CONFIG.wsHost) showMissing();
      else run();
    })
    .catch(function (err) {
      $('summary').textContent = 'Could not load /config.json: ' + err.message;
    });
})();
