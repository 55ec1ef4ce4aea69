/**
 * Fuzzing the identity readers (src/identity through its index.ts) with random bytes and
 * with truncated, bit-flipped and re-lined versions of real inputs written by the OpenSSL
 * CLI: PEM and DER certificates, PKCS#8/PKCS#1/SEC1 keys, encrypted PKCS#8, PKCS#12.
 *
 * Every call either succeeds or throws a SidecarError with a catalogued code and a one-line
 * message that holds neither key material nor the password. An identity built from damaged
 * input is still coherent: its signer's signatures verify with its certificate's key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ErrorCodes, SidecarError } from '../../src/core/errors.js';
import type { Identity } from '../../src/core/identity.js';
import { issueCertificate } from '../../src/emulator/pki.js';
import type { KeyObject } from 'node:crypto';
import { signBytes, verifyBytes } from '../../src/identity/key-signer.js';
import { buildIdentityWithKey } from '../../src/identity/load.js';
import { configureFuzzSeed } from '../helpers/fuzz-seed.js';

configureFuzzSeed();
import { MAX_PEM_BLOCKS, buildIdentity, parseCertificates, parsePemBlocks, parsePkcs12, parsePrivateKey } from '../../src/identity/index.js';

const PASSWORD = 'Fz-9c2e-Pa55w0rd';
const NOW = Date.parse('2026-06-01T00:00:00Z');
const FC = { includeErrorInReport: true } as const;

interface Inputs {
  dir: string;
  certPem: Buffer;
  certDer: Buffer;
  chainPem: Buffer;
  rsaCertPem: Buffer;
  keyPem: Buffer;
  keyDer: Buffer;
  sec1Pem: Buffer;
  rsaKeyPem: Buffer;
  pkcs1Pem: Buffer;
  encPem: Buffer;
  combinedPem: Buffer;
  p12: Buffer;
  p12NoPassword: Buffer;
  /** 16-character windows of every private key's encodings: none may appear in a message. */
  keyWindows: Set<string>;
}

let inp: Inputs;

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function windowsOf(s: string, into: Set<string>): void {
  for (let i = 0; i + 16 <= s.length; i += 4) into.add(s.slice(i, i + 16));
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-identity-'));
  const base = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') };
  const root = await issueCertificate({ ...base, subject: 'CN=Fuzz Identity Root', keySpec: 'ec-p256', isCa: true });
  const inter = await issueCertificate({ ...base, subject: 'CN=Fuzz Identity Intermediate', keySpec: 'ec-p256', isCa: true, pathLength: 0 }, root);
  const ec = await issueCertificate({ ...base, subject: 'CN=fuzz-ec-leaf', keySpec: 'ec-p256' }, inter);
  const rsa = await issueCertificate({ ...base, subject: 'CN=fuzz-rsa-leaf', keySpec: 'rsa-2048' }, root);
  const f = (name: string): string => join(dir, name);
  writeFileSync(f('ec.crt'), ec.certPem);
  writeFileSync(f('ec.key'), ec.keyPem);
  writeFileSync(f('rsa.key'), rsa.keyPem);
  writeFileSync(f('chain.pem'), inter.certPem + root.certPem);
  openssl(['x509', '-in', f('ec.crt'), '-outform', 'DER', '-out', f('ec.der')]);
  openssl(['pkey', '-in', f('ec.key'), '-outform', 'DER', '-out', f('ec.key.der')]);
  openssl(['ec', '-in', f('ec.key'), '-out', f('ec.sec1.pem')]);
  openssl(['rsa', '-in', f('rsa.key'), '-traditional', '-out', f('rsa.pkcs1.pem')]);
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', `pass:${PASSWORD}`, '-in', f('ec.key'), '-out', f('ec.enc.pem')]);
  openssl(['pkcs12', '-export', '-in', f('ec.crt'), '-inkey', f('ec.key'), '-certfile', f('chain.pem'), '-out', f('ec.p12'), '-passout', `pass:${PASSWORD}`]);
  openssl(['pkcs12', '-export', '-in', f('ec.crt'), '-inkey', f('ec.key'), '-out', f('ec.nopass.p12'), '-passout', 'pass:']);
  const keyWindows = new Set<string>();
  for (const k of [ec.key, rsa.key]) {
    const der = k.export({ format: 'der', type: 'pkcs8' });
    windowsOf(der.toString('base64'), keyWindows);
    windowsOf(der.toString('hex'), keyWindows);
  }
  for (const name of ['ec.key', 'ec.sec1.pem', 'rsa.pkcs1.pem', 'ec.enc.pem']) {
    windowsOf(readFileSync(f(name), 'latin1').replace(/-----[^-]+-----|\s/g, ''), keyWindows);
  }
  inp = {
    dir,
    certPem: Buffer.from(ec.certPem),
    certDer: readFileSync(f('ec.der')),
    chainPem: readFileSync(f('chain.pem')),
    rsaCertPem: Buffer.from(rsa.certPem),
    keyPem: Buffer.from(ec.keyPem),
    keyDer: readFileSync(f('ec.key.der')),
    sec1Pem: readFileSync(f('ec.sec1.pem')),
    rsaKeyPem: Buffer.from(rsa.keyPem),
    pkcs1Pem: readFileSync(f('rsa.pkcs1.pem')),
    encPem: readFileSync(f('ec.enc.pem')),
    combinedPem: Buffer.from(ec.certPem + inter.certPem + ec.keyPem),
    p12: readFileSync(f('ec.p12')),
    p12NoPassword: readFileSync(f('ec.nopass.p12')),
    keyWindows,
  };
});

