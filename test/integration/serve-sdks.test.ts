/**
 * `serve` end to end with real, unmodified AWS SDK clients: each one gets ONLY the lines
 * `serve` printed (IMDS or container), fetches credentials from the sidecar, and calls STS
 * GetCallerIdentity on the HTTPS emulator that issued them. The ARN STS returns must be the
 * assumed role of a session the emulator issued to the sidecar.
 *
 * The one addition to the printed lines is AWS_CONTAINER_AUTHORIZATION_TOKEN (the token
 * file's content) for clients that read only that variable and not the _FILE one:
 *  - botocore < 1.32 (Debian's 1.29) and AWS CLI 2.9 (its own copy of botocore 1.29):
 *    ContainerProvider reads ENV_VAR_AUTH_TOKEN only;
 *  - JS v3's legacy `fromContainerMetadata` (@smithy/credential-provider-imds): reads
 *    AWS_CONTAINER_AUTHORIZATION_TOKEN only. JS v3's default chain uses `fromHttp` first,
 *    which reads the file, so the chain needs only the printed lines.
 * Those are the SDKs' limitations, not the server's: a deployment for them sets the variable
 * (docs/sdk-endpoints.md says to give both the same value).
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { cleanup, sessionArgs, startTestEmulator, tempDir, writePki, type PkiFiles } from '../helpers/harness.js';
import {
  awsCli,
  boto3,
  DEBIAN_AWS,
  DEBIAN_PYTHON,
  findPyenvPython,
  hasDebianAwsCli,
  hasDebianBotocore,
  jsV2,
  jsV3,
  sdkEnv,
  type CallerIdentity,
  type StsTarget,
} from '../helpers/sdk-clients.js';
import { startServe, type ServeHandle } from '../helpers/serve-fixture.js';
import { unavailable } from '../helpers/tools.js';

const ROLE_ARN_RE = /^arn:aws:sts::\d{12}:assumed-role\/[^/]+\/.+$/;

let pki: PkiFiles;
let emu: Awaited<ReturnType<typeof startTestEmulator>>;
let serve: ServeHandle;
let home: string;
let sts: StsTarget;
let imdsVars: Record<string, string>;
let containerVars: Record<string, string>;
/** For clients that read the token only from AWS_CONTAINER_AUTHORIZATION_TOKEN. */
let legacyContainerVars: Record<string, string>;
let pyenv: { python: string; aws?: string } | undefined;
let debianBotocore = false;
let debianAws = false;

before(async () => {
  pki = await writePki();
  emu = await startTestEmulator(pki, { https: true });
  home = tempDir('ras-sdk-home-');
  // The RSA leaf is under the intermediate: the sidecar must send the chain.
  serve = await startServe(sessionArgs(pki.rsa, ['--intermediates', pki.intermediatePem]), { env: emu.env });
  const e = serve.exports;
  imdsVars = { AWS_EC2_METADATA_SERVICE_ENDPOINT: e.AWS_EC2_METADATA_SERVICE_ENDPOINT! };
  containerVars = {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: e.AWS_CONTAINER_CREDENTIALS_FULL_URI!,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: e.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!,
  };
  legacyContainerVars = { ...containerVars, AWS_CONTAINER_AUTHORIZATION_TOKEN: serve.token };
  sts = { url: emu.url.href, caPath: pki.tls.caPath };
  [pyenv, debianBotocore, debianAws] = await Promise.all([findPyenvPython(), hasDebianBotocore(), hasDebianAwsCli()]);
});

after(async () => {
  await serve?.cli.stop();
  await emu?.stop();
  cleanup(home, pki?.dir);
});

/** The ARN is the assumed role of a session the emulator issued, for the key the client used. */
function assertAssumedRole(id: CallerIdentity): void {
  assert.match(id.arn, ROLE_ARN_RE);
  const rec = emu.issued().find((r) => r.accessKeyId === id.accessKeyId);
  assert.ok(rec !== undefined, `access key ${id.accessKeyId} was not issued by the emulator`);
  assert.equal(id.arn, rec.assumedRoleArn);
  assert.equal(rec.roleArn, emu.env.ROLESANYWHERE_ROLE_ARN);
}

const env = (vars: Record<string, string>, binDir?: string): Record<string, string> => sdkEnv(home, vars, binDir);

