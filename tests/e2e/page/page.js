// In-page helper for the end-to-end suite. It only drives pusher-js (the real
// library, loaded before this file) and records what pusher-js reports; the
// test reads `E2E.log` and the promises' results through Playwright.
(function () {
  'use strict';
  var log = [];
  var clients = {};

  function plain(value) {
    if (value === undefined) return null;
    try {
      return JSON.parse(JSON.stringify(value));
    } catch (e) {
      return String(value);
    }
  }

  function record(client, kind, detail) {
    log.push({ t: Math.round(performance.now()), client: client, kind: kind, detail: plain(detail) });
  }

  function membersSnapshot(channel) {
    if (!channel || !channel.members) return null;
    var list = {};
    channel.members.each(function (member) {
      list[member.id] = plain(member.info);
    });
    return { me: plain(channel.members.me), count: channel.members.count, members: list };
  }

  // Resolve with the first of the named outcomes, or { outcome: 'timeout' }.
  function firstOf(id, timeoutMs, arm) {
    return new Promise(function (resolve) {
      var t0 = performance.now();
      var done = false;
      var cleanups = [];
      var timer = setTimeout(function () {
        finish('timeout', null);
      }, timeoutMs);
      function finish(outcome, detail) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        cleanups.forEach(function (f) {
          f();
        });
        resolve({ outcome: outcome, elapsedMs: Math.round(performance.now() - t0), detail: plain(detail) });
      }
      arm(finish, function (f) {
        cleanups.push(f);
      });
    });
  }

  window.E2E = {
    log: log,
    version: window.E2E_PUSHER_JS_VERSION, // from the served package's package.json

    connect: function (id, key, options, timeoutMs) {
      // pusher-js: the global `Pusher` of a script tag, or what a bundled page hands over.
      var Lib = window.E2E_PUSHER || Pusher;
      Lib.logToConsole = true;
      var pusher = new Lib(key, options);
      clients[id] = pusher;
      pusher.connection.bind('state_change', function (s) {
        record(id, 'state', s);
      });
      pusher.connection.bind('error', function (e) {
        record(id, 'connection-error', e);
      });
      pusher.bind_global(function (event, data) {
        record(id, 'global', { event: event, data: data });
      });
      if (pusher.user && pusher.user.bind_global) {
        pusher.user.bind_global(function (event, data) {
          record(id, 'user', { event: event, data: data });
        });
      }
      return firstOf(id, timeoutMs, function (finish, onCleanup) {
        function check() {
          var state = pusher.connection.state;
          if (state === 'connected' || state === 'failed' || state === 'unavailable') {
            finish(state, { socketId: pusher.connection.socket_id });
          }
        }
        pusher.connection.bind('state_change', check);
        onCleanup(function () {
          pusher.connection.unbind('state_change', check);
        });
        check();
      });
    },

    state: function (id) {
      var pusher = clients[id];
      return { state: pusher.connection.state, socketId: pusher.connection.socket_id };
    },

    // Subscribe and resolve with what pusher-js reports first: subscription_succeeded,
    // subscription_error, a pusher:error naming this channel, or a connection error.
    subscribe: function (id, channelName, timeoutMs) {
      var pusher = clients[id];
      var channel = pusher.subscribe(channelName);
      channel.bind_global(function (event, data) {
        record(id, 'channel', { channel: channelName, event: event, data: data });
      });
      return firstOf(id, timeoutMs, function (finish, onCleanup) {
        function ok(members) {
          finish('subscription_succeeded', { members: membersSnapshot(channel) });
        }
        function subError(err) {
          finish('subscription_error', err);
        }
        function channelError(err) {
          finish('channel_pusher_error', err);
        }
        function connError(err) {
          finish('connection_error', err);
        }
        channel.bind('pusher:subscription_succeeded', ok);
        channel.bind('pusher:subscription_error', subError);
        channel.bind('pusher:error', channelError);
        pusher.connection.bind('error', connError);
        onCleanup(function () {
          channel.unbind('pusher:subscription_succeeded', ok);
          channel.unbind('pusher:subscription_error', subError);
          channel.unbind('pusher:error', channelError);
          pusher.connection.unbind('error', connError);
        });
      }).then(function (result) {
        result.subscribed = channel.subscribed;
        return result;
      });
    },

    channelState: function (id, channelName) {
      var channel = clients[id].channel(channelName);
      if (!channel) return null;
      return { subscribed: channel.subscribed, pending: channel.subscriptionPending, members: membersSnapshot(channel) };
    },

    unsubscribe: function (id, channelName) {
      clients[id].unsubscribe(channelName);
    },

    // pusher.signin(); resolve on pusher:signin_success, the user's signin_error or a connection error.
    signin: function (id, timeoutMs) {
      var pusher = clients[id];
      var result = firstOf(id, timeoutMs, function (finish, onCleanup) {
        function ok(data) {
          finish('signin_success', data);
        }
        function fail(err) {
          finish('signin_error', err);
        }
        function connError(err) {
          finish('connection_error', err);
        }
        pusher.bind('pusher:signin_success', ok);
        pusher.user.bind('pusher:signin_error', fail);
        pusher.connection.bind('error', connError);
        onCleanup(function () {
          pusher.unbind('pusher:signin_success', ok);
          pusher.user.unbind('pusher:signin_error', fail);
          pusher.connection.unbind('error', connError);
        });
      });
      pusher.signin();
      return result.then(function (r) {
        r.userData = plain(pusher.user.user_data);
        return r;
      });
    },

    disconnect: function (id) {
      clients[id].disconnect();
    },

    // The Pusher instance, for scenarios that bind more than the above (e.g. watchlist events).
    client: function (id) {
      return clients[id];
    },
  };
})();
