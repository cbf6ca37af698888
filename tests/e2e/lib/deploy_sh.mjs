// What the tests of scripts/deploy.sh share (smoke.test.mjs, deploy_sh.test.mjs): running a
// command, a samconfig file with every placeholder filled, a stand-in `sam` that records its
// calls, and an environment without AWS credentials.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO_ROOT, WORK_DIR } from './harness.mjs';

/** Runs a command to completion: { code, stdout, stderr, ms }. */
export function run(command, args, { env = process.env, timeoutMs = 120_000 } = {}) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * A samconfig.toml whose environments (`staging`, `production`) have real-looking values in
 * place of the repository's placeholders; `overrides` replaces parameters (null drops one),
 * `keys` the deploy keys. Returns the file's path.
 */
export function filledSamconfig({ pool = 'eu-west-1_TESTPOOL', client = 'testclientid', overrides = {}, keys = {} } = {}) {
  const dir = mkdtempSync(join(WORK_DIR, 'samconfig-'));
  let text = 'version = 0.1\n';
  for (const stage of ['staging', 'production']) {
    const deploy = {
      stack_name: `pusher-auth-${stage}`, region: 'eu-west-1', capabilities: 'CAPABILITY_IAM', resolve_s3: true,
      confirm_changeset: true, ...keys,
    };
    const params = {
      StageName: stage,
      PusherAppId: '123456',
      PusherKey: `${stage}-key`,
      PusherCluster: 'eu',
      PusherSecretArn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:pusher-auth/${stage}-AbCdEf`,
      AllowedOrigins: 'https://app.example.com,http://localhost:8080',
      AuthMode: 'jwt',
      ChannelRules: 'private-user-{sub} presence-room-*',
      JwtAlgorithms: 'RS256',
      JwtJwksUrl: `https://cognito-idp.eu-west-1.amazonaws.com/${pool}/.well-known/jwks.json`,
      JwtIssuer: `https://cognito-idp.eu-west-1.amazonaws.com/${pool}`,
      JwtAudience: client,
      ...overrides,
    };
    text += `\n[${stage}.deploy.parameters]\n`;
    for (const [k, v] of Object.entries(deploy)) text += `${k} = ${JSON.stringify(v)}\n`;
    const entries = Object.entries(params).filter(([, v]) => v !== null).map(([k, v]) => JSON.stringify(`${k}="${v}"`));
    text += `parameter_overrides = [\n  ${entries.join(',\n  ')},\n]\n`;
  }
  const path = join(dir, 'samconfig.toml');
  writeFileSync(path, text);
  return path;
}

// A stand-in for the SAM CLI: records each call's arguments in $STANDIN_LOG; `build` fails when
// STANDIN_BUILD_FAILS is set (so a test stops right after it); `list stack-outputs` answers
// with the outputs template.yaml defines, pointing at STANDIN_BASE.
const STANDIN_SAM = `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$STANDIN_LOG"
case "$1 \${2:-}" in
  "build "*) if [ -n "\${STANDIN_BUILD_FAILS:-}" ]; then echo "stand-in sam: build stops here" >&2; exit 1; fi
             echo "stand-in sam: build done" ;;
  "deploy "*) echo "stand-in sam: deploy done" ;;
  "list stack-outputs")
    cat <<JSON
[{"OutputKey": "FrontDoor", "OutputValue": "rest-api", "Description": "The way in this stack deploys."},
 {"OutputKey": "ChannelAuthEndpoint", "OutputValue": "$STANDIN_BASE/pusher/auth", "Description": "pusher-js channelAuthorization.endpoint"},
 {"OutputKey": "UserAuthEndpoint", "OutputValue": "$STANDIN_BASE/pusher/user-auth", "Description": "pusher-js userAuthentication.endpoint"}]
JSON
    ;;
  *) echo "stand-in sam: unexpected $*" >&2; exit 64 ;;
esac
`;

/**
 * A stand-in `sam` in a directory of its own: { env(extra), calls(), reset() }. env() is the
 * environment for deploy.sh: the stand-in first on PATH, no AWS credentials, no SMOKE_*
 * variables but those in `extra`.
 */
export function standinSam(base = 'http://127.0.0.1:9') {
  const dir = mkdtempSync(join(WORK_DIR, 'standin-sam-'));
  const sam = join(dir, 'sam');
  writeFileSync(sam, STANDIN_SAM);
  chmodSync(sam, 0o755);
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  return {
    dir,
    env: (extra = {}) => ({ ...noAwsEnv(), PATH: `${dir}:${process.env.PATH}`, STANDIN_LOG: log, STANDIN_BASE: base, ...extra }),
    calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    reset: () => writeFileSync(log, ''),
  };
}

/** process.env without AWS credentials, profiles or SMOKE_* variables, and no EC2 metadata lookup. */
export function noAwsEnv() {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^(AWS_|SMOKE_)/.test(name) && name !== 'AWS_CA_BUNDLE') delete env[name];
  return {
    ...env,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: join(WORK_DIR, 'no-aws-credentials'),
    AWS_CONFIG_FILE: join(WORK_DIR, 'no-aws-config'),
  };
}
