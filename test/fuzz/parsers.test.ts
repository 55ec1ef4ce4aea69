/**
 * Property-based fuzzing of the parsers that take outside input: CreateSession responses
 * and error answers, argv and environment, SigV4 Authorization headers, ARNs, and the
 * emulator's CreateSession verifier. Each either returns a well-formed value or fails with
 * its typed error; none throws anything else, and no error message carries a secret.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { SidecarError, type ErrorCode } from '../../src/core/errors.js';
import { parseCreateSessionResponse, serviceError } from '../../src/session/response.js';
import { parseArn, parseProfileArn, parseRoleArn, parseTrustAnchorArn, type Arn } from '../../src/session/arn.js';
import { parseArgs } from '../../src/config/parse.js';
import { COMMANDS, FLAGS, envName, type CommandName } from '../../src/config/flags.js';
import { authorizationHeader, canonicalHeaderValue, parseAuthorization } from '../../src/signing/canonical.js';
import { prepareCreateSession, withSignature, type CreateSessionParams } from '../../src/signing/create-session.js';
import { describeKey, signBytes } from '../../src/identity/key-signer.js';
import { issueCertificate, type IssuedCertificate } from '../../src/emulator/pki.js';
import { DEFAULT_PROFILE_ARN, DEFAULT_ROLE_ARN, DEFAULT_TRUST_ANCHOR_ARN, defaultEmulatorConfig, type EmulatorConfig } from '../../src/emulator/config.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();
import { verifyCreateSession, type ReceivedRequest } from '../../src/emulator/verifier.js';

/** Runs `fn`; a throw must be a SidecarError with one of `codes` and a one-line, bounded message. */
function returnsOrFailsWith<T>(fn: () => T, codes: readonly ErrorCode[], maxMessage = 2000): { ok: true; value: T } | { ok: false; error: SidecarError } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    assert.ok(e instanceof SidecarError, `threw a non-SidecarError: ${String(e)}`);
    assert.ok(codes.includes(e.code), `unexpected code ${e.code}: ${e.message}`);
    assert.doesNotMatch(e.message, /[\r\n\u2028\u2029]/, 'the message is one line');
    assert.ok(e.message.length <= maxMessage, `message of ${e.message.length} characters`);
    return { ok: false, error: e };
  }
}

const TOKENISH = /^[\x21-\x7e]+$/;
/** fast-check options for every property: the failing assertion is shown with the counterexample. */
const FC = { includeErrorInReport: true } as const;
const SERVICE_CODES: readonly ErrorCode[] = [
  'SERVICE_ACCESS_DENIED',
  'SERVICE_VALIDATION',
  'SERVICE_NOT_FOUND',
  'SERVICE_THROTTLED',
  'SERVICE_UNAVAILABLE',
  'SERVICE_ERROR',
];

// ---------------------------------------------------------------- CreateSession responses

interface Secrets {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

const secretsArb: fc.Arbitrary<Secrets> = fc.record({
  accessKeyId: fc.stringMatching(/^ASIA[A-Z0-9]{16}$/),
  secretAccessKey: fc.stringMatching(/^[A-Za-z0-9/+]{40}$/),
  sessionToken: fc.stringMatching(/^[A-Za-z0-9/+=]{60,300}$/),
});

function validDoc(s: Secrets): Record<string, unknown> {
  return {
    credentialSet: [
      {
        assumedRoleUser: { arn: 'arn:aws:sts::123456789012:assumed-role/test-role/0a1b2c3d', assumedRoleId: 'AROAEXAMPLE:0a1b2c3d' },
        credentials: { accessKeyId: s.accessKeyId, expiration: '2026-11-22T15:04:05Z', secretAccessKey: s.secretAccessKey, sessionToken: s.sessionToken },
        packedPolicySize: 0,
        roleArn: 'arn:aws:iam::123456789012:role/test-role',
        sourceIdentity: 'CN=workload',
      },
    ],
    subjectArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:subject/41cl0bae-6783-40d4-ab20-65dc5d922e45',
  };
}

const CRED = ['credentialSet', 0, 'credentials'] as const;
const PATHS: ReadonlyArray<ReadonlyArray<string | number>> = [
  ['credentialSet'],
  ['credentialSet', 0],
  [...CRED],
  [...CRED, 'accessKeyId'],
  [...CRED, 'secretAccessKey'],
  [...CRED, 'sessionToken'],
  [...CRED, 'expiration'],
  [...CRED, 'accessKeyId'],
  [...CRED, 'secretAccessKey'],
  [...CRED, 'sessionToken'],
  [...CRED, 'expiration'],
  ['credentialSet', 0, 'roleArn'],
  ['credentialSet', 0, 'assumedRoleUser'],
  ['credentialSet', 0, 'assumedRoleUser', 'arn'],
  ['subjectArn'],
];

const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, '', ' ', '\n', '\u0000', [], {}, [[]], { credentials: {} }),
  fc.constantFrom(
    '2026-11-22T15:04:05',
    '2026-13-45T99:99:99Z',
    'tomorrow',
    '1700000000',
    '2026-11-22T15:04:05.1234567890Z',
    '+275760-09-13T00:00:00Z',
    '2026-11-22 15:04:05Z',
  ),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => `AKIA ${s}\t`),
  fc.integer({ min: 100, max: 70_000 }).map((n) => 'x'.repeat(n)),
  fc.jsonValue({ maxDepth: 3 }),
);