after(() => {
  if (inp !== undefined) rmSync(inp.dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- oracle

/** Runs a reader: success, or a catalogued SidecarError whose message leaks nothing. */
function check<T>(fn: () => T, password?: string): T | undefined {
  try {
    return fn();
  } catch (e) {
    assert.ok(e instanceof SidecarError, `threw a non-SidecarError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.ok(e.code in ErrorCodes, e.code);
    assert.doesNotMatch(e.message, /[\r\n\u2028\u2029]/, `multi-line message: ${JSON.stringify(e.message)}`);
    assert.ok(e.message.length <= 1000, `message of ${e.message.length} characters`);
    const text = `${e.message} ${JSON.stringify(e.details)}`;
    for (const w of inp.keyWindows) assert.ok(!text.includes(w), `key material in the message: ${e.message}`);
    if (password !== undefined && password.length >= 4) assert.ok(!text.includes(password), `the password in the message: ${e.message}`);
    return undefined;
  }
}

/** A built identity must be coherent: its signatures verify with its certificate's key. */
function assertCoherent({ identity: id, key }: { identity: Identity; key: KeyObject }): void {
  const probe = Buffer.from('fuzz probe: signed by the identity key');
  const sig = signBytes(id.signer.kind, key, probe);
  assert.ok(verifyBytes(id.signer.kind, id.certificate.publicKey, probe, sig), 'the identity signs with a key that does not match its certificate');
  assert.match(id.serialDecimal, /^-?\d+$/);
}

/**
 * Builds an identity from possibly damaged input: it must either fail with a typed error or
 * be coherent (its signer's signatures verify with its certificate). A key whose private
 * part is damaged passes Node's checkPrivateKey, so buildIdentity proves the pair with a
 * signature and refuses it (KEY_CERT_MISMATCH).
 */
function tryBuild(input: Parameters<typeof buildIdentity>[0]): void {
  const id = check(() => buildIdentityWithKey(input), input.password);
  if (id !== undefined) assertCoherent(id);
}

// ---------------------------------------------------------------- mutations

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; flips: Array<[number, number]> }
  | { kind: 'flip-body'; flips: Array<[number, number]> }
  | { kind: 'drop-line'; at: number }
  | { kind: 'dup-line'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'crlf' }
  | { kind: 'indent' };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('flip' as const),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('flip-body' as const),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
    }),
  },
  fc.record({ kind: fc.constant('drop-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dup-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.constant({ kind: 'crlf' as const }),
  fc.constant({ kind: 'indent' as const }),
);

/** For DER, `flip-body` flips inside the content; for PEM, inside the decoded DER (re-encoded as PEM). */
function mutate(data: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(data);
  const isPemText = b.includes('-----BEGIN ');
  switch (m.kind) {
    case 'truncate':
      return b.subarray(0, m.at % Math.max(1, b.length));
    case 'flip':
      for (const [at, x] of m.flips) b[at % b.length] = b[at % b.length]! ^ x;
      return b;
    case 'flip-body': {
      if (!isPemText) {
        for (const [at, x] of m.flips) {
          const i = Math.min(b.length - 1, 4 + (at % Math.max(1, b.length - 4)));
          b[i] = b[i]! ^ x;
        }
        return b;
      }
      // Damage the DER inside the first block but keep the PEM itself well-formed.
      const text = b.toString('latin1');
      const match = /(-----BEGIN ([A-Z0-9 ]+)-----\r?\n)([A-Za-z0-9+/=\r\n]+?)(\r?\n-----END \2-----)/.exec(text);
      if (match === null) return b;
      const der = Buffer.from(match[3]!.replace(/\s/g, ''), 'base64');
      for (const [at, x] of m.flips) der[at % der.length] = der[at % der.length]! ^ x;
      const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
      return Buffer.from(text.replace(match[0], `${match[1]}${body}${match[4]}`), 'latin1');
    }
    case 'drop-line':
    case 'dup-line': {
      const lines = b.toString('latin1').split('\n');
      const i = m.at % lines.length;
      if (m.kind === 'drop-line') lines.splice(i, 1);
      else lines.splice(i, 0, lines[i]!);
      return Buffer.from(lines.join('\n'), 'latin1');
    }
    case 'insert': {
      const i = m.at % (b.length + 1);
      return Buffer.concat([b.subarray(0, i), Buffer.from(m.bytes), b.subarray(i)]);
    }
    case 'crlf':
      return Buffer.from(b.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    case 'indent':
      return Buffer.from(b.toString('latin1').replace(/\n(?=.)/g, '\n  '), 'latin1');
  }
}

/** Random bytes, random text, and random DER wrapped in PEM armour of the types the readers look for. */
const randomInputArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 600 }).map((s) => Buffer.from(s)),
  fc
    .tuple(
      fc.constantFrom('CERTIFICATE', 'PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'PKCS12', 'X'),
      fc.uint8Array({ minLength: 1, maxLength: 1200 }),
      fc.boolean(),
    )
    .map(([type, der, seq]) => {
      const body = Buffer.from(seq ? [0x30, 0x82, der.length >> 8, der.length & 0xff, ...der] : der);
      return Buffer.from(`-----BEGIN ${type}-----\n${body.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${type}-----\n`);
    }),
  fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from([0x30, 0x82, a.length >> 8, a.length & 0xff, 0x02, 0x01, 0x03, 0x30, ...a])),
  fc.integer({ min: MAX_PEM_BLOCKS - 2, max: MAX_PEM_BLOCKS + 3 }).map((n) => Buffer.from('-----BEGIN X-----\nAAAA\n-----END X-----\n'.repeat(n))),
);

const passwordArb: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  fc.constant(PASSWORD),
  fc.string({ minLength: 1, maxLength: 40 }).map((s) => `Zq9${s}`),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 1000, max: 5000 }).map((n) => 'p'.repeat(n)),
);

// ---------------------------------------------------------------- tests

describe('identity readers under damaged input', () => {
  test('intact inputs load (positive control)', () => {
    const label = 'intact';
    assert.equal(parseCertificates(inp.certPem, label).length, 1);
    assert.equal(parseCertificates(inp.certDer, label).length, 1);
    for (const k of [inp.keyPem, inp.keyDer, inp.sec1Pem, inp.pkcs1Pem]) assert.equal(parsePrivateKey(k, label).type, 'private');
    assert.equal(parsePrivateKey(inp.encPem, label, PASSWORD).type, 'private');
    assert.equal(parsePkcs12(inp.p12, 'x.p12', PASSWORD).chain.length, 1);
    assert.ok(parsePkcs12(inp.p12NoPassword, 'x.p12').leaf instanceof X509Certificate);
    const built = [
      buildIdentityWithKey({ certData: inp.certPem, certLabel: 'cert', keyData: inp.keyPem, keyLabel: 'key', intermediatesData: inp.chainPem, nowMs: NOW }),
      buildIdentityWithKey({ certData: inp.combinedPem, certLabel: 'combined', nowMs: NOW }),
      buildIdentityWithKey({ certData: inp.certDer, certLabel: 'cert.der', keyData: inp.encPem, keyLabel: 'key', password: PASSWORD, nowMs: NOW }),
      buildIdentityWithKey({ certData: inp.p12, certLabel: 'bundle.p12', password: PASSWORD, nowMs: NOW }),
      buildIdentityWithKey({ certData: inp.rsaCertPem, certLabel: 'rsa', keyData: inp.pkcs1Pem, keyLabel: 'rsa key', nowMs: NOW }),
    ];
    for (const id of built) assertCoherent(id);
  });

  test('random bytes: every reader succeeds or throws a catalogued SidecarError', () => {
    fc.assert(
      fc.property(randomInputArb, passwordArb, (data, password) => {
        check(() => parsePemBlocks(data, { maxBlocks: MAX_PEM_BLOCKS, label: 'random' }));
        check(() => parsePemBlocks(data.toString('utf8'), { maxBlocks: MAX_PEM_BLOCKS, label: 'random' }));
        check(() => parseCertificates(data, 'random'));
        check(() => parsePrivateKey(data, 'random', password), password);
        check(() => parsePkcs12(data, 'random.p12', password), password);
        tryBuild({ certData: data, certLabel: 'random', keyData: inp.keyPem, keyLabel: 'key', nowMs: NOW });
        tryBuild({ certData: inp.certPem, certLabel: 'cert', keyData: data, keyLabel: 'random key', password, nowMs: NOW });
        tryBuild({ certData: data, certLabel: 'random.p12', password, nowMs: NOW });
      }),
      { ...FC, numRuns: 300 },
    );
  });

  test('damaged certificates and keys (PEM and DER, plain and encrypted)', () => {
    const pick = fc.constantFrom<keyof Inputs>(
      'certPem',
      'certDer',
      'chainPem',
      'keyPem',
      'keyDer',
      'sec1Pem',
      'pkcs1Pem',
      'rsaKeyPem',
      'encPem',
      'combinedPem',
    );
    fc.assert(
      fc.property(
        pick,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        fc.constantFrom<string | undefined>(PASSWORD, undefined, 'Zq9-wrong-password'),
        (which, mutations, password) => {
          let data = inp[which] as Buffer;
          for (const m of mutations) data = mutate(data, m);
          check(() => parseCertificates(data, 'damaged'));
          check(() => parsePrivateKey(data, 'damaged', password), password);
          if (which === 'certPem' || which === 'certDer' || which === 'combinedPem') {
            tryBuild({ certData: data, certLabel: 'damaged cert', keyData: inp.keyPem, keyLabel: 'key', nowMs: NOW });
            tryBuild({ certData: data, certLabel: 'damaged cert', nowMs: NOW, password });
          } else if (which === 'chainPem') {
            tryBuild({
              certData: inp.certPem,
              certLabel: 'cert',
              keyData: inp.keyPem,
              keyLabel: 'key',
              intermediatesData: data,
              intermediatesLabel: 'damaged chain',
              nowMs: NOW,
            });
          } else {
            const cert = which === 'pkcs1Pem' || which === 'rsaKeyPem' ? inp.rsaCertPem : inp.certPem;
            tryBuild({ certData: cert, certLabel: 'cert', keyData: data, keyLabel: 'damaged key', password, nowMs: NOW });
          }
        },
      ),
      { ...FC, numRuns: 800 },
    );
  });

  test('damaged PKCS#12 bundles and random passwords', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(mutationArb, { maxLength: 2 }), passwordArb, (withPassword, mutations, password) => {
        let data = withPassword ? inp.p12 : inp.p12NoPassword;
        for (const m of mutations) data = mutate(data, m);
        const r = check(() => parsePkcs12(data, 'damaged.p12', password), password);
        if (r !== undefined) {
          // Only an intact bundle with the right password (or none needed) opens.
          assert.ok(!withPassword || password === PASSWORD, 'a bundle opened with the wrong password');
          assert.ok(r.leaf.checkPrivateKey(r.key));
        }
        tryBuild({ certData: data, certLabel: 'damaged.p12', password, nowMs: NOW });
      }),
      { ...FC, numRuns: 150 },
    );
  });

  test('random passwords on an encrypted key: only the right one opens it, none is echoed', () => {
    fc.assert(
      fc.property(passwordArb, (password) => {
        const key = check(() => parsePrivateKey(inp.encPem, 'enc.pem', password), password);
        if (key !== undefined) assert.equal(password, PASSWORD);
        else if (password === PASSWORD) assert.fail('the right password was refused');
      }),
      { ...FC, numRuns: 60 },
    );
  });

  test('a key with a damaged private part is refused, not turned into an identity that cannot sign', () => {
    const block = /-----BEGIN EC PRIVATE KEY-----([^-]+)-----END EC PRIVATE KEY-----/.exec(inp.sec1Pem.toString('latin1'));
    assert.ok(block !== null);
    const der = Buffer.from(block[1]!.replace(/\s/g, ''), 'base64');
    // ECPrivateKey ::= SEQUENCE { INTEGER 1, OCTET STRING (32-byte scalar) ... }: 30 77 02 01 01 04 20 <d>
    assert.deepEqual([...der.subarray(2, 7)], [0x02, 0x01, 0x01, 0x04, 0x20]);
    der[7] = der[7]! ^ 0x01;
    assert.throws(
      () => buildIdentity({ certData: inp.certPem, certLabel: 'cert', keyData: der, keyLabel: 'damaged key', nowMs: NOW }),
      (e: unknown) => e instanceof SidecarError,
    );
  });

  after(() => {});
});
