// The Node.js equivalent of pusher-auth in AUTH_MODE=jwt, for the process
// benchmark (perf/run-jwt-bench.sh): what a Node.js 20 Lambda function doing
// the same job would typically do with the usual packages — npm `jsonwebtoken`
// 9 to verify the token against keys from the same JWKS, the official `pusher`
// package to sign, a JSONP answer, one JSON log line per request.
//
// Environment: PUSHER_KEY, PUSHER_SECRET, PUSHER_APP_ID, PUSHER_CLUSTER,
// JWT_JWKS (inline JWKS), JWT_ALGORITHMS, JWT_ISSUER, JWT_AUDIENCE,
// CHANNEL_PREFIXES (space-separated, e.g. "private- presence-").
import { createPublicKey } from "node:crypto";
import jwt from "jsonwebtoken";
import Pusher from "pusher";

const env = process.env;
const pusher = new Pusher({
  appId: env.PUSHER_APP_ID,
  key: env.PUSHER_KEY,
  secret: env.PUSHER_SECRET,
  cluster: env.PUSHER_CLUSTER,
});
// Keys parsed once per execution environment, by kid (what jwks-rsa's cache does).
const keys = new Map(JSON.parse(env.JWT_JWKS).keys.map((k) => [k.kid, createPublicKey({ key: k, format: "jwk" })]));
const options = {
  algorithms: env.JWT_ALGORITHMS.split(","),
  issuer: env.JWT_ISSUER,
  audience: env.JWT_AUDIENCE,
  clockTolerance: 30,
};
const prefixes = (env.CHANNEL_PREFIXES || "private- presence- private-encrypted-").split(" ");
const CALLBACK = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*|\['[\w$-]*'\]|\["[\w$-]*"\])*$/;
const SOCKET_ID = /^\d+\.\d+$/;
const CHANNEL = /^[A-Za-z0-9_\-=@,.;]{1,164}$/;

function log(status, reason) {
  process.stdout.write(JSON.stringify({ level: "INFO", msg: "auth", status, reason, time: new Date().toISOString() }) + "\n");
}

function answer(callback, status, json) {
  const body = `/**/typeof ${callback} === 'function' && ${callback}(${JSON.stringify(json)});`;
  return {
    statusCode: 200,
    headers: { "content-type": "application/javascript; charset=utf-8", "cache-control": "no-store" },
    body,
  };
}

export async function handler(event) {
  const q = new URLSearchParams(event.rawQueryString || "");
  const callback = q.get("callback") || "";
  if (!CALLBACK.test(callback)) {
    log(400, "bad_callback");
    return { statusCode: 400, body: "" };
  }
  const socketId = q.get("socket_id") || "";
  const channel = q.get("channel_name") || "";
  if (!SOCKET_ID.test(socketId) || !CHANNEL.test(channel)) {
    log(400, "bad_request");
    return answer(callback, 400, { error: "bad_request", status: 400 });
  }
  let claims;
  try {
    const token = q.get("token") || "";
    const { header } = jwt.decode(token, { complete: true }) || {};
    const key = header && keys.get(header.kid);
    if (!key) throw new Error("unknown key");
    claims = jwt.verify(token, key, options);
    if (typeof claims.sub !== "string" || !claims.sub) throw new Error("no sub");
  } catch {
    log(401, "unauthenticated");
    return answer(callback, 401, { error: "unauthenticated", status: 401 });
  }
  if (!prefixes.some((p) => channel.startsWith(p))) {
    log(403, "channel_not_allowed");
    return answer(callback, 403, { error: "forbidden", status: 403 });
  }
  const auth = pusher.authorizeChannel(socketId, channel);
  log(200, "ok");
  return answer(callback, 200, auth);
}
