/**
 * Property-based fuzzing of the role-chaining inputs: the emulator's AssumeRole parameters
 * and its --assumable-role specs. Each returns a decision (or a typed CONFIG_INVALID) with a
 * one-line, bounded message; nothing else is thrown.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SidecarError } from '../../src/core/errors.js';
import { decideAssumeRole, parseStsRoleSpecs, policyProblem, type StsSettings } from '../../src/emulator/assume-role.js';
import { DEFAULT_ROLE_ARN } from '../../src/emulator/config.js';
import { parseTags } from '../../src/chain/options.js';
import { stringify } from 'yaml';
import { CONFIG_KEYS, MAX_ROLES, parseRolesConfig, ROLE_NAME } from '../../src/config/roles-file.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();

const TARGET = 'arn:aws:iam::210987654321:role/target';
const settings: StsSettings = { roles: [{ arn: TARGET, trustedPrincipals: [DEFAULT_ROLE_ARN], externalId: 'ext-id-1' }] };
const caller = {
  roleArn: DEFAULT_ROLE_ARN,
  assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/rolesanywhere-demo/s',
  accountId: '123456789012',
  sourceIdentity: 'CN=w',
};

const NAMES = [
  'RoleArn',
  'RoleSessionName',
  'DurationSeconds',
  'ExternalId',
  'Policy',
  'SourceIdentity',
  'PolicyArns.member.1.arn',
  'Tags.member.1.Key',
  'Tags.member.1.Value',
  'Tags.member.2.Key',
  'TransitiveTagKeys.member.1',
  'SerialNumber',
];

describe('emulator AssumeRole under fuzzed parameters', () => {
  test('every request gets a grant or an STS error with a bounded one-line message', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(...NAMES),
          fc.oneof(
            fc.string({ maxLength: 80 }),
            fc.constantFrom(TARGET, 'job-1', '900', '3600', 'ext-id-1', '{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'),
          ),
        ),
        (params) => {
          const d = decideAssumeRole(new Map(Object.entries(params)), caller, settings, { signingRegion: 'us-east-1', partition: 'aws' });
          if (d.ok) {
            assert.equal(params.RoleArn, TARGET);
            assert.equal(params.ExternalId, 'ext-id-1');
            assert.ok(d.grant.durationSeconds >= 900 && d.grant.durationSeconds <= 3600);
          } else {
            assert.ok([400, 403, 503].includes(d.status));
            assert.match(d.code, /^(ValidationError|InvalidParameterValue|MalformedPolicyDocument|AccessDenied|PackedPolicyTooLarge)$/);
            assert.doesNotMatch(d.message, /[\r\n]/);
            assert.ok(d.message.length < 4000);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  test('policyProblem never throws on any JSON-ish text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 })), (text) => {
        const p = policyProblem(text);
        assert.ok(p === undefined || (typeof p === 'string' && p.length < 300));
      }),
      { numRuns: 400 },
    );
  });

  test('--assumable-role specs parse or fail with CONFIG_INVALID', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(TARGET, ';trust=', ';external-id=x', ';max-duration=', '|', ',', 'arn:')), {
          maxLength: 12,
        }),
        (parts) => {
          try {
            const roles = parseStsRoleSpecs(parts.join(''), DEFAULT_ROLE_ARN);
            assert.ok(roles.length >= 1);
          } catch (e) {
            assert.ok(e instanceof SidecarError && e.code === 'CONFIG_INVALID', String(e));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the --tags parser', () => {
  test('returns valid, unique tags or fails with CONFIG_INVALID', () => {
    const piece = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('=', ',', 'aws:', ' ', 'k=v', 'Team=a', 'team=b', 'ü=ö', '\u0000'));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (parts) => {
        const text = parts.join('');
        try {
          const tags = parseTags(text);
          const keys = new Set(tags.map((t) => t.key.toLowerCase()));
          assert.equal(keys.size, tags.length);
          for (const t of tags) {
            assert.ok(t.key.length >= 1 && t.key.length <= 128 && t.value.length <= 256);
            assert.ok(!t.key.toLowerCase().startsWith('aws:'));
          }
        } catch (e) {
          assert.ok(e instanceof SidecarError && e.code === 'CONFIG_INVALID', String(e));
          assert.doesNotMatch(e.message, /[\r\n]/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('the --config parser', () => {
  const assertTyped = (e: unknown) => {
    assert.ok(e instanceof SidecarError && e.code === 'CONFIG_INVALID', String(e));
    assert.doesNotMatch(e.message, /[\r\n]/);
    assert.ok(e.message.length <= 400);
  };
  test('arbitrary text parses or fails with a one-line CONFIG_INVALID', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('roles:', '\n', '  ', 'reader:', '{}', '- ', '&a ', '*a', '!!binary ', 'defaultRole: x', ': ', '"', "'", '#'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
        try {
          const cfg = parseRolesConfig(parts.join(''));
          assert.ok(cfg.roles.length >= 1 && cfg.roles.length <= MAX_ROLES);
        } catch (e) {
          assertTyped(e);
        }
      }),
      { numRuns: 500 },
    );
  });
  test('structured documents: valid roles come back with known flags only', () => {
    const keys = Object.keys(CONFIG_KEYS);
    const value = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.integer({ min: -5, max: 70000 }),
      fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
      fc.constant(null),
    );
    const role = fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 10 })), value, { maxKeys: 5 });
    const doc = fc.record(
      { roles: fc.dictionary(fc.oneof(fc.constantFrom('reader', 'base', 'a.b-c'), fc.string({ maxLength: 10 })), role, { maxKeys: 4 }) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, fc.dictionary(fc.constantFrom(...keys, 'defaultRole', 'bogus'), value, { maxKeys: 4 }), (d, top) => {
        try {
          const cfg = parseRolesConfig(stringify({ ...top, ...d }));
          const flags = new Set(Object.values(CONFIG_KEYS).map((k) => k.flag));
          for (const r of cfg.roles) {
            assert.match(r.name, ROLE_NAME);
            for (const f of r.values.keys()) assert.ok(flags.has(f), f);
          }
          assert.ok(cfg.roles.some((r) => r.name === cfg.defaultRole));
        } catch (e) {
          assertTyped(e);
        }
      }),
      { numRuns: 500 },
    );
  });
  test('aliases are refused (no expansion bombs)', () => {
    assert.throws(() => parseRolesConfig('a: &x [1,2]\nb: *x\nroles: {r: {}}'), /not valid YAML/);
  });
});
