// scripts/deploy.sh's checks before it builds (issue 33, items 1 and 3), with a stand-in `sam`
// that records whether `build` was called (AWS is not reachable here):
//   - every <placeholder> left in the stage's samconfig environment is listed at once, naming
//     its parameter or key (the repository's own samconfig.toml, whatever placeholders it has,
//     and a <region>), with every value template.yaml's parameters refuse, in seconds, and
//     nothing is built;
//   - the template's parameter constraints are read from template.yaml (the reader agrees with
//     a YAML parser on every parameter);
//   - the Cognito app client's WriteAttributes, read by the real AWS CLI from moto's Cognito:
//     a writable claim a rule or UserIdClaim trusts stops the deploy before the build; a client
//     that cannot write them goes on; without credentials the check says it skipped, and why.
// And docs/deploy.md's recipe for SMOKE_TOKEN, taken from the page and run with bash against
// moto's Cognito, gets an ID token for the app client.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { cleanupWorkDir, freePort, REPO_ROOT, VTL_PYTHON, waitUntil, WORK_DIR } from './lib/harness.mjs';
import { filledSamconfig, run, standinSam } from './lib/deploy_sh.mjs';

after(() => cleanupWorkDir());

const deploy = (args, env) => run('bash', ['scripts/deploy.sh', ...args], { env, timeoutMs: 600_000 });

