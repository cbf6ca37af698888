// A stand-in for a Cognito user pool, for the production-configuration suite
// (production.test.mjs): RS256 and ES256 signing keys made here with `jose`, their
// public halves served as a JWKS over HTTP on 127.0.0.1 (what JWT_JWKS_URL points
// at), and Cognito-shaped ID and access tokens. The keys can be rotated while the
// function runs; every JWKS request is counted.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import { freePort } from './harness.mjs';

export const REGION = 'eu-west-1';
export const POOL_ID = `${REGION}_TESTPOOL`;
export const ISSUER = `https://cognito-idp.${REGION}.amazonaws.com/${POOL_ID}`;

/** A signing key: `jose` private key plus the public JWK the pool publishes. */
export async function makeKey(alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, jwk };
}

/**
 * The pool: `clientId` (the app client JWT_AUDIENCE names), `otherClientId` (another
 * app client of the same pool), the published keys and the JWKS server.
 */
export async function startUserPool() {
  const pool = {
    clientId: `client${randomBytes(8).toString('hex')}`,
    otherClientId: `other${randomBytes(8).toString('hex')}`,
    keys: { rs: await makeKey('RS256'), es: await makeKey('ES256') },
    published: [],
    jwksRequests: 0,
  };
  pool.published = [pool.keys.rs, pool.keys.es];
  const port = await freePort();
  const path = `/${POOL_ID}/.well-known/jwks.json`;
  pool.server = createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url, 'http://x').pathname !== path) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found');
    }
    pool.jwksRequests += 1;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=3600' });
    return res.end(JSON.stringify({ keys: pool.published.map((k) => k.jwk) }));
  });
  await new Promise((ok, fail) => {
    pool.server.once('error', fail);
    pool.server.listen(port, '127.0.0.1', ok);
  });
  pool.jwksUrl = `http://127.0.0.1:${port}${path}`;
  pool.close = () => new Promise((ok) => pool.server.close(ok));
  /** Replaces the published RSA key by a new one (new kid); returns it. */
  pool.rotateRsa = async () => {
    const fresh = await makeKey('RS256');
    pool.published = [fresh, ...pool.published.filter((k) => k !== pool.keys.rs)];
    pool.keys.rsOld = pool.keys.rs;
    pool.keys.rs = fresh;
    return fresh;
  };
  return pool;
}

/** A Cognito user: `sub` is a UUID (with `-`), as in a real pool. */
export function makeUser({ username, name, email, orgId }) {
  return { sub: randomUUID(), username, name, email, orgId };
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * Signs `claims` with `key`. `header` is laid over `{alg, kid, typ}`; `drop` lists
 * claims to leave out. No `jose` defaults: every claim is what the caller gives.
 */
export async function sign(key, claims, { header = {}, drop = [] } = {}) {
  const body = { ...claims };
  for (const name of drop) delete body[name];
  return new SignJWT(body).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

/** The claims of a Cognito ID token for `user`, minted for `pool.clientId`. */
export function idClaims(pool, user, overrides = {}) {
  const t = now();
  return {
    sub: user.sub,
    'cognito:username': user.username,
    email: user.email,
    email_verified: true,
    name: user.name,
    org_id: user.orgId,
    iss: ISSUER,
    aud: pool.clientId,
    token_use: 'id',
    auth_time: t,
    event_id: randomUUID(),
    iat: t,
    exp: t + 600,
    jti: randomUUID(),
    origin_jti: randomUUID(),
    ...overrides,
  };
}

/** The claims of a Cognito access token: `client_id`, no `aud`. */
export function accessClaims(pool, user, overrides = {}) {
  const t = now();
  return {
    sub: user.sub,
    iss: ISSUER,
    client_id: pool.clientId,
    token_use: 'access',
    scope: 'aws.cognito.signin.user.admin',
    auth_time: t,
    event_id: randomUUID(),
    iat: t,
    exp: t + 600,
    jti: randomUUID(),
    origin_jti: randomUUID(),
    username: user.username,
    ...overrides,
  };
}

function b64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/**
 * The classic alg-confusion forgery: an HS256 token whose HMAC key is the RSA public key
 * as PEM (what a verifier that lets the token pick the algorithm would use).
 */
export async function hsWithPublicKey(pool, claims) {
  const { createHmac, createPublicKey } = await import('node:crypto');
  const pem = createPublicKey({ key: pool.keys.rs.jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid: pool.keys.rs.kid })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
}

/**
 * Signs exactly the header and claims given, with node's crypto (jose refuses to sign a
 * `crit` header naming an extension it does not know, which is the point here).
 */
export async function signRaw(key, header, claims) {
  const { sign: nodeSign, KeyObject } = await import('node:crypto');
  const input = `${b64url(header)}.${b64url(claims)}`;
  const keyObject = KeyObject.from(key.privateKey);
  const signer = key.alg.startsWith('ES') ? { key: keyObject, dsaEncoding: 'ieee-p1363' } : keyObject;
  return `${input}.${nodeSign('sha256', Buffer.from(input), signer).toString('base64url')}`;
}
