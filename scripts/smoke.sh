#!/usr/bin/env bash
# Smoke check of a deployed (or local) pusher-auth endpoint, from the outside, as pusher-js and a
# browser see it. Python 3 standard library only (scripts/smoke.py does the work).
#
#   bash scripts/smoke.sh BASE_URL [--token-file F] [--channel C] [--origin O] [--key K [--secret-file F]]
#                                  [--foreign-channel C]
#
# BASE_URL/pusher/auth is the channel endpoint (BASE_URL/pusher/user-auth the signin route), e.g.
#   https://<api-id>.execute-api.<region>.amazonaws.com/staging       (REST or HTTP API stage)
#   http://127.0.0.1:9000/lambda-url/pusher-auth                       (scripts/run-local.sh)
# With a token or a secret, BASE_URL must be https:// or a loopback host (127.0.0.0/8, ::1,
# localhost): plain http:// elsewhere is refused (exit 2) before any request.
#
#   --token-file F, or SMOKE_TOKEN in the environment (or --token T, which shell history and the
#                process list show)
#                a user token the endpoint accepts: sent with every request (JSONP: `token`;
#                AJAX: the `token` form parameter and `Authorization: Bearer`), and enables the
#                "no token" refusal checks (AJAX 401; JSONP an error and no `auth`). Without one,
#                an endpoint answering 401 gets a line saying to pass one
#   --channel C  a channel the configuration signs for that user (default private-smoke); for a
#                presence- channel the answer's channel_data is checked (and signed over)
#   --origin O   an origin in ALLOWED_ORIGINS: AJAX from it must get Access-Control-Allow-Origin: O
#   --key K, and --secret-file F or SMOKE_SECRET (or --secret S)
#                the app key and secret: `auth` must be K:hex(HMAC-SHA256(S, socket_id:channel
#                [:channel_data])). The secret, the token and signatures are never printed.
#   --foreign-channel C
#                a channel the configuration refuses (default private-smoke-not-allowed-<random>).
#                Against a loopback endpoint without a token (the README's local run, whose demo
#                rules sign every private- channel) a signed default is a SKIP line, not a FAIL
#
# Checks (one line each, on stdout: `ok <check>`, `FAIL <check>: <reason>` or `SKIP <check>: <reason>`):
#   jsonp-answer, ajax-answer          200, JavaScript / JSON, the callback called, auth=<key>:<64 hex>
#   jsonp-signature, ajax-signature    (--key/--secret) the signature verifies
#   no-token-ajax, no-token-jsonp      (--token) refused without the token: 401 / error, no auth
#   foreign-channel-ajax, -jsonp       the foreign channel: 403 / error, no auth (or SKIP, above)
#   bad-socket-id-{ajax,jsonp}[1.2.3], [abc]
#                                      400 invalid_socket_id over AJAX; JSONP error invalid_socket_id
#   cors-origin                        (--origin) Access-Control-Allow-Origin: O
#   cors-foreign-origin                no allow-origin naming https://smoke-check.invalid (nor *)
#   hostile-callback[alert], [breakout]
#                                      callback=alert(1)// and Pusher.auth_callbacks['1']);alert(1);//
#                                      get a 4xx, no auth, and never appear raw in the body
# Exit status: 0 when no check fails, 1 when one fails, 2 on a usage error.
set -euo pipefail
exec python3 "$(dirname "$0")/smoke.py" "$@"
