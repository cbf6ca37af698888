// Mints tests/fixtures/weak-rsa.json: a JWKS holding a 1024-bit RSA key (which
// ring refuses, so the function must leave it out) and an RS256 token signed
// with it, with otherwise valid claims (tests/fixtures/tokens.json's issuer and
// audience). Node's built-in crypto only, independent of the Rust code.
//
//     node tests/tools/mint_weak_rsa.mjs > tests/fixtures/weak-rsa.json
import { generateKeyPairSync, sign } from "node:crypto";
import { readFileSync } from "node:fs";

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/tokens.json", import.meta.url)));
const b64 = (buf) => Buffer.from(buf).toString("base64url");
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "rsa-1024", alg: "RS256", use: "sig" };
const header = b64(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "rsa-1024" }));
const claims = b64(JSON.stringify({ sub: "user-weak", iss: fixtures.issuer, aud: fixtures.audience, exp: 4102444800 }));
const signature = b64(sign("sha256", Buffer.from(`${header}.${claims}`), privateKey));
console.log(JSON.stringify({ generator: "node:crypto (tests/tools/mint_weak_rsa.mjs)", jwks: { keys: [jwk] }, token: `${header}.${claims}.${signature}` }, null, 1));
