// Makes the benchmark's keys, JWKS, tokens and events with `jose` (not the
// Rust code under test): an RSA-2048 and a P-256 key, N distinct RS256 and
// ES256 tokens (a different user each, valid for an hour), and events built
// from an API Gateway fixture by putting each token in place of `demo-token`.
//
//   node perf/node/mint.mjs OUT_DIR EVENT_TEMPLATE N ISSUER AUDIENCE
// writes OUT_DIR/jwks.json, rs256.jsonl, es256.jsonl (N lines), rs256-one.json, es256-one.json.
import { readFileSync, writeFileSync } from "node:fs";
import { SignJWT, exportJWK, generateKeyPair } from "jose";

const [out, templatePath, n, issuer, audience] = process.argv.slice(2);
const template = JSON.stringify(JSON.parse(readFileSync(templatePath, "utf8")));
if (!template.includes("demo-token")) throw new Error("template has no demo-token");
const exp = Math.floor(Date.now() / 1000) + 3600;
const kinds = [
  ["rs256", "RS256", "bench-rsa", await generateKeyPair("RS256", { modulusLength: 2048 })],
  ["es256", "ES256", "bench-ec", await generateKeyPair("ES256")],
];
const jwks = { keys: [] };
for (const [name, alg, kid, { publicKey, privateKey }] of kinds) {
  jwks.keys.push({ ...(await exportJWK(publicKey)), kid, alg, use: "sig" });
  const lines = [];
  for (let i = 0; i < Number(n); i++) {
    const token = await new SignJWT({ name: `User ${i}` })
      .setProtectedHeader({ alg, kid, typ: "JWT" })
      .setSubject(`user-${i}`)
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime(exp)
      .sign(privateKey);
    lines.push(template.replaceAll("demo-token", token));
  }
  writeFileSync(`${out}/${name}.jsonl`, lines.join("\n") + "\n");
  writeFileSync(`${out}/${name}-one.json`, lines[0]);
}
writeFileSync(`${out}/jwks.json`, JSON.stringify(jwks));
