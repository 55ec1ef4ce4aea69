/** Assertions on a finished CLI run (runCli), shared by the tests that drive hardware keys. */
import assert from 'node:assert/strict';
import type { CliResult } from './harness.js';

/** A credential-process run that succeeded: exit 0 and a complete Version 1 document on stdout. */
export function assertCredentialProcessOutput(r: Pick<CliResult, 'code' | 'stdout' | 'stderr'>, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  const c = JSON.parse(r.stdout) as { Version: number; AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
  assert.equal(c.Version, 1);
  assert.match(c.AccessKeyId, /^ASIA/);
  assert.ok(c.SecretAccessKey.length > 20 && c.SessionToken.length > 20);
}

/** A failed run: non-zero exit, nothing on stdout, one stderr line matching `re`, no stack trace, none of `secrets`. */
export function assertOneLineError(r: Pick<CliResult, 'code' | 'stdout' | 'stderr'>, re: RegExp, what: string, secrets: readonly string[]): void {
  assert.notEqual(r.code, 0, what);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line, got ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  assert.match(r.stderr, re, what);
  for (const s of secrets) assert.ok(!r.stderr.includes(s), `${what}: a secret is not printed`);
}