/** The placeholders of one samconfig environment's lines: [[name, placeholder]…]. */
function repoPlaceholders(stage) {
  const text = readFileSync(join(REPO_ROOT, 'samconfig.toml'), 'utf8');
  const section = text.split(/^\[/m).filter((s) => s.startsWith(`${stage}.`)).join('\n');
  const found = [];
  for (const line of section.split('\n')) {
    if (line.trim().startsWith('#')) continue;
    const name = /^\s*"?([A-Za-z_]+)\s*=?/.exec(line)?.[1];
    for (const m of line.matchAll(/<[^<>]*>/g)) found.push([name, m[0]]);
  }
  return found;
}

test('deploy.sh lists every placeholder and refused value before building', async () => {
  const sam = standinSam();
  for (const stage of ['staging', 'production']) {
    const expected = repoPlaceholders(stage);
    assert.ok(expected.length > 0, `samconfig.toml [${stage}] has placeholders`);
    sam.reset();
    const result = await deploy([stage], sam.env());
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(sam.calls(), [], 'nothing built');
    assert.ok(result.ms < 10_000, `took ${result.ms} ms`);
    for (const [name, placeholder] of expected) {
      assert.match(result.stderr, new RegExp(`^  ${name}( \\(deploy\\))?: .*${placeholder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'),
        `${stage}: ${name} ${placeholder} named\n${result.stderr}`);
    }
    assert.match(result.stderr, new RegExp(`still has ${new Set(expected.map(([n]) => n)).size} placeholder`));
    assert.match(result.stderr, /nothing was built or deployed/);
  }

  // A region placeholder, and values the template's patterns, allowed values and lengths refuse.
  const samconfig = filledSamconfig({
    keys: { region: '<region>' },
    overrides: {
      PusherCluster: 'EU', AuthMode: 'demo', JwtAlgorithms: 'HS256', PusherKey: 'k'.repeat(65),
      ChannelRules: 'public-room', JwtJwksUrl: 'http://cognito.example/jwks', Bogus: '1', PusherAppId: null,
    },
  });
  sam.reset();
  const result = await deploy(['staging'], sam.env({ SAMCONFIG: samconfig }));
  assert.equal(result.code, 1, result.stderr);
  assert.deepEqual(sam.calls(), []);
  const lines = result.stderr.split('\n').filter((l) => l.startsWith('  '));
  assert.deepEqual(lines.sort(), [
    "  AuthMode='demo': not one of jwt, authorizer",
    "  Bogus: not a parameter of template.yaml",
    `  ChannelRules='public-room': refused by its AllowedPattern: ${templateConstraint('ChannelRules')}`,
    `  JwtAlgorithms='HS256': refused by its AllowedPattern: ${templateConstraint('JwtAlgorithms')}`,
    `  JwtJwksUrl='http://cognito.example/jwks': refused by its AllowedPattern: ${templateConstraint('JwtJwksUrl')}`,
    "  PusherAppId: required (no default in template.yaml), not in parameter_overrides",
    `  PusherCluster='EU': refused by its AllowedPattern: ${templateConstraint('PusherCluster')}`,
    `  PusherKey='${'k'.repeat(65)}': longer than 64: ${templateConstraint('PusherKey')}`,
    '  region (deploy): <region>',
  ].sort(), result.stderr);
});

/** A parameter's ConstraintDescription, folded as YAML folds it (a YAML parser's reading). */
function templateConstraint(name) {
  return templateByYaml()[name].ConstraintDescription;
}

let yamlParams;
function templateByYaml() {
  if (!yamlParams) {
    // PyYAML is in the venv scripts/e2e.sh builds for the Velocity checks, not on the machine.
    const out = spawnSync(VTL_PYTHON, ['-c', `
import json, yaml
class Loader(yaml.SafeLoader): pass
Loader.add_multi_constructor('!', lambda loader, suffix, node: None)
print(json.dumps(yaml.load(open('template.yaml'), Loader=Loader)['Parameters']))
`], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    yamlParams = JSON.parse(out.stdout);
  }
  return yamlParams;
}

test("deploy_preflight.py reads template.yaml's parameters as a YAML parser does", () => {
  const out = spawnSync('python3', ['-c', `
import json, sys
sys.path.insert(0, 'scripts')
from deploy_preflight import template_parameters
print(json.dumps(template_parameters('template.yaml')))
`], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const mine = JSON.parse(out.stdout);
  const yaml = templateByYaml();
  assert.deepEqual(Object.keys(mine).sort(), Object.keys(yaml).sort());
  for (const [name, spec] of Object.entries(yaml)) {
    for (const key of ['AllowedPattern', 'AllowedValues', 'MinLength', 'MaxLength', 'ConstraintDescription']) {
      const want = spec[key] === undefined ? undefined : Array.isArray(spec[key]) ? spec[key].map(String) : String(spec[key]);
      assert.deepEqual(mine[name][key], want, `${name}.${key}`);
    }
    assert.equal('Default' in mine[name], 'Default' in spec, `${name}.Default`);
  }
});

// ---------------------------------------------------------------------------------------------
// The Cognito app client, against moto's Cognito through the real AWS CLI.

let moto;
let cognito;

before(async () => {
  const venv = spawnSync('bash', ['scripts/venv.sh', 'moto', 'tests/tools/requirements-moto.txt'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(venv.status, 0, venv.stderr);
  const bin = venv.stdout.trim();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  moto = spawn(join(bin, 'moto_server'), ['-p', String(port)], { stdio: 'ignore' });
  await waitUntil('moto_server to listen', 60_000, async () => (await fetch(`${url}/moto-api/`)).ok, 200);
  const setup = spawnSync(join(bin, 'python'), ['tests/tools/cognito_clients.py', url], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(setup.status, 0, setup.stderr);
  cognito = { url, ...JSON.parse(setup.stdout) };
});

after(() => moto?.kill());

test('deploy.sh stops when the app client lets users write a claim the configuration trusts', { timeout: 900_000 }, async () => {
  const sam = standinSam();
  const policyTests = join(WORK_DIR, 'policy-tests.toml');
  writeFileSync(policyTests, '[[case]]\nclaims = { sub = "u" }\nchannel = "private-user-u"\nallowed = true\n');
  const aws = { AWS_ENDPOINT_URL: cognito.url, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', POLICY_TESTS: policyTests, STANDIN_BUILD_FAILS: '1' };
  const attempt = async (client, overrides, env = aws) => {
    sam.reset();
    const samconfig = filledSamconfig({ pool: cognito.pool, client: cognito.clients[client], overrides });
    const result = await deploy(['staging'], sam.env({ ...env, SAMCONFIG: samconfig }));
    return { ...result, samconfig, calls: sam.calls(), whose: `app client ${cognito.clients[client]} of user pool ${cognito.pool}` };
  };
  const orgRules = { ChannelRules: 'private-user-{sub} private-org-{custom:org_id}-*' };

  const writable = await attempt('org-writable', orgRules);
  assert.equal(writable.code, 1, writable.stderr);
  assert.deepEqual(writable.calls, [], 'stopped before the build');
  assert.match(writable.stderr, new RegExp(`deploy: ${writable.whose} lets every user write claims this configuration trusts: custom:org_id \\(ChannelRules\\)\\. `));

  const absent = await attempt('no-write-attributes', orgRules);
  assert.equal(absent.code, 1, absent.stderr);
  assert.deepEqual(absent.calls, []);
  assert.match(absent.stderr, /write claims this configuration trusts: custom:org_id \(ChannelRules\) \(it lists no WriteAttributes: every attribute is writable\)/);

  const email = await attempt('email-and-verified', { UserIdClaim: 'email' });
  assert.equal(email.code, 1, email.stderr);
  assert.deepEqual(email.calls, []);
  assert.match(email.stderr, /write claims this configuration trusts: email with email_verified \(UserIdClaim\)\./);

  // email without email_verified, and custom:org_id read-only: safe; the build is reached.
  const safe = await attempt('read-only-org', { ChannelRules: `${orgRules.ChannelRules} private-mail-{email}` });
  assert.deepEqual(safe.calls, [`build --config-env staging --config-file ${safe.samconfig}`], safe.stderr);
  assert.match(safe.stderr, new RegExp(`deploy: ${safe.whose}: its users cannot write a claim this configuration trusts \\(sub, custom:org_id, email\\)`));
  assert.match(safe.stderr, /stand-in sam: build stops here/);

  // No credentials (the real AWS CLI without any): the check says it skipped, and the deploy goes on.
  const noCredentials = await attempt('org-writable', orgRules, { POLICY_TESTS: policyTests, STANDIN_BUILD_FAILS: '1' });
  assert.equal(noCredentials.calls.length, 1, noCredentials.stderr);
  assert.match(noCredentials.calls[0], /^build --config-env staging/);
  assert.match(noCredentials.stderr, /deploy: Cognito attribute check skipped: no AWS credentials \(aws: Unable to locate credentials/);

  // A wrong client id stops it, naming what could not be read.
  const wrong = await attempt('org-writable', { ...orgRules, JwtAudience: 'nosuchclient' });
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.deepEqual(wrong.calls, []);
  assert.match(wrong.stderr, /deploy: cannot read app client nosuchclient of user pool \S+ \(eu-west-1\) to check which claims its users may write/);
});

// ---------------------------------------------------------------------------------------------
// docs/deploy.md's recipe for an ID token (SMOKE_TOKEN), as a reader copies it, against moto's
// Cognito through the real AWS CLI.

const ID_TOKEN_MARKER = "<!-- not run: needs an AWS account and a Cognito user (tests/e2e/deploy_sh.test.mjs runs it against moto's Cognito) -->";

/** The shell block right after `marker` in docs/deploy.md (the marker appears once). */
function deployDocBlock(marker) {
  const text = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
  const opening = `${marker}\n\`\`\`sh\n`;
  const at = text.indexOf(opening);
  assert.notEqual(at, -1, `docs/deploy.md has a shell block right after ${marker}`);
  assert.equal(text.indexOf(marker, at + 1), -1, 'the marker appears once');
  const start = at + opening.length;
  return text.slice(start, text.indexOf('\n```\n', start));
}

test("docs/deploy.md's ID-token recipe gets SMOKE_TOKEN from Cognito", () => {
  const block = deployDocBlock(ID_TOKEN_MARKER);
  // The recipe ends by deploying; in its place a child process shows what the deploy would get.
  const lines = block.split('\n');
  assert.equal(lines.at(-1), 'bash scripts/deploy.sh staging', block);
  const recipe = [...lines.slice(0, -1), 'printenv SMOKE_TOKEN SMOKE_CHANNEL'].join('\n');

  const client = cognito.clients['password-auth'];
  // AWS_ENDPOINT_URL sends the CLI to moto; nothing else of the machine's AWS settings applies.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  Object.assign(env, {
    AWS_ENDPOINT_URL: cognito.url, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_CONFIG_FILE: join(WORK_DIR, 'no-aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(WORK_DIR, 'no-aws-credentials'),
  });
  /** Runs the recipe for one user, the password typed on stdin: [SMOKE_TOKEN, SMOKE_CHANNEL]. */
  const getToken = (username) => {
    const { sub, password } = cognito.users[username];
    let script = recipe;
    for (const [placeholder, value] of [['<region>', 'eu-west-1'], ['<app-client-id>', client], ['<test user>', username],
      ['<sub of the test user>', sub]]) {
      assert.ok(script.includes(placeholder), `the recipe has ${placeholder}:\n${block}`);
      script = script.replaceAll(placeholder, value);
    }
    assert.doesNotMatch(script, /<[a-z][a-z -]*>/, 'no placeholder left');
    const out = spawnSync('bash', ['-c', script], { cwd: REPO_ROOT, env, input: `${password}\n`, encoding: 'utf8', timeout: 60_000 });
    assert.equal(out.status, 0, `${out.stdout}\n${out.stderr}`);
    assert.doesNotMatch(out.stderr, /error/i, out.stderr);
    const [token, channel] = out.stdout.trim().split('\n').slice(-2);
    return { token, channel, sub, stderr: out.stderr };
  };

  const { token, channel, sub, stderr } = getToken('smoke-user');
  const parts = token.split('.');
  assert.equal(parts.length, 3, `SMOKE_TOKEN is a JWT: ${token}\n${stderr}`);
  for (const part of parts) assert.match(part, /^[A-Za-z0-9_-]+$/, 'base64url');
  const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  assert.equal(payload.token_use, 'id', JSON.stringify(payload));
  assert.equal(payload.aud, client);
  assert.equal(payload.sub, sub);
  assert.equal(payload['cognito:username'], 'smoke-user');
  assert.equal(channel, `private-user-${sub}`, 'SMOKE_CHANNEL is the signed-in user\'s own channel');

  // What the docs say of a user with a temporary password only: Cognito answers a challenge,
  // and SMOKE_TOKEN is `None`.
  assert.equal(getToken('new-user').token, 'None');
});