type Mutation =
  | { kind: 'delete'; path: ReadonlyArray<string | number> }
  | { kind: 'set'; path: ReadonlyArray<string | number>; value: unknown }
  | { kind: 'wrap'; path: ReadonlyArray<string | number> }
  | { kind: 'stringify'; path: ReadonlyArray<string | number> }
  | { kind: 'duplicate-set' };

const pathArb = fc.constantFrom(...PATHS);
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), path: pathArb }),
  fc.record({ kind: fc.constant('set' as const), path: pathArb, value: junkValue }),
  fc.record({ kind: fc.constant('wrap' as const), path: pathArb }),
  fc.record({ kind: fc.constant('stringify' as const), path: pathArb }),
  fc.constant({ kind: 'duplicate-set' as const }),
);

function applyMutation(doc: unknown, m: Mutation): unknown {
  if (m.kind === 'duplicate-set') {
    const set = (doc as { credentialSet?: unknown }).credentialSet;
    if (Array.isArray(set)) set.push(structuredClone(set[0]));
    return doc;
  }
  if (m.path.length === 0) return doc;
  let parent: unknown = doc;
  for (const k of m.path.slice(0, -1)) {
    if (typeof parent !== 'object' || parent === null) return doc;
    parent = (parent as Record<string | number, unknown>)[k];
  }
  if (typeof parent !== 'object' || parent === null) return doc;
  const p = parent as Record<string | number, unknown>;
  const k = m.path[m.path.length - 1]!;
  if (!(k in p)) return doc;
  switch (m.kind) {
    case 'delete':
      if (Array.isArray(p)) p.splice(Number(k), 1);
      else delete p[k];
      break;
    case 'set':
      p[k] = structuredClone(m.value);
      break;
    case 'wrap':
      p[k] = [p[k]];
      break;
    case 'stringify':
      p[k] = JSON.stringify(p[k]);
      break;
  }
  return doc;
}

type TextMutation =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; s: string }
  | { kind: 'bom' }
  | { kind: 'pretty' }
  | { kind: 'replace'; at: number; c: string };

const textMutationArb: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), s: fc.string({ minLength: 1, maxLength: 4, unit: 'binary' }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), c: fc.constantFrom('"', '{', '}', ',', ':', '\\', ' ', 'x', '\u0000') }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'bom' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pretty' as const }) },
);

function serializeDoc(doc: unknown, t: TextMutation): string {
  const s = t.kind === 'pretty' ? JSON.stringify(doc, null, 2) : (JSON.stringify(doc) ?? 'undefined');
  switch (t.kind) {
    case 'truncate':
      return s.slice(0, t.at % (s.length + 1));
    case 'insert': {
      const i = t.at % (s.length + 1);
      return s.slice(0, i) + t.s + s.slice(i);
    }
    case 'replace': {
      const i = t.at % Math.max(1, s.length);
      return s.slice(0, i) + t.c + s.slice(i + 1);
    }
    case 'bom':
      return `\ufeff${s}`;
    default:
      return s;
  }
}

function assertNoSecrets(text: string, s: Secrets): void {
  assert.ok(!text.includes(s.secretAccessKey), 'the secret access key appears in an error');
  assert.ok(!text.includes(s.sessionToken), 'the session token appears in an error');
}