describe('what serve prints', () => {
  test('three export lines: IMDS endpoint with trailing slash, container URI on 127.0.0.1, token file', () => {
    assert.equal(serve.exportLines.length, 3);
    for (const l of serve.exportLines) assert.match(l, /^export [A-Z0-9_]+=\S+$/);
    assert.match(imdsVars.AWS_EC2_METADATA_SERVICE_ENDPOINT!, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(containerVars.AWS_CONTAINER_CREDENTIALS_FULL_URI!, /^http:\/\/127\.0\.0\.1:\d+\/credentials$/);
    const file = containerVars.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!;
    assert.equal(statSync(file).mode & 0o077, 0, 'token file readable by others');
    const token = readFileSync(file, 'utf8');
    assert.ok(token.length >= 16 && !/\s/.test(token), 'token must have no whitespace or trailing newline');
  });
});

describe('AWS SDK for JavaScript v3', () => {
  test('fromInstanceMetadata with only the IMDS line', async () => {
    assertAssumedRole(await jsV3('imds', env(imdsVars), sts));
  });
  test('fromContainerMetadata (reads only AWS_CONTAINER_AUTHORIZATION_TOKEN)', async () => {
    assertAssumedRole(await jsV3('container', env(legacyContainerVars), sts));
  });
  test('fromHttp with only the container lines (token from the file)', async () => {
    assertAssumedRole(await jsV3('http', env(containerVars), sts));
  });
  test('fromNodeProviderChain with only the IMDS line', async () => {
    assertAssumedRole(await jsV3('chain', env(imdsVars), sts));
  });
  test('fromNodeProviderChain with only the container lines', async () => {
    assertAssumedRole(await jsV3('chain', env(containerVars), sts));
  });
});

describe('AWS SDK for JavaScript v2', () => {
  test('EC2MetadataCredentials with only the IMDS line', async () => {
    assertAssumedRole(await jsV2('ec2', env(imdsVars), sts));
  });
  test('ECSCredentials with only the container lines', async () => {
    assertAssumedRole(await jsV2('ecs', env(containerVars), sts));
  });
  test('default CredentialProviderChain with only the IMDS line', async () => {
    assertAssumedRole(await jsV2('chain', env(imdsVars), sts));
  });
  test('default CredentialProviderChain with only the container lines', async () => {
    assertAssumedRole(await jsV2('chain', env(containerVars), sts));
  });
});

describe('boto3 / botocore default chain', () => {
  test('pyenv botocore (current): IMDS line only', async (t) => {
    if (pyenv === undefined) return unavailable(t, 'no pyenv python3 with botocore on PATH');
    const id = await boto3(pyenv.python, env(imdsVars), sts);
    assert.equal(id.method, 'iam-role');
    assertAssumedRole(id);
  });
  test('pyenv botocore (current): container lines only', async (t) => {
    if (pyenv === undefined) return unavailable(t, 'no pyenv python3 with botocore on PATH');
    const id = await boto3(pyenv.python, env(containerVars), sts);
    assert.equal(id.method, 'container-role');
    assertAssumedRole(id);
  });
  test('Debian botocore 1.29: IMDS line only', async (t) => {
    if (!debianBotocore) return unavailable(t, `${DEBIAN_PYTHON} with python3-botocore/python3-boto3 is not installed (CI installs them)`);
    const id = await boto3(DEBIAN_PYTHON, env(imdsVars), sts);
    assert.match(id.botocore ?? '', /^1\.29\./);
    assert.equal(id.method, 'iam-role');
    assertAssumedRole(id);
  });
  test('Debian botocore 1.29: container lines + AWS_CONTAINER_AUTHORIZATION_TOKEN', async (t) => {
    if (!debianBotocore) return unavailable(t, `${DEBIAN_PYTHON} with python3-botocore/python3-boto3 is not installed (CI installs them)`);
    const id = await boto3(DEBIAN_PYTHON, env(legacyContainerVars), sts);
    assert.equal(id.method, 'container-role');
    assertAssumedRole(id);
  });
});

describe('AWS CLI', () => {
  const imdsFetched = /"GET \/latest\/meta-data\/iam\/security-credentials\/[^ "]+ HTTP\/1\.1" 200/;
  const containerFetched = /"GET \/credentials HTTP\/1\.1" 200/;
  /** The CLI prints only the ARN: it must be the assumed role of a session the emulator issued. */
  const check = (arn: string): void => {
    assert.match(arn, ROLE_ARN_RE);
    assert.ok(
      emu.issued().some((r) => r.assumedRoleArn === arn),
      `ARN ${arn} is not of an issued session`,
    );
  };
  test('v1 (pyenv): IMDS line only', async (t) => {
    if (pyenv?.aws === undefined) return unavailable(t, 'no AWS CLI v1 beside the pyenv python3');
    const r = await awsCli([pyenv.python, pyenv.aws], env(imdsVars), sts);
    assert.match(r.debug, imdsFetched);
    check(r.arn);
  });
  test('v1 (pyenv): container lines only', async (t) => {
    if (pyenv?.aws === undefined) return unavailable(t, 'no AWS CLI v1 beside the pyenv python3');
    const r = await awsCli([pyenv.python, pyenv.aws], env(containerVars), sts);
    assert.match(r.debug, containerFetched);
    check(r.arn);
  });
  test('v2.9 (Debian): IMDS line only', async (t) => {
    if (!debianAws) return unavailable(t, `${DEBIAN_AWS} (awscli 2.9) is not installed (CI installs it)`);
    const r = await awsCli([DEBIAN_PYTHON, DEBIAN_AWS], env(imdsVars), sts);
    assert.match(r.debug, imdsFetched);
    check(r.arn);
  });
  test('v2.9 (Debian): container lines + AWS_CONTAINER_AUTHORIZATION_TOKEN', async (t) => {
    if (!debianAws) return unavailable(t, `${DEBIAN_AWS} (awscli 2.9) is not installed (CI installs it)`);
    const r = await awsCli([DEBIAN_PYTHON, DEBIAN_AWS], env(legacyContainerVars), sts);
    assert.match(r.debug, containerFetched);
    check(r.arn);
  });
});