describe('parseCreateSessionResponse', () => {
  test('an intact response parses to exactly its credentials', () => {
    fc.assert(
      fc.property(secretsArb, fc.integer({ min: 200, max: 299 }), (s, status) => {
        const r = parseCreateSessionResponse(status, {}, JSON.stringify(validDoc(s)));
        assert.equal(r.credentials.accessKeyId, s.accessKeyId);
        assert.equal(r.credentials.secretAccessKey, s.secretAccessKey);
        assert.equal(r.credentials.sessionToken, s.sessionToken);
        assert.equal(r.credentials.expiration, Date.UTC(2026, 10, 22, 15, 4, 5));
      }),
      { ...FC, numRuns: 50 },
    );
  });

  /** Every string value in a parsed JSON document. */
  function jsonStrings(doc: unknown, out = new Set<string>()): Set<string> {
    if (typeof doc === 'string') out.add(doc);
    else if (Array.isArray(doc)) for (const x of doc) jsonStrings(x, out);
    else if (doc !== null && typeof doc === 'object') for (const x of Object.values(doc)) jsonStrings(x, out);
    return out;
  }

  test('mutated responses give complete credentials or RESPONSE_MALFORMED, never a secret in the error', () => {
    fc.assert(
      fc.property(
        secretsArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        textMutationArb,
        fc.integer({ min: 200, max: 299 }),
        (s, mutations, tm, status) => {
          let doc: unknown = validDoc(s);
          for (const m of mutations) doc = applyMutation(doc, m);
          const body = serializeDoc(doc, tm);
          const r = returnsOrFailsWith(() => parseCreateSessionResponse(status, {}, body, { host: 'ra.example' }), ['RESPONSE_MALFORMED']);
          if (!r.ok) {
            assertNoSecrets(r.error.message, s);
            assertNoSecrets(JSON.stringify(r.error.details), s);
            return;
          }
          const c = r.value.credentials;
          for (const v of [c.accessKeyId, c.secretAccessKey, c.sessionToken]) {
            assert.ok(v.length > 0 && TOKENISH.test(v), `credential field ${JSON.stringify(v.slice(0, 40))}`);
            // Values come from the response (strings in its JSON, after unescaping), never made up.
            assert.ok(jsonStrings(JSON.parse(body)).has(v), `credential field ${JSON.stringify(v.slice(0, 40))} is not in the body`);
          }
          assert.ok(Number.isFinite(c.expiration));
          if (c.roleArn !== undefined) assert.match(c.roleArn, TOKENISH);
        },
      ),
      { ...FC, numRuns: 600 },
    );
  });

  test('arbitrary JSON-ish bodies and statuses: credentials only from a 2xx, else a typed error', () => {
    const bodyArb = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ credentialSet: v })),
      fc.jsonValue().map((v) => JSON.stringify({ credentialSet: [{ credentials: v }] })),
      fc
        .dictionary(fc.constantFrom('accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration', 'x'), fc.oneof(fc.string(), fc.jsonValue()))
        .map((creds) => JSON.stringify({ credentialSet: [{ credentials: creds }] })),
    );
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 200, max: 299 }), fc.integer({ min: -1, max: 999 })), bodyArb, (status, body) => {
        const is2xx = status >= 200 && status <= 299;
        const r = returnsOrFailsWith(() => parseCreateSessionResponse(status, {}, body), is2xx ? ['RESPONSE_MALFORMED'] : SERVICE_CODES);
        if (r.ok) {
          assert.ok(is2xx);
          const c = r.value.credentials;
          for (const v of [c.accessKeyId, c.secretAccessKey, c.sessionToken]) assert.ok(v.length > 0 && TOKENISH.test(v));
          assert.ok(Number.isFinite(c.expiration));
        }
      }),
      { ...FC, numRuns: 600 },
    );
  });

  test('bodies over the size bound are refused without being parsed', () => {
    const huge = JSON.stringify({
      ...validDoc({ accessKeyId: 'ASIAAAAAAAAAAAAAAAAA', secretAccessKey: 's'.repeat(40), sessionToken: 't'.repeat(100) }),
      pad: 'p'.repeat(1024 * 1024),
    });
    const r = returnsOrFailsWith(() => parseCreateSessionResponse(201, {}, huge), ['RESPONSE_MALFORMED']);
    assert.equal(r.ok, false);
  });
});

// ---------------------------------------------------------------- service errors

const headerNameArb = fc.oneof(
  fc.constantFrom('x-amzn-errortype', 'X-Amzn-ErrorType', 'X-AMZN-ERRORTYPE', 'x-amzn-requestid', 'x-amz-request-id', 'content-type', 'retry-after'),
  fc.string({ maxLength: 20 }),
);
const headerValueArb = fc.oneof(
  fc.constantFrom(
    'AccessDeniedException',
    'ThrottlingException:http://internal.amazon.com/',
    'com.amazonaws.x#ValidationException',
    'ResourceNotFoundException',
    '#',
    ':',
    '',
  ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }),
  fc.constant(undefined),
);
const messageArb = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    'line1\nline2\r\nline3',
    'a\u2028b\u2029c',
    'tab\tand\u000bvt',
    'esc \u001b[31mred\u001b[0m',
    'x'.repeat(10_000),
    'Untrusted certificate. Insufficient certificate',
  ),
);
const errorBodyArb = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        __type: fc.oneof(fc.string({ maxLength: 120 }), headerValueArb),
        code: fc.oneof(fc.string(), fc.jsonValue()),
        Code: fc.string(),
        message: fc.oneof(messageArb, fc.jsonValue()),
        Message: messageArb,
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);

describe('serviceError', () => {
  test('any status, headers and body give a SidecarError with a one-line, bounded message', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1, max: 1000 }),
        fc.dictionary(headerNameArb, headerValueArb, { maxKeys: 5 }),
        errorBodyArb,
        fc.record(
          { host: fc.domain(), region: fc.stringMatching(/^[a-z]{2}-[a-z]{4,9}-\d$/), attempts: fc.integer({ min: 0, max: 10 }) },
          { requiredKeys: [] },
        ),
        (status, headers, body, context) => {
          const e = serviceError(status, headers, body, context);
          assert.ok(e instanceof SidecarError);
          assert.ok(SERVICE_CODES.includes(e.code), e.code);
          assert.doesNotMatch(e.message, /[\u0000-\u001f\u007f\u2028\u2029]/, 'one line with no C0 control characters');
          assert.ok(e.message.length <= 1500, `message of ${e.message.length} characters`);
        },
      ),
      { ...FC, numRuns: 500 },
    );
  });

  test('no C1 control characters (e.g. U+009B CSI, U+0085 NEL) from the service reach the message', () => {
    const e = serviceError(400, {}, JSON.stringify({ message: 'bad \u009b31m request\u0085next line' }));
    assert.doesNotMatch(e.message, /[\u0080-\u009f]/);
  });
});

// ---------------------------------------------------------------- argv and environment

const flagNames = FLAGS.map((f) => f.name);
const valueArb = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '1',
    '-1',
    '3600',
    'true',
    'false',
    'yes',
    'off',
    ' 5 ',
    '1.5',
    '0x10',
    '99999999999999999999999999',
    '-',
    '--',
    '-h',
    '/tmp/x.pem',
    'a=b',
  ),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('line1\nline2', 'tab\there', 'pass\u0000word'),
  fc.integer({ min: 60_000, max: 70_000 }).map((n) => '9'.repeat(n)),
);
const argArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...flagNames).map((n) => `--${n}`) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...flagNames), valueArb).map(([n, v]) => `--${n}=${v}`) },
  { weight: 3, arbitrary: valueArb },
  { weight: 1, arbitrary: fc.constantFrom('--', '-h', '--help', 'help', '---', '--=', '-', '--no-such-flag') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => `--${s}`) },
);
const envArb = fc.dictionary(fc.oneof(fc.constantFrom(...flagNames).map(envName), fc.string({ maxLength: 10 })), fc.oneof(valueArb, fc.constant(undefined)), {
  maxKeys: 4,
});

describe('parseArgs', () => {
  test('random argv and environment: a result with correctly typed values, or a SidecarError', () => {
    fc.assert(
      fc.property(fc.constantFrom<CommandName>(...COMMANDS), fc.array(argArb, { maxLength: 8 }), envArb, (command, argv, env) => {
        let parsed;
        try {
          parsed = parseArgs(command, argv, env);
        } catch (e) {
          assert.ok(e instanceof SidecarError, `threw a non-SidecarError: ${String(e)}`);
          assert.ok(['CONFIG_INVALID', 'NOT_SUPPORTED', 'INPUT_TOO_LARGE'].includes(e.code), e.code);
          return;
        }
        assert.equal(parsed.command, command);
        for (const [name, v] of parsed.values) {
          const spec = FLAGS.find((f) => f.name === name && f.commands.includes(command));
          assert.ok(spec !== undefined, `value for a flag ${command} does not take: ${name}`);
          assert.equal(typeof v, spec.type, name);
        }
      }),
      { ...FC, numRuns: 1500 },
    );
  });

  test('error messages are one line and bounded whatever the argv holds', () => {
    fc.assert(
      fc.property(fc.constantFrom<CommandName>(...COMMANDS), fc.array(argArb, { maxLength: 8 }), envArb, (command, argv, env) => {
        returnsOrFailsWith(() => parseArgs(command, argv, env), ['CONFIG_INVALID', 'NOT_SUPPORTED', 'INPUT_TOO_LARGE'], 1000);
      }),
      { ...FC, numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------- Authorization headers

const ALGS = ['AWS4-X509-RSA-SHA256', 'AWS4-X509-ECDSA-SHA256', 'AWS4-X509-MLDSA'] as const;
const authPartsArb = fc.record({
  algorithm: fc.constantFrom(...ALGS),
  serial: fc.bigInt({ min: 0n, max: 2n ** 160n }).map(String),
  date: fc.stringMatching(/^\d{8}$/),
  region: fc.stringMatching(/^[a-z]{2}-[a-z]{2,9}-\d$/),
  signed: fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { minLength: 1, maxLength: 6 }),
  signature: fc.stringMatching(/^([0-9a-f]{2}){8,64}$/),
});
const validAuth = (p: { algorithm: string; serial: string; date: string; region: string; signed: string[]; signature: string }): string =>
  authorizationHeader(p.algorithm as (typeof ALGS)[number], p.serial, `${p.date}/${p.region}/rolesanywhere/aws4_request`, p.signed, p.signature);

function assertWellFormed(a: NonNullable<ReturnType<typeof parseAuthorization>>): void {
  assert.match(a.algorithm, /^\S+$/);
  for (const part of [a.serial, a.region, a.service, a.terminator]) assert.match(part, /^[^/,\s]+$/);
  assert.match(a.date, /^\d{8}$/);
  assert.ok(a.signedHeaders.length > 0);
  for (const h of a.signedHeaders) assert.match(h, /^[a-z0-9-]*$/);
  assert.match(a.signatureHex, /^[0-9a-fA-F]+$/);
}

describe('parseAuthorization', () => {
  test('a header the signer writes parses back to its parts', () => {
    fc.assert(
      fc.property(authPartsArb, (p) => {
        const a = parseAuthorization(validAuth(p));
        assert.ok(a !== undefined);
        assert.deepEqual(
          { ...a, signedHeaders: [...a.signedHeaders] },
          {
            algorithm: p.algorithm,
            serial: p.serial,
            date: p.date,
            region: p.region,
            service: 'rolesanywhere',
            terminator: 'aws4_request',
            signedHeaders: [...p.signed].sort(),
            signatureHex: p.signature,
          },
        );
      }),
      { ...FC, numRuns: 300 },
    );
  });

  test('random and mutated headers give undefined or a well-formed result, never a throw', () => {
    const mutated = fc.tuple(authPartsArb, fc.nat(), fc.string({ maxLength: 3, unit: 'binary' }), fc.nat({ max: 4 })).map(([p, at, s, cut]) => {
      const h = validAuth(p);
      const i = at % (h.length + 1);
      return h.slice(0, i) + s + h.slice(i + cut);
    });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary', maxLength: 300 }),
          mutated,
          fc.integer({ min: 1, max: 100_000 }).map((n) => `A Credential=${'1'.repeat(n)}`),
        ),
        (h) => {
          const a = parseAuthorization(h);
          if (a !== undefined) assertWellFormed(a);
        },
      ),
      { ...FC, numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------- ARNs

const validArns = [
  DEFAULT_TRUST_ANCHOR_ARN,
  DEFAULT_PROFILE_ARN,
  DEFAULT_ROLE_ARN,
  'arn:aws-us-gov:rolesanywhere:us-gov-west-1:123456789012:trust-anchor/0b7a9c3e-5d1f-4e2a-9b6c-8d4e2f1a3c5b',
  'arn:aws-cn:iam::123456789012:role/path/to/name+=,.@-_',
];
const arnInputArb = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.tuple(fc.constantFrom(...validArns), fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 })).map(([a, at, s, cut]) => {
    const i = at % (a.length + 1);
    return a.slice(0, i) + s + a.slice(i + cut);
  }),
  fc.tuple(fc.constantFrom(...validArns), fc.array(fc.string({ maxLength: 12 }), { maxLength: 6 })).map(([a, extra]) => [...a.split(':'), ...extra].join(':')),
  fc.integer({ min: 2000, max: 5000 }).map((n) => `arn:aws:iam::123456789012:role/${'r'.repeat(n)}`),
);

function assertArnShape(arn: Arn, input: string): void {
  assert.equal(`arn:${arn.partition}:${arn.service}:${arn.region}:${arn.accountId}:${arn.resource}`, input);
  assert.match(arn.partition, /^aws(-[a-z]+)*$/);
  assert.match(arn.service, /^[a-z0-9-]{1,64}$/);
  assert.match(arn.accountId, /^(\d{12})?$/);
  assert.ok(arn.resource.length > 0);
}

describe('ARN parsing', () => {
  test('every parser returns an ARN that re-assembles to its input, or ARN_INVALID', () => {
    fc.assert(
      fc.property(arnInputArb, (input) => {
        const generic = returnsOrFailsWith(() => parseArn(input, '--x'), ['ARN_INVALID'], 400);
        if (generic.ok) assertArnShape(generic.value, input);
        const ta = returnsOrFailsWith(() => parseTrustAnchorArn(input), ['ARN_INVALID'], 400);
        if (ta.ok) {
          assertArnShape(ta.value, input);
          assert.equal(ta.value.service, 'rolesanywhere');
          assert.match(ta.value.resource, /^trust-anchor\/[A-Za-z0-9][A-Za-z0-9-]*$/);
        }
        const pr = returnsOrFailsWith(() => parseProfileArn(input), ['ARN_INVALID'], 400);
        if (pr.ok) assert.match(pr.value.resource, /^profile\/[A-Za-z0-9][A-Za-z0-9-]*$/);
        const role = returnsOrFailsWith(() => parseRoleArn(input), ['ARN_INVALID'], 400);
        if (role.ok) {
          assertArnShape(role.value, input);
          assert.equal(role.value.service, 'iam');
          assert.equal(role.value.region, '');
          assert.match(role.value.accountId, /^\d{12}$/);
        }
        // A typed parser never accepts what the generic one refuses.
        if (!generic.ok) assert.ok(!ta.ok && !pr.ok && !role.ok);
      }),
      { ...FC, numRuns: 1500 },
    );
  });
});

// ---------------------------------------------------------------- CreateSession verifier

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const HOST = 'rolesanywhere.us-east-1.amazonaws.com';

interface SignedFixture {
  config: EmulatorConfig;
  params: CreateSessionParams;
  ecLeaf: IssuedCertificate;
  rsaLeaf: IssuedCertificate;
  intermediate: IssuedCertificate;
  /** EC leaf directly under the root (no chain header). */
  direct: ReceivedRequest;
  /** RSA leaf under an intermediate (X-Amz-X509-Chain). */
  chained: ReceivedRequest;
}

let sf: SignedFixture;

/** Signs a CreateSession with `leaf`'s key, sending `leafDer` (possibly altered) and `chainDer`. */
function signedRequest(leaf: IssuedCertificate, leafDer: Buffer, chainDer: Buffer[], params: CreateSessionParams): ReceivedRequest {
  let serialDecimal = BigInt(`0x${leaf.cert.serialNumber}`).toString(10);
  try {
    serialDecimal = BigInt(`0x${new X509Certificate(leafDer).serialNumber}`).toString(10);
  } catch {
    // Unparseable, or a negative serial (Node shows it as "-..."): keep the original serial;
    // the verifier must refuse the request either way.
  }
  const { kind, algorithm } = describeKey(leaf.key);
  const p = prepareCreateSession({ certificateDer: leafDer, chainDer, serialDecimal, algorithm }, params, 'us-east-1', HOST, NOW);
  const s = withSignature(p, signBytes(kind, leaf.key, Buffer.from(p.stringToSign, 'utf8')));
  const q = s.pathAndQuery.indexOf('?');
  return {
    method: s.method,
    path: s.pathAndQuery.slice(0, q),
    rawQuery: s.pathAndQuery.slice(q + 1),
    headers: s.headers.map(([k, v]) => [k, v] as const),
    body: Buffer.from(s.body, 'utf8'),
  };
}

type Received = { -readonly [K in keyof ReceivedRequest]: ReceivedRequest[K] };

/** Replaces one character with a different one (never a space, so the canonical value changes too). */
function changeChar(s: string, at: number, pick: number): string {
  if (s.length === 0) return 'x';
  const i = at % s.length;
  const alphabet = 'AZaz09+/=-_.:,;%"\\';
  let c = alphabet[pick % alphabet.length]!;
  if (c === s[i]) c = c === 'A' ? 'B' : 'A';
  return s.slice(0, i) + c + s.slice(i + 1);
}

/** Decoded, sorted query pairs as the verifier sees them (or a marker when undecodable). */
function queryKey(raw: string): string {
  try {
    return JSON.stringify(
      raw
        .split('&')
        .filter((p) => p !== '')
        .map((p) => {
          const eq = p.indexOf('=');
          return [decodeURIComponent(eq < 0 ? p : p.slice(0, eq)), decodeURIComponent(eq < 0 ? '' : p.slice(eq + 1))];
        })
        .sort(),
    );
  } catch {
    return `undecodable:${raw}`;
  }
}

type SignedMutation =
  | { part: 'method'; value: string }
  | { part: 'path'; at: number; pick: number }
  | { part: 'query'; how: 'change' | 'add' | 'drop' | 'dup'; at: number; pick: number }
  | { part: 'header-value'; name: string; how: 'change' | 'append' | 'truncate'; at: number; pick: number }
  | { part: 'header-drop'; name: string }
  | { part: 'header-dup'; name: string }
  | { part: 'body'; how: 'flip' | 'append' | 'truncate' | 'replace'; at: number; pick: number };

const SIGNED_HEADERS = ['Content-Type', 'Host', 'X-Amz-Date', 'X-Amz-X509', 'X-Amz-X509-Chain', 'Authorization'];

const signedMutationArb: fc.Arbitrary<SignedMutation> = fc.oneof(
  fc.record({ part: fc.constant('method' as const), value: fc.constantFrom('GET', 'PUT', 'post', 'POST ', '') }),
  fc.record({ part: fc.constant('path' as const), at: fc.nat(), pick: fc.nat() }),
  fc.record({
    part: fc.constant('query' as const),
    how: fc.constantFrom('change' as const, 'add' as const, 'drop' as const, 'dup' as const),
    at: fc.nat(),
    pick: fc.nat(),
  }),
  {
    weight: 4,
    arbitrary: fc.record({
      part: fc.constant('header-value' as const),
      name: fc.constantFrom(...SIGNED_HEADERS),
      how: fc.constantFrom('change' as const, 'append' as const, 'truncate' as const),
      at: fc.nat(),
      pick: fc.nat(),
    }),
  },
  fc.record({ part: fc.constant('header-drop' as const), name: fc.constantFrom(...SIGNED_HEADERS) }),
  fc.record({ part: fc.constant('header-dup' as const), name: fc.constantFrom(...SIGNED_HEADERS) }),
  fc.record({
    part: fc.constant('body' as const),
    how: fc.constantFrom('flip' as const, 'append' as const, 'truncate' as const, 'replace' as const),
    at: fc.nat(),
    pick: fc.nat(),
  }),
);

/** True when two requests agree in every part the signature covers, as the verifier reads them. */
function sameSignedParts(a: ReceivedRequest, b: ReceivedRequest): boolean {
  const headers = (r: ReceivedRequest): string => JSON.stringify(r.headers.map(([k, v]) => [k.toLowerCase(), canonicalHeaderValue(v)]));
  return a.method === b.method && a.path === b.path && queryKey(a.rawQuery) === queryKey(b.rawQuery) && headers(a) === headers(b) && a.body.equals(b.body);
}

/** Applies a mutation to a signed part; undefined when it would leave the request unchanged. */
function mutateSigned(base: ReceivedRequest, m: SignedMutation): ReceivedRequest | undefined {
  const r: Received = { ...base, headers: base.headers.map(([k, v]) => [k, v] as const) };
  const has = (name: string): boolean => r.headers.some(([k]) => k.toLowerCase() === name.toLowerCase());
  switch (m.part) {
    case 'method':
      r.method = m.value;
      break;
    case 'path':
      r.path = changeChar(r.path, m.at, m.pick);
      break;
    case 'query': {
      const pairs = r.rawQuery.split('&');
      const i = m.at % pairs.length;
      if (m.how === 'change') pairs[i] = changeChar(pairs[i]!, m.pick, m.at);
      else if (m.how === 'add') pairs.push(`durationSeconds=${m.pick}`);
      else if (m.how === 'drop') pairs.splice(i, 1);
      else pairs.push(pairs[i]!);
      r.rawQuery = pairs.join('&');
      if (queryKey(r.rawQuery) === queryKey(base.rawQuery)) return undefined;
      break;
    }
    case 'header-value': {
      if (!has(m.name)) return undefined;
      r.headers = r.headers.map(([k, v]) => {
        if (k.toLowerCase() !== m.name.toLowerCase()) return [k, v] as const;
        const nv = m.how === 'change' ? changeChar(v, m.at, m.pick) : m.how === 'append' ? `${v}${'Az9/+'[m.pick % 5]!}` : v.slice(0, m.at % v.length);
        return [k, nv] as const;
      });
      const before = base.headers.find(([k]) => k.toLowerCase() === m.name.toLowerCase())![1];
      const after = r.headers.find(([k]) => k.toLowerCase() === m.name.toLowerCase())![1];
      if (canonicalHeaderValue(before) === canonicalHeaderValue(after)) return undefined;
      break;
    }
    case 'header-drop':
      if (!has(m.name)) return undefined;
      r.headers = r.headers.filter(([k]) => k.toLowerCase() !== m.name.toLowerCase());
      break;
    case 'header-dup': {
      const h = r.headers.find(([k]) => k.toLowerCase() === m.name.toLowerCase());
      if (h === undefined) return undefined;
      r.headers = [...r.headers, h];
      break;
    }
    case 'body': {
      const b = Buffer.from(r.body);
      if (m.how === 'flip') {
        if (b.length === 0) return undefined;
        const i = m.at % b.length;
        b[i] = b[i]! ^ (1 << (m.pick % 8));
        r.body = b;
      } else if (m.how === 'append') r.body = Buffer.concat([b, Buffer.from(' ')]);
      else if (m.how === 'truncate') r.body = b.subarray(0, m.at % Math.max(1, b.length));
      else r.body = Buffer.from(JSON.stringify({ durationSeconds: 900 + (m.pick % 2700) }));
      if (r.body.equals(base.body)) return undefined;
      break;
    }
  }
  return r;
}

/** Changes that leave every signed byte as the verifier reads it: still accepted. */
type NeutralMutation =
  { kind: 'reorder'; seed: number } | { kind: 'case'; seed: number } | { kind: 'unsigned'; name: string; value: string } | { kind: 'query-order' };

const neutralArb: fc.Arbitrary<NeutralMutation> = fc.oneof(
  fc.record({ kind: fc.constant('reorder' as const), seed: fc.nat() }),
  fc.record({ kind: fc.constant('case' as const), seed: fc.nat() }),
  fc.record({
    kind: fc.constant('unsigned' as const),
    name: fc.constantFrom('User-Agent', 'X-Amzn-Trace-Id', 'X-Extra', 'Accept'),
    value: fc.string({ maxLength: 40 }),
  }),
  fc.constant({ kind: 'query-order' as const }),
);

function applyNeutral(base: ReceivedRequest, m: NeutralMutation): ReceivedRequest {
  const headers = base.headers.map(([k, v]) => [k, v] as const);
  switch (m.kind) {
    case 'reorder': {
      const i = m.seed % headers.length;
      return { ...base, headers: [...headers.slice(i), ...headers.slice(0, i)] };
    }
    case 'case':
      return { ...base, headers: headers.map(([k, v], i) => [(m.seed >> i) & 1 ? k.toUpperCase() : k.toLowerCase(), v] as const) };
    case 'unsigned':
      return { ...base, headers: [...headers, [m.name, m.value] as const] };
    case 'query-order':
      return { ...base, rawQuery: base.rawQuery.split('&').reverse().join('&') };
  }
}

const randomRequestArb: fc.Arbitrary<ReceivedRequest> = fc.record({
  method: fc.constantFrom('POST', 'GET', '', 'post'),
  path: fc.oneof(fc.constant('/sessions'), fc.string()),
  rawQuery: fc.oneof(
    fc.string(),
    fc.constant(
      `profileArn=${encodeURIComponent(DEFAULT_PROFILE_ARN)}&roleArn=${encodeURIComponent(DEFAULT_ROLE_ARN)}&trustAnchorArn=${encodeURIComponent(DEFAULT_TRUST_ANCHOR_ARN)}`,
    ),
  ),
  headers: fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom('Authorization', 'X-Amz-Date', 'X-Amz-X509', 'X-Amz-X509-Chain', 'Host', 'Content-Type'), fc.string({ maxLength: 12 })),
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.base64String({ maxLength: 400 }),
        fc.constantFrom(
          '20260115T120000Z',
          'AWS4-X509-ECDSA-SHA256 Credential=1/20260115/us-east-1/rolesanywhere/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-x509, Signature=00',
        ),
      ),
    ),
    { maxLength: 8 },
  ),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  ),
});

describe('verifyCreateSession', () => {
  before(async () => {
    const base = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') };
    const root = await issueCertificate({ ...base, subject: 'CN=Fuzz Root', keySpec: 'ec-p256', isCa: true });
    const intermediate = await issueCertificate({ ...base, subject: 'CN=Fuzz Intermediate', keySpec: 'ec-p256', isCa: true, pathLength: 0 }, root);
    const ecLeaf = await issueCertificate({ ...base, subject: 'CN=fuzz-ec', keySpec: 'ec-p256' }, root);
    const rsaLeaf = await issueCertificate({ ...base, subject: 'CN=fuzz-rsa', keySpec: 'rsa-2048' }, intermediate);
    const params: CreateSessionParams = {
      profileArn: DEFAULT_PROFILE_ARN,
      roleArn: DEFAULT_ROLE_ARN,
      trustAnchorArn: DEFAULT_TRUST_ANCHOR_ARN,
      durationSeconds: 3600,
    };
    sf = {
      config: defaultEmulatorConfig({ roots: [root.cert] }),
      params,
      ecLeaf,
      rsaLeaf,
      intermediate,
      direct: signedRequest(ecLeaf, ecLeaf.cert.raw, [], params),
      chained: signedRequest(rsaLeaf, rsaLeaf.cert.raw, [intermediate.cert.raw], { ...params, roleSessionName: 'fuzz-session' }),
    };
  });

  test('the unmutated signed requests are accepted, and so are changes to unsigned parts', () => {
    assert.equal(verifyCreateSession(sf.direct, sf.config, NOW).ok, true);
    assert.equal(verifyCreateSession(sf.chained, sf.config, NOW).ok, true);
    fc.assert(
      fc.property(fc.boolean(), neutralArb, (chained, m) => {
        const r = verifyCreateSession(applyNeutral(chained ? sf.chained : sf.direct, m), sf.config, NOW);
        assert.equal(r.ok, true, r.ok ? '' : r.message);
      }),
      { ...FC, numRuns: 100 },
    );
  });

  test('any change to a signed part is rejected with 400, 403 or 404, never thrown', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(signedMutationArb, { minLength: 1, maxLength: 3 }), (chained, mutations) => {
        const original: ReceivedRequest = chained ? sf.chained : sf.direct;
        let req = original;
        for (const m of mutations) req = mutateSigned(req, m) ?? req;
        // Compared with the original, not step by step: an add then a drop of the same
        // query pair gives back the signed request, which must be accepted.
        fc.pre(!sameSignedParts(original, req));
        const r = verifyCreateSession(req, sf.config, NOW);
        assert.equal(r.ok, false, `accepted a request with ${JSON.stringify(mutations)}`);
        if (!r.ok) {
          assert.ok([400, 403, 404].includes(r.status));
          assert.doesNotMatch(r.message, /[\r\n]/);
        }
      }),
      { ...FC, numRuns: 600 },
    );
  });

  test('random requests are rejected, never thrown', () => {
    fc.assert(
      fc.property(randomRequestArb, fc.integer({ min: 0, max: 2 ** 42 }), (req, now) => {
        const r = verifyCreateSession(req, sf.config, now);
        assert.equal(r.ok, false);
        if (!r.ok) assert.ok([400, 403, 404].includes(r.status));
      }),
      { ...FC, numRuns: 500 },
    );
  });

  test('a request whose certificate has a negative serial number is rejected, never thrown', () => {
    const der = Buffer.from(sf.ecLeaf.cert.raw);
    // TBSCertificate: [0] { INTEGER 2 } then the serial INTEGER; setting its top bit makes it negative.
    const version = der.indexOf(Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02, 0x02]));
    assert.ok(version > 0);
    der[version + 7] = der[version + 7]! | 0x80;
    assert.match(new X509Certificate(der).serialNumber, /^-/);
    const r = verifyCreateSession(signedRequest(sf.ecLeaf, der, [], sf.params), sf.config, NOW);
    assert.equal(r.ok, false);
  });

  test('a correctly signed request carrying a corrupted certificate is rejected, never thrown', () => {
    // Deterministic case: the leaf's keyUsage value re-tagged from BIT STRING to UTF8String.
    const der = Buffer.from(sf.ecLeaf.cert.raw);
    const ku = der.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0f]));
    assert.ok(ku > 0, 'the test leaf has a keyUsage extension');
    let at = ku + 5;
    if (der[at] === 0x01) at += 3;
    der[at + 2] = 0x0c;
    const r = verifyCreateSession(signedRequest(sf.ecLeaf, der, [], sf.params), sf.config, NOW);
    assert.equal(r.ok, false);

    // Corrupted bytes anywhere, or just after an extension's OID, in the leaf or the chain.
    const extensionOffsets = (d: Buffer): number[] => {
      const out: number[] = [];
      for (let i = d.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x1d])); i >= 0; i = d.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x1d]), i + 1)) out.push(i + 5);
      return out;
    };
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        (chained, inChain, flips) => {
          const target = Buffer.from(chained && inChain ? sf.intermediate.cert.raw : chained ? sf.rsaLeaf.cert.raw : sf.ecLeaf.cert.raw);
          const near = extensionOffsets(target);
          for (const [nearExtension, pos, xor] of flips) {
            const i = nearExtension && near.length > 0 ? near[pos % near.length]! + (pos % 8) : pos % target.length;
            if (i < target.length) target[i] = target[i]! ^ xor;
          }
          const req = chained
            ? inChain
              ? signedRequest(sf.rsaLeaf, sf.rsaLeaf.cert.raw, [target], sf.params)
              : signedRequest(sf.rsaLeaf, target, [sf.intermediate.cert.raw], sf.params)
            : signedRequest(sf.ecLeaf, target, [], sf.params);
          const v = verifyCreateSession(req, sf.config, NOW);
          if (!v.ok) assert.ok([400, 403, 404].includes(v.status));
        },
      ),
      { ...FC, numRuns: 300 },
    );
  });
});
